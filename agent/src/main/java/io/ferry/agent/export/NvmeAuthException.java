package io.ferry.agent.export;

import io.ferry.model.FailureReason;

/**
 * An export that authentication holds back: the consumer's pair has not reached this node yet
 * ({@link FailureReason#NVME_AUTH_PENDING}), or the target cannot authenticate at all
 * ({@link FailureReason#NVME_AUTH_UNSUPPORTED}). Nothing was exported to the host either way.
 */
public final class NvmeAuthException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final FailureReason reason;

    public NvmeAuthException(FailureReason reason, String message) {
        super(message);
        this.reason = reason;
    }

    public FailureReason reason() {
        return reason;
    }
}
