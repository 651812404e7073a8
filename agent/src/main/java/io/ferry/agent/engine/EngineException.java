package io.ferry.agent.engine;

/**
 * An engine could not do what was asked for a reason retrying will not fix until the work item or
 * the pool changes (source snapshot in another pool, shrinking, an engine that cannot clone).
 */
public class EngineException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final boolean permanent;

    public EngineException(String message, boolean permanent) {
        super(message);
        this.permanent = permanent;
    }

    public static EngineException permanent(String message) {
        return new EngineException(message, true);
    }

    public static EngineException transientFailure(String message) {
        return new EngineException(message, false);
    }

    public boolean permanent() {
        return permanent;
    }
}
