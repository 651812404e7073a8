package io.ferry.runtime.informer;

import io.ferry.etcd.store.Store;
import io.ferry.etcd.store.StoreWatch;
import io.ferry.etcd.store.WatchListener;
import io.vertx.core.Future;

/**
 * What an informer follows: every key under a prefix, or exactly one key. The difference is only
 * how etcd is asked (a range or the key alone, which is all a role granted one key may ask for);
 * listing, watching and their repairs are the same.
 */
record InformerScope(String path, boolean exactKey) {

    static InformerScope prefix(String prefix) {
        return new InformerScope(prefix, false);
    }

    static InformerScope key(String key) {
        return new InformerScope(key, true);
    }

    Future<Store.RawListing> list(Store store) {
        return exactKey ? store.listKeyRaw(path) : store.listRaw(path);
    }

    StoreWatch watch(Store store, long fromRevision, WatchListener listener) {
        return exactKey ? store.watchKey(path, fromRevision, listener) : store.watch(path, fromRevision, listener);
    }
}
