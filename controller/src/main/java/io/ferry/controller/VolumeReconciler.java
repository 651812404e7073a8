package io.ferry.controller;

import io.ferry.etcd.store.Leadership;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.FailureReason;
import io.ferry.model.Placement;
import io.ferry.model.SchedulingPhase;
import io.ferry.model.VolumeIntent;
import io.ferry.placement.Decision;
import io.ferry.placement.PartsDecision;
import io.ferry.placement.Scheduler;
import io.ferry.runtime.reconcile.ReconcileResult;
import io.vertx.core.Future;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;
import java.util.function.ToIntFunction;

/**
 * Converges one volume by choosing which step its state calls for: {@link RecoverStep} (placement
 * lost while a node holds it, or adopted), {@link DeleteStep} and then {@link ReleaseStep} (withdraw
 * work, wait for the agent, release the ledger and remove the records), {@link PlaceStep}, or
 * {@link ConvergeStep} for a placed volume, which hands growth to {@link GrowStep}; a volume of
 * several parts goes to {@link PartsStep}, and each of its parts, a volume of one part, comes back
 * here. The dispatcher decides nothing else; each step owns its writes.
 *
 * <p>Every write is a transaction guarded by leadership and by the revisions the decision was made
 * on, so a stale or deposed controller can lose a race but never corrupt state. Every step is
 * idempotent: a crash anywhere leaves a state the next run continues from.
 */
final class VolumeReconciler {

    /** What the record of a volume whose intent was removed by hand begins with. */
    static final String INTENT_REMOVED = "the intent was removed without deletionRequested; the volume and its data are"
            + " kept. To delete it, put the intent back with \"deletionRequested\": true";

    private final ClusterState state;
    private final Supplier<Optional<Leadership>> leadership;
    /** The runtime's count of consecutive failed passes of a volume, shown in its record. */
    private final ToIntFunction<String> failedAttempts;
    /** Volumes that found no pool, or no room to grow; retried when capacity changes, not on a timer. */
    private final WaitingForRoom waitingForRoom = new WaitingForRoom();
    private final VolumeRecord record;
    private final RecoverStep recover;
    private final PlaceStep place;
    private final ConvergeStep converge;
    private final DeleteStep delete;
    private final PartsStep parts;

    VolumeReconciler(DecisionContext ctx, SerialLane lane, Scheduler scheduler, ToIntFunction<String> failedAttempts) {
        this.state = ctx.state();
        this.leadership = ctx.leadership();
        this.failedAttempts = failedAttempts;
        VolumeWork work = new VolumeWork(state);
        this.record = new VolumeRecord(ctx, work, failedAttempts);
        this.recover = new RecoverStep(ctx, work, record);
        this.place = new PlaceStep(ctx, lane, scheduler, work, record, waitingForRoom);
        this.converge = new ConvergeStep(ctx, lane, work, record, new GrowStep(ctx, lane, work, record, waitingForRoom));
        this.delete = new DeleteStep(ctx, lane, work, record, new ReleaseStep(ctx, lane));
        this.parts = new PartsStep(ctx, lane, scheduler, work, record, waitingForRoom, place, delete);
    }

    /** Whether any volumes found no room: the controller then retries them when capacity changes. */
    boolean anyWaitingForRoom() {
        return !waitingForRoom.isEmpty();
    }

    /** The volumes that found no room, to retry now that capacity changed. */
    List<String> waitingForRoom() {
        return waitingForRoom.names();
    }

    /**
     * One pass over a volume. A pass that fails says so in the volume's record before the runtime
     * retries it (with the attempt count) or, terminal, leaves it until an input changes: a volume
     * never sits without a record saying why it is not placed.
     */
    Future<ReconcileResult> reconcile(String volume) {
        int failedBefore = failedAttempts.applyAsInt(volume);
        Future<ReconcileResult> pass;
        try {
            pass = decide(volume);
        } catch (RuntimeException e) {
            pass = Future.failedFuture(e);
        }
        return pass.recover(error -> record.recordFailure(volume, error, failedBefore + 1)
                .transform(ar -> Future.failedFuture(error)));
    }

    /** Where a clone or a volume from a snapshot must go, or what it is still waiting for. */
    PlaceStep.Sourced sourceFor(VolumeIntent spec) {
        return place.sourceFor(spec);
    }

