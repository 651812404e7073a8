package io.ferry.agent;

import io.ferry.etcd.ClusterIdentities;
import io.ferry.etcd.store.Store;
import io.ferry.model.ClusterIdentity;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.function.BooleanSupplier;

/**
 * The cluster's identity, waited for while it does not exist (a new cluster whose first
 * controller has not started yet). A malformed value fails the wait: guessing or replacing it
 * would disown every volume marked with the real one.
 */
final class ClusterIdentityWait {

    private static final Logger log = LoggerFactory.getLogger(ClusterIdentityWait.class);
    private static final long RETRY_MILLIS = 1000;

    private final Vertx vertx;
    private final Store store;
    private final BooleanSupplier stopping;

    ClusterIdentityWait(Vertx vertx, Store store, BooleanSupplier stopping) {
        this.vertx = vertx;
        this.store = store;
        this.stopping = stopping;
    }

    Future<ClusterIdentity> await() {
        Promise<ClusterIdentity> found = Promise.promise();
        attempt(found, true);
        return found.future();
    }

    private void attempt(Promise<ClusterIdentity> found, boolean first) {
        if (stopping.getAsBoolean()) {
            found.tryFail("the agent is stopping");
            return;
        }
        ClusterIdentities.read(store).onComplete(ar -> {
            if (ar.succeeded() && ar.result().isPresent()) {
                found.tryComplete(ar.result().get());
            } else if (ar.failed() && ar.cause() instanceof ClusterIdentities.Unusable) {
                found.tryFail(ar.cause());
            } else {
                if (first) {
                    log.warn("waiting for {} ({}): it is created by the first controller or by ferry up; until it"
                            + " exists this agent creates, adopts and deletes nothing", store.keys().clusterIdentity(),
                            ar.failed() ? ar.cause().getMessage() : "absent");
                }
                vertx.setTimer(RETRY_MILLIS, t -> attempt(found, false));
            }
        });
    }
}
