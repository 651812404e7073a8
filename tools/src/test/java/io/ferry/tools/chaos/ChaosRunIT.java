package io.ferry.tools.chaos;

import java.io.Writer;
import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The short chaos run of CI: two minutes of workload under SIGKILLs of every kind of component, on a
 * cluster of separate processes, and every invariant checked afterwards. A violation here is a bug in
 * Ferry (or in this run's idea of an invariant), never slowness: every step has five minutes.
 */
class ChaosRunIT {

    @Test
    void twoMinutesOfKillsLeaveNoViolationAndNothingBehind() throws Exception {
        StringWriter text = new StringWriter();
        PrintWriter out = new PrintWriter(new TeeWriter(text), true);
        ChaosRun.Result result = ChaosRun.run(new ChaosRun.Options(Duration.ofMinutes(2), 2, 18L, null, false,
                Duration.ofMinutes(5)), out);

        assertThat(result.violations()).as(text.toString()).isEmpty();
        assertThat(result.operations()).as("every kind of step completed at least once")
                .containsKeys("create", "attach", "write", "grow", "snapshot", "clone", "verify", "detach", "delete",
                        "delete-snapshot");
        assertThat(result.faults()).as("every kind of fault injected at least once")
                .containsKeys("controller", "agent", "csi", "etcd-member", "etcd-quorum");
        assertThat(result.recoverySeconds()).isFinite();
        assertThat(result.convergedSeconds()).isFinite();
        assertThat(text.toString()).contains("violations: 0");
    }

    /** Prints as it goes (a two-minute test is watched) and keeps the text for the failure message. */
    private static final class TeeWriter extends Writer {
        private final StringWriter copy;

        TeeWriter(StringWriter copy) {
            this.copy = copy;
        }

        @Override
        public void write(char[] buf, int off, int len) {
            copy.write(buf, off, len);
            System.out.print(new String(buf, off, len));
        }

        @Override
        public void flush() {
            System.out.flush();
        }

        @Override
        public void close() {
        }
    }
}
