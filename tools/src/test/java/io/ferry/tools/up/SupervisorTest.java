package io.ferry.tools.up;

import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

class SupervisorTest {

    @TempDir
    Path dir;

    @Test
    void theBackoffDoublesFromOneSecondToAtMostThirty() {
        assertThat(IntStream.range(0, 8).mapToObj(Supervisor::backoff).map(Duration::toSeconds))
                .containsExactly(1L, 2L, 4L, 8L, 16L, 30L, 30L, 30L);
        assertThat(Supervisor.backoff(1000)).isEqualTo(Duration.ofSeconds(30));
    }

    @Test
    void theReportedTailLeavesOutStackFramesAndKeepsTheMessage() throws Exception {
        Path log = dir.resolve("controller.log");
        Files.writeString(log, "starting\nException in thread \"main\" java.net.BindException: Address already in use\n"
                + "\tat sun.nio.ch.Net.bind0(Native Method)\n\tat sun.nio.ch.Net.bind(Net.java:555)\n\t... 12 more\n\n");
        assertThat(Supervisor.tail(log, 5)).containsExactly("starting",
                "Exception in thread \"main\" java.net.BindException: Address already in use");
        assertThat(Supervisor.tail(log, 1)).containsExactly("Exception in thread \"main\" java.net.BindException: Address already in use");
        assertThat(Supervisor.tail(dir.resolve("missing.log"), 5)).isEmpty();
    }

    @Test
    void anExitStatusAboveOneHundredTwentyEightNamesItsSignal() {
        assertThat(Supervisor.describe(137)).isEqualTo("137 (SIGKILL)");
        assertThat(Supervisor.describe(1)).isEqualTo("1");
    }

    @Test
    void noCsiTurnsTheCsiEndpointOffAndItIsOnByDefault() {
        UpCommand off = new UpCommand();
        new CommandLine(off).parseArgs("--no-csi");
        UpCommand on = new UpCommand();
        new CommandLine(on).parseArgs();
        assertThat(off.csi).isFalse();
        assertThat(on.csi).isTrue();
    }
}
