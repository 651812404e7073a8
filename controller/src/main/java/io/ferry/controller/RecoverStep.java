package io.ferry.controller;

import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.Leadership;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.FailureReason;
import io.ferry.model.Placement;
import io.ferry.model.SchedulingPhase;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumePhase;
import io.ferry.model.VolumeStatus;
import io.ferry.model.WorkItem;
import io.ferry.placement.Candidate;
import io.ferry.runtime.reconcile.ReconcileResult;
import io.vertx.core.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The recover step, for a volume without a placement that a node still holds, or that was adopted
 * from a node: its placement is rebuilt from what the node says, or the volume is held with a record
 * saying why. Never placed again as a new volume: that would make a second, empty copy.
 */
final class RecoverStep {

    private static final Logger log = LoggerFactory.getLogger(RecoverStep.class);

    private final DecisionContext ctx;
    private final ClusterState state;
    private final FerryKeys keys;
    private final VolumeWork volumeWork;
    private final VolumeRecord volumeRecord;

    RecoverStep(DecisionContext ctx, VolumeWork volumeWork, VolumeRecord volumeRecord) {
        this.ctx = ctx;
        this.state = ctx.state();
        this.keys = ctx.keys();
        this.volumeWork = volumeWork;
        this.volumeRecord = volumeRecord;
    }

    /**
     * A volume whose placement is gone while a node still holds it (a work item or a status) is never
     * placed again: that made a second, empty copy on another node while the first one, its work item
     * and its ledger charge stayed behind. The placement is rebuilt from the one node's work item or,
     * with its work item gone too, from that node's status when the status names the pool and a size
     * (the volume was created there). Anything else (several nodes, a status that cannot say where the
     * data is) holds the volume and the record says why. No rebuild charges the ledger: the ledger is
     * recomputed from the placements ({@link LedgerAudit}), so the bytes a ledger still counts are not
     * counted twice, and bytes it no longer counts come back with the placement.
     */
    Future<ReconcileResult> recoverPlacement(Leadership leader, Versioned<VolumeIntent> intent, Set<String> holders) {
        VolumeIntent spec = intent.value();
        String volume = spec.name();
        List<Versioned<WorkItem>> works = holders.stream().map(node -> state.workItem(node, volume))
                .flatMap(Optional::stream).toList();
        if (holders.size() == 1 && works.isEmpty()) {
            String node = holders.iterator().next();
            String unusable = statusUnusableForRebuild(node, volume);
            if (unusable == null) {
                return rebuildFromStatus(leader, spec, state.volumeStatus(node, volume).orElseThrow());
            }
            return hold(leader, volume, FailureReason.PLACEMENT_LOST, "the placement " + keys.placement(volume)
                    + " and the work item are missing and "
                    + node + " still holds the volume, but " + unusable + ": it is not placed again (that would make"
                    + " a second, empty copy); restore the placement by hand");
        }
        if (holders.size() != 1 || works.size() != 1) {
            return hold(leader, volume, FailureReason.PLACEMENT_LOST, "the placement " + keys.placement(volume) + " is missing and "
                    + String.join(", ", holders)
                    + (works.isEmpty() ? " still hold(s) the volume without a work item" : " claim(s) the volume")
                    + ": it is not placed again (that would make a second, empty copy); restore the placement by hand");
        }
        Versioned<WorkItem> found = works.get(0);
        WorkItem w = found.value();
        Placement rebuilt = Placement.of(volume, w.pool(), w.node(), w.engine(), w.sizeBytes(), w.thin(), w.generation(),
                spec.consumerNode(), spec.sourceSnapshot(), spec.sourceVolume(), ctx.clock().instant());
        if (w.mustExist()) {
            rebuilt = rebuilt.withCreatedAt(ctx.clock().instant());
        }
        Placement committed = rebuilt;
        return ctx.store().txn().requireLeadership(leader)
                .requireModRevision(keys.placement(volume), 0)
                .requireModRevision(keys.workItem(w.node(), volume), found.modRevision())
                .put(keys.placement(volume), committed)
                .commit()
                .compose(outcome -> {
                    if (!outcome.succeeded()) {
                        ctx.metrics().conflict();
                        return done();
                    }
                    state.wrotePlacement(committed, outcome.revision());
                    log.warn("placement of {} was missing; rebuilt from its work item on {} (pool {})", volume, w.node(), w.pool());
                    return volumeRecord.writeScheduling(leader, volume, SchedulingPhase.PLACED, Map.of(),
                            "placement rebuilt from the work item on " + w.node() + " after it had been removed",
                            w.node(), w.pool(), state.nodeAlive(w.node())).map(v -> ReconcileResult.done());
                });
    }

