package io.ferry.agent;

import io.ferry.agent.engine.PoolState;
import io.ferry.agent.engine.VolumeEngine;
import io.ferry.etcd.reconcile.ReconcileResult;
import io.ferry.model.Condition;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolStatus;
import io.vertx.core.Future;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Brings up one of this node's pools (prepare) and reports what the engine measures. The key is the
 * pool name; a periodic timer re-runs every pool so that free space stays current.
 */
final class PoolReconciler {

    private final NodeContext ctx;
    private final StatusWriter statuses;

    PoolReconciler(NodeContext ctx, StatusWriter statuses) {
        this.ctx = ctx;
        this.statuses = statuses;
    }

    Future<ReconcileResult> reconcile(String pool) {
        String statusKey = ctx.keys.nodePoolStatus(ctx.node, pool);
        String bad = ctx.badPoolConfigs.get(pool);
        if (bad != null && ctx.pools.badKeys().contains(ctx.keys.poolConfig(pool))) {
            PoolStatus status = PoolStatus.of(ctx.node, pool, null, 0, 0, null, null,
                    List.of(Condition.of(Condition.CONFIG_VALID, false, "InvalidConfig", VolumeReconciler.truncate(bad))),
                    false, Clock.now());
            ctx.metrics.poolMeasured(status);
            return statuses.pool(statusKey, status, Optional.empty()).map(ReconcileResult.done());
        }
        Optional<PoolConfig> config = ctx.pool(pool);
        if (config.isEmpty()) {
            // Deleted, or moved to another node: this node no longer reports it.
            ctx.metrics.poolRemoved(pool);
            return statuses.delete(statusKey).map(ReconcileResult.done());
        }
        PoolConfig p = config.get();
        Optional<VolumeEngine> engine = ctx.engine(p.engine());
        Future<PoolState> measured = engine.isEmpty()
                ? Future.succeededFuture(PoolState.unavailable("EngineUnavailable", "engine " + p.engine()
                        + " is not available on node " + ctx.node + " (its tools or socket are missing)"))
                : ctx.poolRuntime.blocking(() -> {
                    engine.get().preparePool(p);
                    return engine.get().poolState(p);
                });
        return measured
                .recover(err -> Future.succeededFuture(PoolState.unavailable("EngineError",
                        VolumeReconciler.truncate(VolumeReconciler.describe(err)))))
                .compose(state -> {
                    List<Condition> conditions = new ArrayList<>();
                    conditions.add(Condition.of(Condition.CONFIG_VALID, true, "Valid", null));
                    conditions.addAll(state.conditions());
                    PoolStatus status = PoolStatus.of(ctx.node, pool, p.engine(), state.capacityBytes(),
                            state.freeBytes(), state.thinDataPercent(), state.thinMetadataPercent(), conditions,
                            state.healthy(), Clock.now());
                    ctx.metrics.poolMeasured(status);
                    return statuses.pool(statusKey, status, Optional.empty());
                })
                .map(ReconcileResult.done());
    }
}
