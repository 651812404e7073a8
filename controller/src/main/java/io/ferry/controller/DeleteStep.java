package io.ferry.controller;

import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.Leadership;
import io.ferry.etcd.store.Transaction;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.Attachment;
import io.ferry.model.Placement;
import io.ferry.model.SchedulingPhase;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeScheduling;
import io.ferry.model.WorkItem;
import io.ferry.runtime.reconcile.ReconcileResult;
import io.vertx.core.Future;

import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeSet;

/**
 * The delete step, for a volume whose intent asks for deletion (or whose deletion was ordered): holds
 * it while it has snapshots or, before the order, attachments; writes the deletion order (in batches);
 * waits for the node's answer; and hands the volume to the release step once the node has given it up.
 *
 * <p>One deletion costs the controller two transactions, both shared with other volumes' under a
 * burst: the order (placement and work item at the next generation, and the volume's record saying
 * what it waits for) and the release (ledger, placement, work item, record, intent and the node's
 * acknowledgement). The steps and the crash window each write covers are listed
 * in docs/data-safety.md.
 */
final class DeleteStep {

    /** Deletion orders per batch: three puts and four guards each, and the leadership guard. */
    static final int MAX_ORDER_BATCH = (DecisionContext.MAX_TXN_OPS - 1) / 4;

    private final DecisionContext ctx;
    private final ClusterState state;
    private final FerryKeys keys;
    private final VolumeWork volumeWork;
    private final VolumeRecord volumeRecord;
    private final ReleaseStep release;
    /** Like placements, deletion orders that arrive during a commit share the next transaction. */
    private final BatchQueue toOrder;

    DeleteStep(DecisionContext ctx, SerialLane lane, VolumeWork volumeWork, VolumeRecord volumeRecord, ReleaseStep release) {
        this.ctx = ctx;
        this.state = ctx.state();
        this.keys = ctx.keys();
        this.volumeWork = volumeWork;
        this.volumeRecord = volumeRecord;
        this.release = release;
        this.toOrder = new BatchQueue(lane, MAX_ORDER_BATCH, this::orderBatch);
    }

    /** Takes the volume's deletion one step further: records gone, held, ordered, waiting, or released. */
    Future<ReconcileResult> delete(Leadership leader, String volume, Versioned<VolumeIntent> intent,
                                   Versioned<Placement> placement) {
        if (placement == null) {
            // Nothing was ever allocated (or release already committed): only records remain.
            Transaction txn = ctx.store().txn().requireLeadership(leader).delete(keys.volumeScheduling(volume));
            if (intent != null) {
                txn.requireModRevision(keys.volume(volume), intent.modRevision()).delete(keys.volume(volume));
            } else if (state.volumeScheduling(volume).isEmpty()) {
                return done();
            }
            return txn.commit().map(outcome -> {
                if (outcome.succeeded()) {
                    state.removedScheduling(keys.volumeScheduling(volume), outcome.revision());
                }
                return ReconcileResult.done();
            });
        }
        Placement p = placement.value();
        Versioned<WorkItem> work = state.workItem(p.node(), volume).orElse(null);
        boolean ordered = work != null && work.value().deletionRequested();
        String held = deletionHeldBy(volume, ordered);
        if (held != null) {
            return volumeRecord.writeScheduling(leader, volume, SchedulingPhase.DELETING, Map.of(), held, p.node(), p.pool(),
                    state.nodeAlive(p.node())).map(v -> ReconcileResult.done());
        }
        if (!ordered) {
            return requestOrder(volume).map(v -> ReconcileResult.done());
        }
        if (release.plan(volume) == null) {
            // The same record the order was written with, unless the node went down or came back
            // meanwhile: nothing is rewritten while the volume merely waits.
            return volumeRecord.writeScheduling(leader, volume, SchedulingPhase.DELETING, Map.of(), deletionWait(p), p.node(), p.pool(),
                    state.nodeAlive(p.node())).map(v -> ReconcileResult.done());
        }
        return release.request(volume).map(v -> ReconcileResult.done());
    }

    /**
     * Why the volume's deletion cannot go on now, or null: its snapshots must be deleted first, and,
     * until the order is written, it must not be attached. A consumer may still be reading and
     * writing an attached volume; deleting it would pull the data from under a mounted file system.
     * Detaching (ControllerUnpublishVolume, ferryctl detach) removes the attachment, which reconciles
     * the volume again.
     */
    String deletionHeldBy(String volume, boolean ordered) {
        List<String> snapshots = state.snapshotsOf(volume);
        if (!snapshots.isEmpty()) {
            return "waiting for its snapshots to be deleted first: " + String.join(", ", new TreeSet<>(snapshots));
        }
        List<String> attachedTo = ordered ? List.of()
                : state.attachmentsOf(volume).stream().map(Attachment::node).sorted().toList();
        return attachedTo.isEmpty() ? null
                : "waiting to be detached before it is deleted: attached to " + String.join(", ", attachedTo);
    }

