package io.ferry.controller;

import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.Leadership;
import io.ferry.etcd.store.Transaction;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.FailureReason;
import io.ferry.model.Placement;
import io.ferry.model.SchedulingPhase;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumePhase;
import io.ferry.model.VolumeStatus;
import io.ferry.model.WorkItem;
import io.ferry.runtime.reconcile.ReconcileResult;
import io.vertx.core.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The converge step, for a placed volume not being deleted: keeps its placement and work item in line
 * with its intent and attachments (a new export moves the generation), records its first creation
 * (in batches) or an operator's request to re-create it empty, hands a larger size to the grow step,
 * refuses shrinking, and says in its record whether its node is reachable.
 */
final class ConvergeStep {

    private static final Logger log = LoggerFactory.getLogger(ConvergeStep.class);

    private final DecisionContext ctx;
    private final ClusterState state;
    private final FerryKeys keys;
    private final VolumeWork volumeWork;
    private final VolumeRecord volumeRecord;
    private final GrowStep grow;
    /** Volumes whose first creation waits to be recorded in the next batch. */
    private final BatchQueue toRecord;

    ConvergeStep(DecisionContext ctx, SerialLane lane, VolumeWork volumeWork, VolumeRecord volumeRecord, GrowStep grow) {
        this.ctx = ctx;
        this.state = ctx.state();
        this.keys = ctx.keys();
        this.volumeWork = volumeWork;
        this.volumeRecord = volumeRecord;
        this.grow = grow;
        this.toRecord = new BatchQueue(lane, PlaceStep.MAX_BATCH, this::recordBatch);
    }

    // ---- a placed volume ----

    /** @param note what the record says besides, or null: why a deletion asked for is refused */
    Future<ReconcileResult> converge(Leadership leader, Versioned<VolumeIntent> intent, Versioned<Placement> placement,
                                     String note) {
        VolumeIntent spec = intent.value();
        Placement current = placement.value();
        if (spec.sizeBytes() > current.sizeBytes()) {
            return grow.request(spec.name()).map(v -> ReconcileResult.done());
        }
        boolean shrink = spec.sizeBytes() < current.sizeBytes();
        String message = shrink ? join(note, "shrinking is not supported: the volume stays at " + current.sizeBytes() + " bytes")
                : note;
        Placement next = creationRecord(spec, current);
        WorkItem desired = volumeWork.workFor(next);
        Versioned<WorkItem> existing = state.workItem(current.node(), current.volume()).orElse(null);
        Future<Void> work = Future.succeededFuture();
        if (onlyFirstCreation(current, next, existing, desired)) {
            // Every new volume gets this record once, right after it is Ready: under a burst of
            // creations one transaction per volume doubled the controller's writes, so the records
            // are committed in batches, like placements.
            work = toRecord.add(current.volume());
        } else if (existing == null || !VolumeWork.sameWork(existing.value(), desired) || !next.equals(current)) {
            if (existing != null && !Objects.equals(existing.value().export(), desired.export())
                    && next.generation() == current.generation()) {
                next = next.withGeneration(current.generation() + 1);
                desired = volumeWork.workFor(next);
            }
            Placement newPlacement = next;
            WorkItem item = existing == null || !VolumeWork.sameWork(existing.value(), desired)
                    || existing.value().generation() < desired.generation() ? desired : null;
            boolean placementChanged = !newPlacement.equals(current);
            Transaction txn = ctx.store().txn().requireLeadership(leader)
                    .requireModRevision(keys.placement(current.volume()), placement.modRevision());
            if (item != null) {
                txn.put(keys.workItem(current.node(), current.volume()), item);
            }
            if (placementChanged) {
                txn.put(keys.placement(current.volume()), newPlacement);
            }
            work = txn.commit().map(outcome -> {
                if (outcome.succeeded()) {
                    if (item != null) {
                        state.wroteWorkItem(item, outcome.revision());
                    }
                    if (placementChanged) {
                        state.wrotePlacement(newPlacement, outcome.revision());
                    }
                } else {
                    ctx.metrics().conflict();
                    throw new IllegalStateException("placement of " + current.volume() + " changed while updating its work item");
                }
                return null;
            });
        }
        boolean reachable = state.nodeAlive(current.node());
        String reachability = reachable ? message
                : join(message, "node " + current.node() + " is down: the volume is unreachable until it returns");
        return work.compose(v -> volumeRecord.writeScheduling(leader, current.volume(), SchedulingPhase.PLACED, null, Map.of(), reachability,
                current.node(), current.pool(), reachable, 0, shrink ? FailureReason.SHRINK_REFUSED : null))
                .map(v -> ReconcileResult.done());
    }

