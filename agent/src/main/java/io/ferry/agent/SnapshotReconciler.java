package io.ferry.agent;

import io.ferry.agent.engine.EngineException;
import io.ferry.agent.engine.LocalSnapshot;
import io.ferry.agent.engine.VolumeEngine;
import io.ferry.runtime.reconcile.ReconcileResult;
import io.ferry.runtime.reconcile.TerminalException;
import io.ferry.model.Condition;
import io.ferry.model.FailureReason;
import io.ferry.model.PoolConfig;
import io.ferry.model.ProgressReason;
import io.ferry.model.SnapshotStatus;
import io.ferry.model.SnapshotWorkItem;
import io.ferry.model.VolumePhase;
import io.ferry.model.VolumeStatus;
import io.vertx.core.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * Converges one snapshot (the key is the snapshot name) to its snapshot work item: cut it once,
 * report it ready; delete it and its status when the work item is withdrawn. Same crash rules as
 * volumes: the status key records that this node holds the snapshot.
 */
final class SnapshotReconciler {

    private static final Logger log = LoggerFactory.getLogger(SnapshotReconciler.class);
    private static final Duration WAIT = Duration.ofSeconds(15);

    private final NodeContext ctx;
    private final StatusWriter statuses;

    SnapshotReconciler(NodeContext ctx, StatusWriter statuses) {
        this.ctx = ctx;
        this.statuses = statuses;
    }

    Future<ReconcileResult> reconcile(String snapshot) {
        if (ctx.snapshotWorkItemIsBad(snapshot)) {
            Optional<SnapshotStatus> prev = current(snapshot);
            if (prev.isEmpty()) {
                // A status needs the source and pool, which only a readable work item names.
                log.warn("snapshot work item for {} is invalid and left alone: {}", snapshot,
                        ctx.badSnapshotWork.why(snapshot).orElse("the value does not decode"));
                return Future.succeededFuture(ReconcileResult.done());
            }
            SnapshotStatus p = prev.get();
            String message = StatusMessages.truncate("snapshot work item is invalid; the snapshot is left"
                    + " as it is: " + ctx.badSnapshotWork.why(snapshot).orElse("the value does not decode"));
            return write(SnapshotStatus.of(snapshot, p.sourceVolume(), ctx.node, p.pool(), p.sizeBytes(), false,
                    VolumePhase.FAILED, message, p.observedGeneration(), p.createdAt())
                    .withConditions(List.of(Condition.failedAgain(Condition.READY, FailureReason.INVALID_WORK_ITEM,
                            message, p.observedGeneration(), p.conditions())))).map(ReconcileResult.done());
        }
        Optional<SnapshotWorkItem> item = ctx.snapshotWorkItem(snapshot);
        if (item.isEmpty()) {
            return forgetAcknowledgedDeletion(snapshot);
        }
        return item.get().deletionRequested() ? remove(item.get()) : converge(item.get());
    }

    private Future<ReconcileResult> converge(SnapshotWorkItem item) {
        Optional<PoolConfig> pool = ctx.pool(item.pool());
        if (pool.isEmpty()) {
            // Terminal: a pool config written for this node enqueues the pool's snapshots again.
            return failed(item, FailureReason.POOL_NOT_CONFIGURED, "pool " + item.pool()
                    + " has no valid config for node " + ctx.node).map(ReconcileResult.done());
        }
        if (pool.get().engine() != item.engine()) {
            return failed(item, FailureReason.INVALID_WORK_ITEM, "snapshot work asks for engine " + item.engine()
                    + " but pool " + item.pool() + " is " + pool.get().engine()).map(ReconcileResult.done());
        }
        Optional<VolumeEngine> engine = ctx.engine(pool.get().engine());
        if (engine.isEmpty()) {
            // As for volumes: nothing reports an engine appearing, so the agent looks again after a while.
            return failed(item, FailureReason.ENGINE_UNAVAILABLE, "engine " + item.engine()
                    + " is not available on node " + ctx.node).map(ReconcileResult.requeueAfter(WAIT));
        }
        return ctx.snapshotRuntime().blocking(() -> {
                    Optional<LocalSnapshot> found = engine.get().findSnapshot(pool.get(), item.snapshot());
                    if (found.isPresent()) {
                        return found.get();
                    }
                    requireSource(item, pool.get(), engine.get());
                    return engine.get().createSnapshot(pool.get(), item.snapshot(), item.sourceVolume());
                })
                .compose(snap -> write(SnapshotStatus.of(item.snapshot(), item.sourceVolume(), ctx.node, item.pool(),
                        Math.max(snap.sizeBytes(), item.sizeBytes()), true, VolumePhase.READY, null, item.generation(),
                        snap.createdAt()).withConditions(List.of(Condition.progress(Condition.READY,
                                ProgressReason.CARRIED_OUT, null, item.generation())))))
                .map(ReconcileResult.done())
                .recover(err -> {
                    FailureReason reason = FailureClassifier.classify(err);
                    return failed(item, reason, StatusMessages.describe(err)).transform(x -> Future.failedFuture(
                            reason.terminal() ? new TerminalException(err.getMessage(), err) : err));
                });
    }