    /** What the record of a volume whose deletion is ordered says until its node has given it up. */
    private String deletionWait(Placement p) {
        return state.nodeAlive(p.node())
                ? "waiting for " + p.node() + " to remove the volume"
                : "waiting for node " + p.node() + " to come back and remove the volume (it is down)";
    }

    /** Like placements, deletion orders that arrive during a commit share the next transaction. */
    private Future<Void> requestOrder(String volume) {
        return toOrder.add(volume);
    }

    /** A deletion order as committed: what it was decided on (each guarded) and what it writes. */
    private record Order(Versioned<VolumeIntent> intent, Versioned<Placement> placement, Versioned<WorkItem> work,
                         Versioned<VolumeScheduling> recordBefore, Placement next, WorkItem order, VolumeScheduling record) {
        String volume() {
            return next.volume();
        }
    }

    /**
     * The deletion order for a volume that may be told to delete now, or null: its intent asks for
     * deletion, it is placed, not ordered yet, has no snapshots and no attachment. The order is the
     * work item rewritten with {@code deletionRequested} at the next generation, with the placement
     * (they move together, as for an export change); it is written from the placement when the work
     * item is gone (removed by hand), since the agent deletes only on an order, never because a work
     * item is missing. The record says what the deletion now waits for, so that the passes which
     * follow, until the node answers, find it already written.
     */
    private Order planOrder(String volume) {
        Versioned<VolumeIntent> intent = state.intent(volume).orElse(null);
        Versioned<Placement> placement = state.placement(volume).orElse(null);
        if (intent == null || !intent.value().deletionRequested() || placement == null) {
            return null;
        }
        Placement p = placement.value();
        Versioned<WorkItem> work = state.workItem(p.node(), volume).orElse(null);
        if (work != null && work.value().deletionRequested() || deletionHeldBy(volume, false) != null) {
            return null;
        }
        Placement next = p.withGeneration(p.generation() + 1);
        WorkItem order = (work != null ? work.value() : volumeWork.workFor(p)).deletion(next.generation());
        VolumeScheduling record = volumeRecord.record(volume, SchedulingPhase.DELETING, null, Map.of(), deletionWait(p), p.node(), p.pool(),
                state.nodeAlive(p.node()), intent.modRevision(), 0, null);
        return new Order(intent, placement, work, state.volumeScheduling(volume).orElse(null), next, order, record);
    }

    /**
     * Writes the deletion orders of a batch in one transaction, each guarded by the intent, placement,
     * work item and record it was decided on. A lost guard sends each volume on alone, so that one
     * volume changed meanwhile does not hold the others back; alone, a lost guard is left to the event
     * that changed the key, which runs the volume again.
     */
    private Future<Void> orderBatch(List<String> volumes) {
        Optional<Leadership> leader = ctx.leadership().get();
        if (leader.isEmpty()) {
            return Future.succeededFuture();
        }
        List<Order> orders = volumes.stream().map(this::planOrder).filter(Objects::nonNull).toList();
        if (orders.isEmpty()) {
            return Future.succeededFuture();
        }
        Transaction txn = ctx.store().txn().requireLeadership(leader.get());
        for (Order o : orders) {
            String volume = o.volume();
            String workKey = keys.workItem(o.next().node(), volume);
            txn.requireModRevision(keys.volume(volume), o.intent().modRevision())
                    .requireModRevision(keys.placement(volume), o.placement().modRevision())
                    .requireModRevision(workKey, o.work() == null ? 0 : o.work().modRevision())
                    .requireModRevision(keys.volumeScheduling(volume), o.recordBefore() == null ? 0 : o.recordBefore().modRevision())
                    .put(workKey, o.order())
                    .put(keys.placement(volume), o.next())
                    .put(keys.volumeScheduling(volume), o.record());
        }
        return txn.commit().compose(outcome -> {
            if (outcome.succeeded()) {
                for (Order o : orders) {
                    state.wroteWorkItem(o.order(), outcome.revision());
                    state.wrotePlacement(o.next(), outcome.revision());
                    state.wroteScheduling(keys.volumeScheduling(o.volume()), o.record(), outcome.revision());
                }
                ctx.metrics().orderBatch(orders.size());
                return Future.succeededFuture();
            }
            ctx.metrics().conflict();
            if (orders.size() == 1) {
                return Future.succeededFuture();
            }
            Future<Void> chain = Future.succeededFuture();
            for (Order o : orders) {
                chain = chain.compose(v -> orderBatch(List.of(o.volume())));
            }
            return chain;
        });
    }


    private static Future<ReconcileResult> done() {
        return Future.succeededFuture(ReconcileResult.done());
    }
}
