package io.ferry.agent.spdk;

/** The SPDK target answered a JSON-RPC call with an error, or could not be reached. */
public final class SpdkException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /** JSON-RPC code SPDK returns when a named bdev does not exist (-ENODEV). */
    public static final int NO_SUCH_DEVICE = -19;

    private final int code;

    public SpdkException(String method, int code, String message) {
        super("SPDK " + method + " failed (" + code + "): " + message);
        this.code = code;
    }

    public SpdkException(String message, Throwable cause) {
        super(message, cause);
        this.code = 0;
    }

    public int code() {
        return code;
    }

    /** True when SPDK said the object does not exist, which a delete treats as done. */
    public boolean notFound() {
        return code == NO_SUCH_DEVICE || String.valueOf(getMessage()).contains("No such device");
    }
}