    /** Carries out a deletion order and acknowledges it with a Deleted status of its generation. */
    private Future<ReconcileResult> remove(SnapshotWorkItem order) {
        String snapshot = order.snapshot();
        Optional<SnapshotStatus> status = current(snapshot);
        if (status.isPresent() && status.get().phase() == VolumePhase.DELETED
                && status.get().observedGeneration() >= order.generation()) {
            return Future.succeededFuture(ReconcileResult.done());
        }
        Optional<PoolConfig> pool = ctx.pool(order.pool());
        Optional<VolumeEngine> engine = pool.flatMap(p -> ctx.engine(p.engine()));
        if (pool.isEmpty()) {
            return failed(order, FailureReason.POOL_NOT_CONFIGURED, "cannot carry out the deletion order: pool "
                    + order.pool() + " has no valid config for node " + ctx.node + "; the snapshot is kept")
                    .map(ReconcileResult.done());
        }
        if (engine.isEmpty()) {
            return failed(order, FailureReason.ENGINE_UNAVAILABLE, "cannot carry out the deletion order: engine "
                    + pool.get().engine() + " is not available on node " + ctx.node + "; the snapshot is kept")
                    .map(ReconcileResult.requeueAfter(WAIT));
        }
        return ctx.snapshotRuntime().blocking(() -> {
                    engine.get().deleteSnapshot(pool.get(), snapshot);
                    return null;
                })
                .compose(v -> write(SnapshotStatus.of(snapshot, order.sourceVolume(), ctx.node, order.pool(),
                        order.sizeBytes(), false, VolumePhase.DELETED, "removed on the controller's deletion order",
                        order.generation(), status.map(SnapshotStatus::createdAt).orElse(null))
                        .withConditions(List.of(Condition.progress(Condition.READY, ProgressReason.DELETED, null,
                                order.generation())))))
                .map(v -> {
                    log.info("snapshot {} removed from node {} (deletion order, generation {})", snapshot, ctx.node,
                            order.generation());
                    return ReconcileResult.done();
                });
    }

    /** No work item: only an acknowledged deletion's status is removed; anything else is kept as it is. */
    private Future<ReconcileResult> forgetAcknowledgedDeletion(String snapshot) {
        Optional<SnapshotStatus> status = current(snapshot);
        if (status.isPresent() && status.get().phase() == VolumePhase.DELETED) {
            return statuses.delete(ctx.keys.snapshotStatus(ctx.node, snapshot)).map(v -> ReconcileResult.done());
        }
        return Future.succeededFuture(ReconcileResult.done());
    }

    private Optional<SnapshotStatus> current(String snapshot) {
        Optional<SnapshotStatus> mine = statuses.last(ctx.keys.snapshotStatus(ctx.node, snapshot));
        return mine.isPresent() ? mine : ctx.snapshotStatus(snapshot);
    }

    /**
     * The source volume was created on this node and is gone (lost, or its object missing): a
     * snapshot of it cannot be cut until it is back, which no retry changes. A source not created
     * yet is the engine's to report, and is retried.
     */
    private void requireSource(SnapshotWorkItem item, PoolConfig pool, VolumeEngine engine) {
        String source = item.sourceVolume();
        Optional<VolumeStatus> st = VolumeStatuses.latestStatus(ctx, statuses, source).filter(VolumeStatuses::wasCreated);
        if (st.isPresent() && (st.get().phase() == VolumePhase.LOST || engine.findVolume(pool, source).isEmpty())) {
            throw EngineException.of(FailureReason.SOURCE_LOST, "source volume " + source + " was created on node "
                    + ctx.node + " and pool " + pool.name() + " no longer has it; snapshot " + item.snapshot()
                    + " cannot be cut until it is back");
        }
    }

    /** A Failed status whose Ready condition is the typed failure for the work item's generation, attempts counted on. */
    private Future<Boolean> failed(SnapshotWorkItem item, FailureReason reason, String message) {
        Optional<SnapshotStatus> prev = current(item.snapshot());
        String text = StatusMessages.truncate(message);
        return write(SnapshotStatus.of(item.snapshot(), item.sourceVolume(), ctx.node, item.pool(), item.sizeBytes(),
                false, VolumePhase.FAILED, text,
                prev.map(SnapshotStatus::observedGeneration).orElse(0L), prev.map(SnapshotStatus::createdAt).orElse(null))
                .withConditions(List.of(Condition.failedAgain(Condition.READY, reason, text, item.generation(),
                        prev.map(SnapshotStatus::conditions).orElse(List.of())))));
    }

    private Future<Boolean> write(SnapshotStatus status) {
        return statuses.snapshot(ctx.keys.snapshotStatus(ctx.node, status.snapshot()), status,
                ctx.snapshotStatus(status.snapshot()));
    }
}
