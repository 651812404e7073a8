package io.ferry.agent;

import io.ferry.agent.engine.EngineException;
import io.ferry.agent.export.ExportUnavailableException;
import io.ferry.model.FailureReason;
import io.ferry.runtime.exec.CommandFailedException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileSystemException;
import java.util.Locale;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import io.ferry.agent.export.NvmeAuthException;

/**
 * Which failure an error of the agent's work on a volume or snapshot is; the one place for the rule.
 *
 * <p>Terminal reasons hold for the work item's generation: the status says so at once, and the
 * agent does not retry on a timer; an input changing (the work item, the pool config, the pool
 * becoming healthy, the storage found again) enqueues the work again. Everything else (etcd
 * unavailable, a busy volume group or lock, a command that timed out, an engine's passing
 * complaint) is {@link FailureReason#RETRYING}: retried with the runtime's bounded backoff, each
 * failed attempt counted in the status's {@code Ready} condition.
 */
final class FailureClassifier {

    /** strerror(ENOSPC), as the kernel's file systems and every coreutils tool print it. */
    private static final String ENOSPC = "no space left on device";
    /** What LVM prints when a volume group cannot hold an LV or its growth. */
    private static final String LVM_NO_SPACE = "insufficient free space";

    private FailureClassifier() {
    }

    static FailureReason classify(Throwable err) {
        Throwable e = unwrap(err);
        if (e instanceof ExportUnavailableException) {
            return FailureReason.EXPORT_UNAVAILABLE;
        }
        if (e instanceof NvmeAuthException auth) {
            return auth.reason();
        }
        if (e instanceof EngineException ee) {
            return ee.reason();
        }
        if (e instanceof CommandFailedException cf) {
            if (cf.timedOut()) {
                return FailureReason.RETRYING;
            }
            if (cf.result() == null && cf.getCause() instanceof IOException) {
                // The program could not be started at all: a required tool is missing on this node.
                return FailureReason.ENGINE_UNAVAILABLE;
            }
            return saysNoSpace(cf.stderr()) ? FailureReason.NO_SPACE : FailureReason.RETRYING;
        }
        for (Throwable c = e; c != null; c = c.getCause()) {
            if (c instanceof FileSystemException fse && saysNoSpace(fse.getReason())
                    || (c instanceof IOException || c instanceof UncheckedIOException) && saysNoSpace(c.getMessage())) {
                return FailureReason.NO_SPACE;
            }
            if (c.getCause() == c) {
                break;
            }
        }
        return FailureReason.RETRYING;
    }

    /** The error a future's wrappers carry. */
    static Throwable unwrap(Throwable err) {
        Throwable e = err;
        while ((e instanceof CompletionException || e instanceof ExecutionException) && e.getCause() != null) {
            e = e.getCause();
        }
        return e;
    }

    private static boolean saysNoSpace(String text) {
        if (text == null) {
            return false;
        }
        String t = text.toLowerCase(Locale.ROOT);
        return t.contains(ENOSPC) || t.contains(LVM_NO_SPACE);
    }
}