    /**
     * An adopted volume exists on the node its intent names; placing it anywhere as a new volume would
     * serve an empty one under its name. Its placement is rebuilt only from that node's status (which
     * the node's agent writes when it carries out the adoption order), so until that status is seen,
     * or while other nodes claim the volume too, it is held. Waiting for the status also covers the
     * intent reaching this controller before the status does: they come through different watches.
     */
    Future<ReconcileResult> holdAdopted(Leadership leader, String volume, String node, Set<String> holders) {
        if (holders.isEmpty()) {
            return hold(leader, volume, FailureReason.ADOPTION_PENDING, "adopted from node " + node
                    + " (adoptFromNode): waiting for its status "
                    + keys.volumeStatus(node, volume) + ", which the agent writes when it carries out the adoption order"
                    + " (`ferryctl orphan adopt`); it is never placed as a new volume");
        }
        return hold(leader, volume, FailureReason.PLACEMENT_LOST, "adopted from node " + node + " (adoptFromNode), but "
                + String.join(", ", holders)
                + " hold(s) the volume: it is not placed; remove adoptFromNode's intent or the other node's records by hand");
    }

    private Future<ReconcileResult> hold(Leadership leader, String volume, FailureReason reason, String why) {
        return volumeRecord.writeScheduling(leader, volume, SchedulingPhase.PENDING, reason, Map.of(), why, null, null, true, 0, null)
                .map(v -> ReconcileResult.done());
    }

    /** Why the node's status cannot say where the volume's data is, or null when it can. */
    private String statusUnusableForRebuild(String node, String volume) {
        VolumeStatus status = state.volumeStatus(node, volume).orElse(null);
        if (status == null) {
            return "it reports no status";
        }
        if (status.pool() == null || status.sizeBytes() <= 0) {
            return "its status names no pool and size (written by an older agent?)";
        }
        if (status.phase() == VolumePhase.DELETING || status.phase() == VolumePhase.DELETED) {
            return "its status says " + status.phase().value() + " (a deletion was under way)";
        }
        Candidate pool = state.candidate(status.pool()).orElse(null);
        if (pool == null || !pool.node().equals(node)) {
            return "its status names pool " + status.pool() + ", which has no config on " + node;
        }
        return null;
    }

    /**
     * Rebuilds the placement, and the work item with it, from the status of the one node that holds
     * the volume. A status with a size is the agent's record of having created the volume, so the
     * rebuilt placement carries the first-creation record: were the volume not found, it is lost.
     */
    private Future<ReconcileResult> rebuildFromStatus(Leadership leader, VolumeIntent spec, VolumeStatus status) {
        String volume = spec.name();
        Candidate pool = state.candidate(status.pool()).orElseThrow();
        Placement rebuilt = Placement.of(volume, status.pool(), status.node(), pool.config().engine(), status.sizeBytes(),
                spec.thin(), Math.max(1, status.observedGeneration()), spec.consumerNode(), spec.sourceSnapshot(),
                spec.sourceVolume(), ctx.clock().instant()).withCreatedAt(ctx.clock().instant());
        WorkItem work = volumeWork.workFor(rebuilt);
        return ctx.store().txn().requireLeadership(leader)
                .requireModRevision(keys.placement(volume), 0)
                .requireModRevision(keys.workItem(status.node(), volume), 0)
                .put(keys.placement(volume), rebuilt)
                .put(keys.workItem(status.node(), volume), work)
                .commit()
                .compose(outcome -> {
                    if (!outcome.succeeded()) {
                        ctx.metrics().conflict();
                        return done();
                    }
                    state.wrotePlacement(rebuilt, outcome.revision());
                    state.wroteWorkItem(work, outcome.revision());
                    ctx.metrics().placementRebuilt();
                    log.warn("placement and work item of {} were missing; rebuilt from the status on {} (pool {}, {} bytes,"
                            + " generation {})", volume, status.node(), status.pool(), status.sizeBytes(), rebuilt.generation());
                    return volumeRecord.writeScheduling(leader, volume, SchedulingPhase.PLACED, Map.of(),
                            "placement and work item rebuilt from the status on " + status.node() + " after they had been removed",
                            status.node(), status.pool(), state.nodeAlive(status.node())).map(v -> ReconcileResult.done());
                });
    }


    private static Future<ReconcileResult> done() {
        return Future.succeededFuture(ReconcileResult.done());
    }
}