    /** Whether the only news for a placed volume is its first creation, which a batch records. */
    private static boolean onlyFirstCreation(Placement current, Placement next, Versioned<WorkItem> existing,
                                             WorkItem desired) {
        return current.createdAt() == null && next.createdAt() != null
                && next.equals(current.withCreatedAt(next.createdAt()))
                && existing != null && existing.value().generation() == desired.generation()
                && !existing.value().mustExist() && desired.mustExist()
                && VolumeWork.sameWork(existing.value().withCreationRecord(true, desired.emptySinceGeneration()), desired);
    }

    /**
     * Records the first creation of up to {@link PlaceStep#MAX_BATCH} volumes in one transaction, each
     * guarded by its placement's revision; a lost guard fails the batch and each volume's reconcile
     * runs again against what changed.
     */
    private Future<Void> recordBatch(List<String> volumes) {
        Optional<Leadership> leader = ctx.leadership().get();
        if (leader.isEmpty()) {
            return Future.succeededFuture();
        }
        Transaction txn = ctx.store().txn().requireLeadership(leader.get());
        Map<Placement, WorkItem> records = new LinkedHashMap<>();
        for (String volume : volumes) {
            Versioned<VolumeIntent> intent = state.intent(volume).orElse(null);
            Versioned<Placement> placement = state.placement(volume).orElse(null);
            if (intent == null || placement == null) {
                continue;
            }
            Placement current = placement.value();
            Placement next = creationRecord(intent.value(), current);
            WorkItem desired = volumeWork.workFor(next);
            Versioned<WorkItem> existing = state.workItem(current.node(), volume).orElse(null);
            if (!onlyFirstCreation(current, next, existing, desired)) {
                continue;
            }
            txn.requireModRevision(keys.placement(volume), placement.modRevision())
                    .requireModRevision(keys.workItem(current.node(), volume), existing.modRevision())
                    .put(keys.placement(volume), next)
                    .put(keys.workItem(current.node(), volume), desired);
            records.put(next, desired);
        }
        if (records.isEmpty()) {
            return Future.succeededFuture();
        }
        return txn.commit().map(outcome -> {
            if (!outcome.succeeded()) {
                ctx.metrics().conflict();
                throw new IllegalStateException("a placement or work item changed while recording the first creation of "
                        + records.size() + " volume(s)");
            }
            records.forEach((placement, work) -> {
                state.wrotePlacement(placement, outcome.revision());
                state.wroteWorkItem(work, outcome.revision());
            });
            return null;
        });
    }

    /**
     * The placement with what is now known of the volume's creation: an operator's new request to
     * replace it, found Lost, by an empty one (carried out, or refused when it is not Lost); else the
     * first-creation record, once the serving agent reported it Ready with a size at this generation.
     * The record is what makes the agent's "not found" mean Lost whatever its own status says, and it
     * is backfilled this way for placements written before it existed.
     */
    private Placement creationRecord(VolumeIntent spec, Placement current) {
        VolumeStatus status = state.volumeStatus(current.node(), current.volume()).orElse(null);
        Instant request = spec.recreateEmptyRequestedAt();
        if (request != null && !request.equals(current.recreateEmptyRequestedAt())) {
            if (status != null && status.lost()) {
                log.warn("volume {} is lost on {} ({}); replacing it by a new, empty volume at the operator's request of {}",
                        current.volume(), current.node(), status.message(), request);
                ctx.metrics().recreatedEmpty();
                return current.recreatedEmpty(request);
            }
            log.warn("volume {}: the request of {} to re-create it empty is refused: it is {} on {}, not Lost; nothing changes",
                    current.volume(), request, status == null ? "without a status" : status.phase().value(), current.node());
            return current.withRecreateEmptyHandled(request);
        }
        if (current.createdAt() == null && status != null && status.phase() == VolumePhase.READY && status.sizeBytes() > 0
                && status.observedGeneration() >= current.generation()) {
            return current.withCreatedAt(ctx.clock().instant());
        }
        return current;
    }


    private static String join(String a, String b) {
        return a == null ? b : a + "; " + b;
    }
}
