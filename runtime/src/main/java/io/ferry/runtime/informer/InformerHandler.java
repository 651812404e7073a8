package io.ferry.runtime.informer;

import io.ferry.etcd.store.RawEntry;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.ValidationException;

/**
 * What an informer tells its owner. Every method runs on the informer's Vert.x context, one call at
 * a time and in etcd revision order for any one key; handlers must be quick (typically: enqueue the
 * key into a reconcile runtime). An exception thrown by a handler is logged and does not stop the
 * informer. Delivery is at least once: after a watch is re-established the same state may be seen
 * again, so handlers must be idempotent.
 */
public interface InformerHandler<T> {

    /** A key was created or changed. {@code previous} is the last good value seen, or null. */
    void onUpsert(Versioned<T> current, Versioned<T> previous);

    /** A key was deleted. {@code lastKnown} is the last good value seen, or null if it never decoded. */
    void onDelete(String key, Versioned<T> lastKnown);

    /**
     * A value failed to decode or validate. The informer keeps the last good value of that key (if
     * any) in its cache and carries on with the other keys.
     */
    default void onBadValue(RawEntry raw, ValidationException error) {
    }

    /** A full listing was applied (at start, after compaction, and at every resync). */
    default void onSynced(long revision) {
    }
}
