package io.ferry.agent;

import io.ferry.agent.engine.EngineException;
import io.ferry.agent.export.ExportUnavailableException;
import io.ferry.model.FailureReason;
import io.ferry.runtime.exec.Command;
import io.ferry.runtime.exec.ProcessCommandRunner;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileSystemException;
import java.time.Duration;
import java.util.concurrent.CompletionException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

/** Which failures the agent writes as terminal for the generation, and which it retries with backoff. */
class FailureClassifierTest {

    private final ProcessCommandRunner runner = new ProcessCommandRunner();

    private Throwable failing(Command command) {
        return catchThrowable(() -> runner.run(command));
    }

    @Test
    void retryableFailuresAreACommandThatTimedOutABusyOrTransientEngineAndAnythingUnknown() {
        Throwable timedOut = failing(Command.of("sleep", "5").withTimeout(Duration.ofMillis(100)));
        assertThat(FailureClassifier.classify(timedOut)).isEqualTo(FailureReason.RETRYING);
        Throwable busy = failing(Command.of("sh", "-c", "echo '  Volume group \"vg0\" is busy' >&2; exit 5"));
        assertThat(FailureClassifier.classify(busy)).isEqualTo(FailureReason.RETRYING);
        assertThat(FailureClassifier.classify(EngineException.transientFailure("volume v is in use")))
                .isEqualTo(FailureReason.RETRYING);
        assertThat(FailureClassifier.classify(new IllegalStateException("etcd is unavailable")))
                .isEqualTo(FailureReason.RETRYING);
        assertThat(FailureReason.RETRYING.terminal()).isFalse();
    }

    @Test
    void terminalFailuresAreTypedWhereTheyAreKnownEvenBehindAFuturesWrapper() {
        assertThat(FailureClassifier.classify(new CompletionException(new ExportUnavailableException("no nvmet"))))
                .isEqualTo(FailureReason.EXPORT_UNAVAILABLE);
        assertThat(FailureClassifier.classify(EngineException.permanent("an LV of another cluster is in the way")))
                .isEqualTo(FailureReason.ENGINE_REFUSED);
        assertThat(FailureClassifier.classify(EngineException.of(FailureReason.SOURCE_LOST, "source gone")))
                .isEqualTo(FailureReason.SOURCE_LOST);
        // a required tool missing on the node
        Throwable missing = failing(Command.of("/nonexistent/ferry-no-such-tool", "--version"));
        assertThat(FailureClassifier.classify(missing)).isEqualTo(FailureReason.ENGINE_UNAVAILABLE);
        // out of space, as a tool or the file system says it
        Throwable full = failing(Command.of("sh", "-c", "echo 'fallocate: fallocate failed: No space left on device' >&2;"
                + " exit 1"));
        assertThat(FailureClassifier.classify(full)).isEqualTo(FailureReason.NO_SPACE);
        Throwable lvmFull = failing(Command.of("sh", "-c",
                "echo '  Volume group \"vg0\" has insufficient free space (3 extents): 256 required.' >&2; exit 5"));
        assertThat(FailureClassifier.classify(lvmFull)).isEqualTo(FailureReason.NO_SPACE);
        assertThat(FailureClassifier.classify(new UncheckedIOException("cannot copy",
                new FileSystemException("/pool/v.img", null, "No space left on device")))).isEqualTo(FailureReason.NO_SPACE);
        assertThat(FailureClassifier.classify(new UncheckedIOException(new IOException("Input/output error"))))
                .isEqualTo(FailureReason.RETRYING);
        for (FailureReason r : new FailureReason[] {FailureReason.EXPORT_UNAVAILABLE, FailureReason.ENGINE_REFUSED,
                FailureReason.SOURCE_LOST, FailureReason.ENGINE_UNAVAILABLE, FailureReason.NO_SPACE}) {
            assertThat(r.terminal()).as(r.value()).isTrue();
        }
    }
}
