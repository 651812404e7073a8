package io.ferry.controller;

import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.Leadership;
import io.ferry.etcd.store.Store;
import io.ferry.model.Ledger;
import io.ferry.model.Placement;
import io.vertx.core.Future;

import java.time.Clock;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * What every decision of the leader (each step of a volume's reconcile, a snapshot's, the ledger
 * audit) is made with and written through, shared read-only: the store (already holding commits
 * during a rewind), the cluster state the decisions read, the leadership every write is guarded by,
 * metrics and the clock.
 */
record DecisionContext(Store store, ClusterState state, ControllerMetrics metrics, Supplier<Optional<Leadership>> leadership,
                     Clock clock) {

    /** Compare-and-swap races a step loses in a row before it gives the volume back to the runtime's backoff. */
    static final int MAX_COMMIT_ATTEMPTS = 5;
    /** etcd's default limit (--max-txn-ops) on the writes, and separately on the guards, of one transaction. */
    static final int MAX_TXN_OPS = 128;

    FerryKeys keys() {
        return store.keys();
    }

    /** Reloads what a lost compare-and-swap may have been about, straight from etcd. */
    Future<Void> refresh(String volume, String pool) {
        return store.get(keys().ledger(pool), Ledger.class).compose(ledger -> {
            ledger.ifPresent(l -> state.wroteLedger(l.value(), l.modRevision()));
            return store.get(keys().placement(volume), Placement.class);
        }).map(placement -> {
            placement.ifPresent(p -> state.wrotePlacement(p.value(), p.modRevision()));
            return null;
        });
    }
}
