package io.ferry.controller;

import io.ferry.etcd.ClusterIdentities;
import io.ferry.etcd.KeyLayoutMigration;
import io.ferry.etcd.store.Store;
import io.ferry.model.ClusterIdentity;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * What the controller writes before it reads the cluster: the cluster id, then the moves of the
 * key layout migration. Each is retried for as long as etcd cannot answer (no quorum, every member
 * restarting): a controller started during an outage waits for it like every other component,
 * rather than exiting and staying down where nothing restarts it.
 */
final class StartupWrites {

    private static final Logger log = LoggerFactory.getLogger(StartupWrites.class);

    private final Vertx vertx;
    private final Store store;
    private final Clock clock;
    private final BooleanSupplier stopping;

    StartupWrites(Vertx vertx, Store store, Clock clock, BooleanSupplier stopping) {
        this.vertx = vertx;
        this.store = store;
        this.clock = clock;
        this.stopping = stopping;
    }

    /**
     * The controller's first write, so that no agent of a new cluster waits for the id longer than
     * a controller takes to start. A stored identity that cannot be used fails the start: that needs
     * an operator, not patience.
     */
    Future<ClusterIdentity> clusterIdentity() {
        Promise<ClusterIdentity> found = Promise.promise();
        retry(found, 1, () -> ClusterIdentities.ensure(store, clock.instant()),
                ClusterIdentities.Unusable.class::isInstance,
                "etcd does not answer yet ({}); the controller waits for it (attempt {})");
        return found.future();
    }

    /**
     * Moves keys of the old layout before the cluster is read ({@link KeyLayoutMigration}): the
     * informers watch only the new places, so a controller that started on a half-migrated cluster
     * would take the unmoved work items for missing ones. Retried until it finishes, as a controller
     * of the old version may still be writing old keys.
     */
    Future<Void> keyLayout() {
        Promise<Void> done = Promise.promise();
        retry(done, 1, () -> KeyLayoutMigration.run(store, clock.instant()).<Void>mapEmpty(), err -> false,
                "key layout migration not finished ({}); the controller retries before it starts (attempt {})");
        return done.future();
    }

    /** @param waiting logged with the failure and the attempt at the first attempt and every 30th */
    private <T> void retry(Promise<T> done, int attempt, Supplier<Future<T>> write, Predicate<Throwable> fatal,
            String waiting) {
        if (stopping.getAsBoolean()) {
            done.tryFail("the controller is stopping");
            return;
        }
        write.get().onComplete(ar -> {
            if (ar.succeeded()) {
                done.tryComplete(ar.result());
                return;
            }
            if (fatal.test(ar.cause())) {
                done.tryFail(ar.cause());
                return;
            }
            if (attempt == 1 || attempt % 30 == 0) {
                log.warn(waiting, ar.cause().getMessage(), attempt);
            }
            vertx.setTimer(Math.min(1000L * attempt, 5000L), t -> retry(done, attempt + 1, write, fatal, waiting));
        });
    }
}
