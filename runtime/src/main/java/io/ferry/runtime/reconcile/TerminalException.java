package io.ferry.runtime.reconcile;

/**
 * A failure that retrying cannot fix (an invalid spec, no capacity anywhere). The runtime records it
 * and does not retry the key until something enqueues it again because its inputs changed.
 */
public class TerminalException extends RuntimeException {
    public TerminalException(String message) {
        super(message);
    }

    public TerminalException(String message, Throwable cause) {
        super(message, cause);
    }
}
