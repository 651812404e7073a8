package io.ferry.agent.export;

/**
 * A volume must be exported and this node cannot export at all (no kernel nvmet, no SPDK target).
 * Retrying does not help until the node changes, so the work item's generation fails for good.
 */
public final class ExportUnavailableException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    public ExportUnavailableException(String message) {
        super(message);
    }
}
