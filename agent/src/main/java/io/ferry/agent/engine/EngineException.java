package io.ferry.agent.engine;

import io.ferry.model.FailureReason;

/**
 * An engine could not do what was asked, with the failure it is: a terminal reason (source snapshot
 * in another pool, shrinking, an engine that cannot clone, an object of another cluster in the way)
 * holds until the work item or the pool changes; {@link FailureReason#RETRYING} is retried with backoff.
 */
public class EngineException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final FailureReason reason;

    public EngineException(String message, boolean permanent) {
        this(message, permanent ? FailureReason.ENGINE_REFUSED : FailureReason.RETRYING);
    }

    public EngineException(String message, FailureReason reason) {
        super(message);
        this.reason = reason;
    }

    public static EngineException permanent(String message) {
        return new EngineException(message, true);
    }

    public static EngineException transientFailure(String message) {
        return new EngineException(message, false);
    }

    /** A failure of a known kind, e.g. {@link FailureReason#SOURCE_LOST}. */
    public static EngineException of(FailureReason reason, String message) {
        return new EngineException(message, reason);
    }

    public boolean permanent() {
        return reason.terminal();
    }

    public FailureReason reason() {
        return reason;
    }
}