    /** The decision the scheduler would make now, with a verdict for every pool; changes nothing. */
    Decision explain(VolumeIntent spec) {
        return place.explain(spec);
    }

    /** For a volume of several parts: the decision for every part, each leg's verdicts included; changes nothing. */
    PartsDecision explainParts(VolumeIntent spec) {
        return parts.explain(spec);
    }

    private Future<ReconcileResult> decide(String volume) {
        Optional<Leadership> leader = leadership.get();
        if (leader.isEmpty()) {
            return done();
        }
        Optional<String> bad = state.badIntent(volume);
        if (bad.isPresent()) {
            waitingForRoom.remove(volume);
            return record.writeScheduling(leader.get(), volume, SchedulingPhase.INVALID, Map.of(),
                    "invalid volume intent: " + bad.get(), null, null, true).map(v -> ReconcileResult.done());
        }
        Versioned<VolumeIntent> intent = state.intent(volume).orElse(null);
        if (parts.multiPart(volume, intent)) {
            return parts.reconcile(leader.get(), volume, intent);
        }
        Versioned<Placement> placement = state.placement(volume).orElse(null);
        if (intent == null && placement != null) {
            // Deleting data because a key vanished would turn a slip of `etcdctl del` into data loss;
            // deletion is only ever the explicit flag.
            Placement p = placement.value();
            return record.writeScheduling(leader.get(), volume, SchedulingPhase.PLACED, Map.of(), INTENT_REMOVED,
                    p.node(), p.pool(), state.nodeAlive(p.node())).map(v -> ReconcileResult.done());
        }
        Set<String> holders = placement == null && intent != null ? state.nodesHolding(volume) : Set.of();
        String adoptFrom = placement == null && intent != null ? intent.value().adoptFromNode() : null;
        if (adoptFrom != null && !holders.equals(Set.of(adoptFrom))
                && !(holders.isEmpty() && intent.value().deletionRequested())) {
            return recover.holdAdopted(leader.get(), volume, adoptFrom, holders);
        }
        if (!holders.isEmpty()) {
            return recover.recoverPlacement(leader.get(), intent, holders);
        }
        String partHeld = intent != null && intent.value().partOf() != null && intent.value().deletionRequested()
                && !deletionOrdered(placement) ? parts.partDeletionRefusal(intent.value()) : null;
        if (partHeld != null) {
            // The part is converged as if no deletion were asked: it keeps serving its volume.
            waitingForRoom.remove(volume);
            return placement == null
                    ? record.writeScheduling(leader.get(), volume, SchedulingPhase.PENDING, FailureReason.PLACEMENT_LOST,
                            Map.of(), partHeld, null, null, true, 0, null).map(v -> ReconcileResult.done())
                    : converge.converge(leader.get(), intent, placement, partHeld);
        }
        if (intent == null || intent.value().deletionRequested() || deletionOrdered(placement)) {
            // Once the node was told to delete, the deletion goes on even if the flag is taken back:
            // the data may already be gone, and a half-deleted volume must not be reported usable.
            waitingForRoom.remove(volume);
            return delete.delete(leader.get(), volume, intent, placement);
        }
        if (placement == null && intent.value().partOf() != null) {
            // A part is placed only with its volume's other parts (a mirror's legs apart from each other);
            // placed alone it would be a new, empty volume passed off as the part.
            return record.writeScheduling(leader.get(), volume, SchedulingPhase.PENDING, FailureReason.PLACEMENT_LOST,
                    Map.of(), "the placement of this part of " + intent.value().partOf() + " is missing and no node holds"
                            + " it; a part is placed only together with its volume", null, null, true, 0, null)
                    .map(v -> ReconcileResult.done());
        }
        if (placement == null) {
            return place.request(volume).map(v -> ReconcileResult.done());
        }
        waitingForRoom.remove(volume);
        return converge.converge(leader.get(), intent, placement, PartsStep.layoutChangeRefusal(intent.value()));
    }

    private boolean deletionOrdered(Versioned<Placement> placement) {
        return placement != null && state.workItem(placement.value().node(), placement.value().volume())
                .map(w -> w.value().deletionRequested()).orElse(false);
    }

    private static Future<ReconcileResult> done() {
        return Future.succeededFuture(ReconcileResult.done());
    }
}
