package io.ferry.model;

/** Schema versioning of the values stored in etcd. */
public final class Schema {
    /**
     * The newest {@code schemaVersion} this build reads and the one it writes. A value without
     * {@code schemaVersion} is version 1; a value with a larger version was written by a newer
     * Ferry and is rejected rather than half-understood.
     */
    public static final int CURRENT_VERSION = 1;

    private Schema() {
    }

    /** Validates a schema version as stored in a record; returns it. */
    public static int check(int version) {
        if (version < 1) {
            throw new ValidationException("schemaVersion",
                    "schemaVersion: " + version + " is not valid (versions start at 1; omit the field to mean 1)");
        }
        if (version > CURRENT_VERSION) {
            throw new ValidationException("schemaVersion",
                    "schemaVersion: " + version + " was written by a newer Ferry; this build understands up to "
                            + CURRENT_VERSION + ", upgrade it before it can read this value");
        }
        return version;
    }

    /** Absent means version 1: values written before versioning, or typed by hand without it. */
    static int orDefault(Integer version) {
        return version == null ? 1 : version;
    }
}
