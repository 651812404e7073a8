package io.ferry.tools.cli;

import io.ferry.model.FailureReason;

/** Exit codes scripts can rely on. */
public final class ExitCodes {
    public static final int OK = 0;
    /** Anything not covered below. */
    public static final int FAILED = 1;
    /** Wrong options or arguments (picocli's own code). */
    public static final int USAGE = 2;
    public static final int NOT_FOUND = 3;
    /** The object exists already with other settings, or is in use. */
    public static final int CONFLICT = 4;
    /** Waited for an outcome (--wait) and it did not come in time. */
    public static final int TIMEOUT = 5;
    public static final int ETCD_UNAVAILABLE = 6;
    /** The cluster answered but refused: no pool fits, invalid intent. */
    public static final int REFUSED = 7;

    private ExitCodes() {
    }

    /** The exit code of a request Ferry knows has failed: one mapping from failure category to code. */
    public static int of(FailureReason.Category category) {
        return switch (category) {
            case INVALID, NO_CAPACITY -> REFUSED;
            case PRECONDITION, INTERNAL -> FAILED;
        };
    }
}
