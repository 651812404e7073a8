package io.ferry.etcd;

import io.ferry.etcd.store.Store;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.HostSecret;
import io.vertx.core.Future;

/**
 * The one way to publish a host's DH-HMAC-CHAP pair at {@code secrets/hosts/<node>}: written by the
 * host itself (its agent, or {@code ferryctl attach} on a host without one), from the pair it keeps
 * in its state file, and only when etcd does not already hold that very pair. The host's file is
 * the truth: it is what the host connects with.
 */
public final class HostSecrets {

    private HostSecrets() {
    }

    /** Writes {@code secret} unless the key holds the same pair; true when it wrote. */
    public static Future<Boolean> publish(Store store, HostSecret secret) {
        String key = store.keys().hostSecret(secret.node());
        return store.get(key, HostSecret.class)
                .map(found -> found.map(Versioned::value).filter(secret::samePair).isPresent())
                // A value that does not decode is replaced by the host's own pair.
                .recover(err -> Future.succeededFuture(false))
                .compose(same -> same ? Future.succeededFuture(false) : store.put(key, secret).map(rev -> true));
    }
}
