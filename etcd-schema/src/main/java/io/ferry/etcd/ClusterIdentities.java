package io.ferry.etcd;

import io.ferry.etcd.store.BadValueException;
import io.ferry.etcd.store.Store;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.ClusterIdentity;
import io.vertx.core.Future;

import java.time.Instant;
import java.util.Optional;

/**
 * The one way to create and read {@code <prefix>/config/cluster}. The key is created by a
 * put-if-absent and then read back, so every racing creator ends up with the one value that won;
 * nothing here ever overwrites or regenerates it. A malformed value is never replaced either: it
 * fails with {@link Unusable}, because a new id would disown every volume the old one marked.
 */
public final class ClusterIdentities {

    private ClusterIdentities() {
    }

    /** The stored value could not be used; the message names the key and says what to do. */
    public static final class Unusable extends RuntimeException {
        private final String key;

        Unusable(String key, BadValueException cause) {
            super(key + " holds a value that is not a cluster identity (" + cause.getCause().getMessage()
                    + "); Ferry never replaces it, because every ownership marker on this cluster's storage carries"
                    + " the id: restore the original value (from a backup, or from the ferry.cluster tag of an LV"
                    + " or the user.ferry.cluster attribute of a volume file) with etcdctl put", cause);
            this.key = key;
        }

        public String key() {
            return key;
        }
    }

    /** Creates the identity if the key is absent, and returns whatever is stored afterwards. */
    public static Future<ClusterIdentity> ensure(Store store, Instant now) {
        String key = store.keys().clusterIdentity();
        return store.putIfAbsent(key, ClusterIdentity.generate(now))
                .compose(created -> read(store))
                .map(found -> found.orElseThrow(() -> new IllegalStateException(key
                        + " vanished right after it was created; was it deleted by hand?")));
    }

    /** The stored identity, or empty when the key does not exist (yet). */
    public static Future<Optional<ClusterIdentity>> read(Store store) {
        String key = store.keys().clusterIdentity();
        return store.get(key, ClusterIdentity.class)
                .map(found -> found.map(Versioned::value))
                .recover(err -> Future.failedFuture(err instanceof BadValueException bad ? new Unusable(key, bad) : err));
    }
}
