package io.ferry.controller;

import io.ferry.etcd.store.Store;
import io.ferry.etcd.store.Leadership;
import io.ferry.etcd.store.Versioned;
import io.vertx.core.Future;

/**
 * Writes the controller's own status records ({@code /ferry/controller/...}): guarded by leadership and
 * by the revision being replaced, and remembered so the next decision sees them before the watch does.
 * A lost guard is not an error: whoever won wrote something newer, and the key's change reruns us.
 */
final class StatusRecords {

    private final Store store;
    private final ClusterState state;

    StatusRecords(Store store, ClusterState state) {
        this.store = store;
        this.state = state;
    }

    Future<Void> replace(Leadership leader, String key, Versioned<?> current, Object next) {
        return store.txn().requireLeadership(leader)
                .requireModRevision(key, current == null ? 0 : current.modRevision())
                .put(key, next).commit().map(outcome -> {
                    if (outcome.succeeded()) {
                        state.wroteScheduling(key, next, outcome.revision());
                    }
                    return null;
                });
    }
}
