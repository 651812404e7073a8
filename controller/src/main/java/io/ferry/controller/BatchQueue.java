package io.ferry.controller;

import io.vertx.core.Future;
import io.vertx.core.Promise;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Volumes waiting for the next batch of one kind of commit (placements, deletion orders, releases,
 * first-creation records), in arrival order. Commits go through the serial lane, one etcd round trip
 * each; under a burst that round trip was the controller's limit, so every volume that arrives while
 * a commit is in flight is decided and committed together in the next one. Confined to the
 * controller's context, like the lane.
 */
final class BatchQueue {

    private final SerialLane lane;
    private final int limit;
    private final Function<List<String>, Future<Void>> batchOf;
    private final Map<String, Promise<Void>> waiting = new LinkedHashMap<>();

    /**
     * @param limit   the most volumes one batch takes: what fits in one transaction
     * @param batchOf decides and commits a batch; its outcome is each of its volumes' outcome
     */
    BatchQueue(SerialLane lane, int limit, Function<List<String>, Future<Void>> batchOf) {
        this.lane = lane;
        this.limit = limit;
        this.batchOf = batchOf;
    }

    /** Queues the volume (once, however often it is asked) and completes when its batch has run. */
    Future<Void> add(String volume) {
        Promise<Void> queued = waiting.get(volume);
        if (queued != null) {
            return queued.future();
        }
        Promise<Void> promise = Promise.promise();
        waiting.put(volume, promise);
        lane.submit(this::drain);
        return promise.future();
    }

    /**
     * Takes up to {@code limit} volumes off the queue and runs them as one batch, completing each
     * volume's promise with the batch's outcome. An empty queue means an earlier lane task already
     * took this volume along.
     */
    private Future<Void> drain() {
        if (waiting.isEmpty()) {
            return Future.succeededFuture();
        }
        Map<String, Promise<Void>> batch = new LinkedHashMap<>();
        var it = waiting.entrySet().iterator();
        while (it.hasNext() && batch.size() < limit) {
            var next = it.next();
            batch.put(next.getKey(), next.getValue());
            it.remove();
        }
        return batchOf.apply(List.copyOf(batch.keySet())).transform(ar -> {
            batch.values().forEach(p -> {
                if (ar.succeeded()) {
                    p.tryComplete();
                } else {
                    p.tryFail(ar.cause());
                }
            });
            return Future.succeededFuture();
        });
    }
}
