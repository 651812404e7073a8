package io.ferry.etcd.store;

import java.util.Objects;

/**
 * A decoded value together with the etcd revisions it was read at. The mod revision is what
 * compare-and-swap writes guard on; a value that was never stored has revision 0.
 */
public record Versioned<T>(String key, T value, long createRevision, long modRevision, long version, long leaseId) {
    public Versioned {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(value, "value");
    }
}
