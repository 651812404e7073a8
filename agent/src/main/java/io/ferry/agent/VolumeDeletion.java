package io.ferry.agent;

import io.ferry.agent.engine.VolumeEngine;
import io.ferry.runtime.reconcile.ReconcileResult;
import io.ferry.model.Condition;
import io.ferry.model.FailureReason;
import io.ferry.model.PoolConfig;
import io.ferry.model.ProgressReason;
import io.ferry.model.VolumePhase;
import io.ferry.model.VolumeStatus;
import io.ferry.model.WorkItem;
import io.vertx.core.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Deletion orders of this node's volumes: carried out once (unexport, remove, acknowledge with
 * {@code Deleted}), and never carried out again while the controller's removal of an order it
 * saw acknowledged is on its way.
 */
final class VolumeDeletion {

    private static final Logger log = LoggerFactory.getLogger(VolumeDeletion.class);
    /**
     * How long a deletion order whose acknowledgement the controller removed may still be seen
     * before it counts as standing (the acknowledgement removed by hand): the order's own removal,
     * in the same transaction, comes through another watch, normally within milliseconds.
     */
    static final Duration ACKNOWLEDGEMENT_TAKEN_RECHECK = Duration.ofSeconds(5);

    private final NodeContext ctx;
    private final StatusWriter statuses;
    private final VolumeStatuses reports;
    private final SlowPassReports slow;
    /** Volumes whose acknowledgement the controller removed, with the generation it answered. */
    private final Map<String, Long> acknowledgementsTaken = new ConcurrentHashMap<>();

    VolumeDeletion(NodeContext ctx, StatusWriter statuses, VolumeStatuses reports, SlowPassReports slow) {
        this.ctx = ctx;
        this.statuses = statuses;
        this.reports = reports;
        this.slow = slow;
    }

    /**
     * Carries out a deletion order: unexport, remove from the order's pool, acknowledge with status
     * {@code Deleted} of the order's generation. That acknowledgement is the one write a deletion
     * costs the agent: {@code Deleting} is reported only when the removal outlasts
     * {@link SlowPassReports#REPORT_PROGRESS_AFTER} or fails, and the controller removes the acknowledgement together
     * with the order. No crash needs {@code Deleting}: the order stays until acknowledged, and an
     * agent that restarts carries it out again over whatever is left (removal finds nothing to remove).
     */
    Future<ReconcileResult> remove(WorkItem order) {
        String volume = order.volume();
        Optional<VolumeStatus> status = reports.current(volume);
        if (status.isPresent() && status.get().phase() == VolumePhase.DELETED
                && status.get().observedGeneration() >= order.generation()) {
            return Future.succeededFuture(ReconcileResult.done());
        }
        Long taken = acknowledgementsTaken.remove(volume);
        if (status.isEmpty() && taken != null && taken >= order.generation()) {
            // The controller removed the acknowledgement with this order in one transaction; the
            // order's removal is on its way through the work items' watch. Should the order still
            // stand after a while, the acknowledgement was removed by hand, and is written again.
            return Future.succeededFuture(ReconcileResult.requeueAfter(ACKNOWLEDGEMENT_TAKEN_RECHECK));
        }
        Optional<PoolConfig> pool = ctx.pool(order.pool());
        if (pool.isEmpty()) {
            // Without the pool's config there is no telling where the data lives; keep it and say so.
            // A new pool config enqueues this volume again.
            return reports.failed(order, FailureReason.POOL_NOT_CONFIGURED, "cannot carry out the deletion order: pool "
                    + order.pool() + " has no valid config for node " + ctx.node + "; the volume is kept")
                    .map(ReconcileResult.done());
        }
        Optional<VolumeEngine> engine = ctx.engine(pool.get().engine());
        if (engine.isEmpty()) {
            return reports.failed(order, FailureReason.ENGINE_UNAVAILABLE, "cannot carry out the deletion order: engine "
                    + pool.get().engine() + " is not available on node " + ctx.node + "; the volume is kept")
                    .map(ReconcileResult.requeueAfter(VolumeReconciler.WAIT_FOR_ENGINE));
        }
        AtomicBoolean worthReporting = new AtomicBoolean(status.isPresent() && status.get().phase() != VolumePhase.DELETING);
        return slow.run(worthReporting, () -> reports.write(volume, VolumePhase.DELETING, reports.current(volume), null,
                        Condition.progress(Condition.READY, ProgressReason.DELETING, null, order.generation())),
                () -> {
                    ctx.exporterFor(pool.get().engine()).unexport(volume);
                    engine.get().deleteVolume(pool.get(), volume);
                    return null;
                })
                .recover(err -> {
                    Optional<VolumeStatus> now = reports.current(volume);
                    String message = StatusMessages.truncate(StatusMessages.describe(err));
                    return reports.write(volume, VolumePhase.DELETING, now, message, Condition.failedAgain(Condition.READY,
                            FailureClassifier.classify(err), message, order.generation(), VolumeStatuses.conditionsOf(now)))
                            .transform(written -> Future.failedFuture(err));
                })
                .compose(v -> statuses.volume(ctx.keys.volumeStatus(ctx.node, volume),
                        VolumeStatus.of(volume, ctx.node, order.pool(), VolumePhase.DELETED, null, 0, null, order.generation(),
                                "removed on the controller's deletion order", Clock.now())
                                .withReady(Condition.progress(Condition.READY, ProgressReason.DELETED, null,
                                        order.generation())),
                        ctx.volumeStatus(volume)))
                .map(v -> {
                    ctx.metrics.volumeDeleted();
                    ctx.metrics.untrackDevice(volume);
                    ctx.metrics.volumeLost(volume, false);
                    log.info("volume {} removed from node {} (deletion order, generation {})", volume, ctx.node,
                            order.generation());
                    return ReconcileResult.done();
                });
    }

    /**
     * The controller removed this node's acknowledgement of a deletion order (it does so in the
     * transaction that withdraws the order): remembered, so that the order, still seen for the
     * moment its own removal takes to arrive, is not carried out and acknowledged a second time.
     */
    void acknowledgementTaken(VolumeStatus acknowledgement) {
        acknowledgementsTaken.merge(acknowledgement.volume(), acknowledgement.observedGeneration(), Math::max);
    }

    /**
     * No work item: nothing is deleted. A {@code Deleted} status still there is removed: an older
     * controller withdraws the order alone and leaves its acknowledgement to the agent. Anything else
     * stays as it is.
     */
    Future<ReconcileResult> forgetAcknowledgedDeletion(String volume) {
        acknowledgementsTaken.remove(volume);
        Optional<VolumeStatus> status = reports.current(volume);
        if (status.isPresent() && status.get().phase() == VolumePhase.DELETED) {
            return statuses.delete(ctx.keys.volumeStatus(ctx.node, volume)).map(v -> ReconcileResult.done());
        }
        if (status.isPresent()) {
            log.warn("volume {} has a status on node {} but no work item: it is kept as it is and reported as an"
                    + " orphan (deletion happens only on the controller's order)", volume, ctx.node);
        }
        return Future.succeededFuture(ReconcileResult.done());
    }
}
