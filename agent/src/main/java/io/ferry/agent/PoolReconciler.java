package io.ferry.agent;

import io.ferry.model.PoolReason;
import io.ferry.agent.engine.PoolState;
import io.ferry.agent.engine.VolumeEngine;
import io.ferry.model.SnapshotStatus;
import io.ferry.model.VolumePhase;
import io.ferry.runtime.reconcile.ReconcileResult;
import io.ferry.model.Condition;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolStatus;
import io.vertx.core.Future;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Brings up one of this node's pools (prepare) and reports what the engine measures. The key is the
 * pool name; a periodic timer re-runs every pool so that free space stays current.
 */
final class PoolReconciler {

    private final NodeContext ctx;
    private final StatusWriter statuses;
    /** Whether each pool was healthy at its last measurement: becoming healthy is an input that changed. */
    private final Map<String, Boolean> healthy = new ConcurrentHashMap<>();

    PoolReconciler(NodeContext ctx, StatusWriter statuses) {
        this.ctx = ctx;
        this.statuses = statuses;
    }

    Future<ReconcileResult> reconcile(String pool) {
        String statusKey = ctx.keys.nodePoolStatus(ctx.node, pool);
        String bad = ctx.badPoolConfigs.why(pool).orElse(null);
        if (bad != null && ctx.pools().badKeys().contains(ctx.keys.poolConfig(pool))) {
            PoolStatus status = PoolStatus.of(ctx.node, pool, null, 0, 0, null, null,
                    List.of(Condition.of(Condition.CONFIG_VALID, false, PoolReason.INVALID_CONFIG, StatusMessages.truncate(bad))),
                    false, Clock.now());
            ctx.metrics.poolMeasured(status);
            return statuses.pool(statusKey, status).map(ReconcileResult.done());
        }
        Optional<PoolConfig> config = ctx.pool(pool);
        if (config.isEmpty()) {
            // Deleted, or moved to another node: this node no longer reports it.
            ctx.metrics.poolRemoved(pool);
            return statuses.delete(statusKey).map(ReconcileResult.done());
        }
        PoolConfig p = config.get();
        if (ctx.work() == null || !ctx.work().synced()) {
            // Whether volumes live in this pool decides whether an empty directory may be claimed;
            // until the work items are known that cannot be told, so the pool waits for them.
            return Future.succeededFuture(ReconcileResult.requeueAfter(Duration.ofMillis(500)));
        }
        Optional<VolumeEngine> engine = ctx.engine(p.engine());
        String overlap = PoolOverlap.find(p, ctx.ownPools()).orElse(null);
        // Volumes this node created in the pool (their statuses say so): such a pool must be found, not made.
        boolean holdsVolumes = ctx.work().values().stream().anyMatch(w -> w.value().pool().equals(pool)
                && ctx.volumeStatus(w.value().volume()).filter(VolumeStatuses::wasCreated).isPresent());
        Future<PoolState> measured = engine.isEmpty()
                ? Future.succeededFuture(PoolState.unavailable(PoolReason.ENGINE_UNAVAILABLE, "engine " + p.engine()
                        + " is not available on node " + ctx.node + " (its tools or socket are missing)"))
                : overlap != null ? Future.succeededFuture(PoolState.unavailable(PoolReason.OVERLAPS_POOL, overlap))
                : ctx.poolRuntime().blocking(() -> {
                    engine.get().preparePool(p, holdsVolumes);
                    return engine.get().poolState(p, ctx.allPools());
                });
        return measured
                .recover(err -> Future.succeededFuture(PoolState.unavailable(PoolReason.ENGINE_ERROR,
                        StatusMessages.truncate(StatusMessages.describe(err)))))
                .compose(state -> {
                    List<Condition> conditions = new ArrayList<>();
                    conditions.add(Condition.of(Condition.CONFIG_VALID, true, PoolReason.VALID, null));
                    conditions.addAll(state.conditions());
                    PoolStatus status = PoolStatus.of(ctx.node, pool, p.engine(), state.capacityBytes(),
                            state.freeBytes(), state.thinDataPercent(), state.thinMetadataPercent(), conditions,
                            state.healthy(), Clock.now());
                    ctx.metrics.poolMeasured(status);
                    if (status.healthy() && !Boolean.TRUE.equals(healthy.put(pool, true))) {
                        retryVolumesOf(pool);
                    } else if (!status.healthy()) {
                        healthy.put(pool, false);
                    }
                    return statuses.pool(statusKey, status);
                })
                .map(ReconcileResult.done());
    }

    /**
     * A pool that has just become usable (prepared, claimed, mounted again) gives its volumes that
     * are not Ready, and its snapshots not cut, another reconcile: their failures were terminal only
     * as long as the pool was not.
     */
    private void retryVolumesOf(String pool) {
        for (var w : ctx.work().values()) {
            if (w.value().pool().equals(pool) && ctx.volumeStatus(w.value().volume())
                    .filter(st -> st.phase() == VolumePhase.READY).isEmpty()) {
                ctx.volumeRuntime().enqueue(w.value().volume());
            }
        }
        if (ctx.snapshotWork() != null) {
            for (var w : ctx.snapshotWork().values()) {
                if (w.value().pool().equals(pool) && ctx.snapshotStatus(w.value().snapshot())
                        .filter(SnapshotStatus::readyToUse).isEmpty()) {
                    ctx.snapshotRuntime().enqueue(w.value().snapshot());
                }
            }
        }
    }
}
