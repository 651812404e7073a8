package io.ferry.controller;

import io.ferry.placement.Candidate;
import io.ferry.etcd.FerryKeys;
import io.ferry.runtime.reconcile.ReconcileResult;
import io.ferry.etcd.store.Leadership;
import io.ferry.etcd.store.Transaction;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.Condition;
import io.ferry.model.FailureReason;
import io.ferry.model.Ledger;
import io.ferry.model.Placement;
import io.ferry.model.SchedulingPhase;
import io.ferry.model.SnapshotIntent;
import io.ferry.model.SnapshotScheduling;
import io.ferry.model.SnapshotStatus;
import io.ferry.model.SnapshotWorkItem;
import io.ferry.model.VolumePhase;
import io.vertx.core.Future;

import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.function.ToIntFunction;

/**
 * Converges one snapshot. A snapshot lives on its source volume's pool and is charged to that
 * pool's ledger with the source's size; its {@link SnapshotScheduling} record is the allocation
 * record (the analogue of a placement), so the charge is released exactly once, in the same
 * transaction that removes it. Deletion mirrors volumes: withdraw work, wait for the agent, release.
 */
final class SnapshotReconciler {

    private final DecisionContext ctx;
    private final ClusterState state;
    private final FerryKeys keys;
    private final SerialLane lane;
    private final StatusRecords records;
    private final ToIntFunction<String> failedAttempts;
    /**
     * Snapshots whose pool had no room or whose source was not placed yet: retried when capacity
     * changes (a new placement moves its pool's ledger, so a source being placed counts), not on a timer.
     */
    private final WaitingForRoom waitingForRoom = new WaitingForRoom();

    SnapshotReconciler(DecisionContext ctx, SerialLane lane, ToIntFunction<String> failedAttempts) {
        this.ctx = ctx;
        this.state = ctx.state();
        this.keys = ctx.keys();
        this.lane = lane;
        this.failedAttempts = failedAttempts;
        this.records = new StatusRecords(ctx.store(), state);
    }

    /** Whether any snapshots found no room: the controller then retries them when capacity changes. */
    boolean anyWaitingForRoom() {
        return !waitingForRoom.isEmpty();
    }

    /** The snapshots that found no room, to retry now that capacity changed. */
    List<String> waitingForRoom() {
        return waitingForRoom.names();
    }

    /** One pass; a failed one is shown in the snapshot's record, as for volumes. */
    Future<ReconcileResult> reconcile(String snapshot) {
        int failedBefore = failedAttempts.applyAsInt(snapshot);
        Future<ReconcileResult> pass;
        try {
            pass = decide(snapshot);
        } catch (RuntimeException e) {
            pass = Future.failedFuture(e);
        }
        return pass.recover(error -> recordFailure(snapshot, error, failedBefore + 1)
                .transform(ar -> Future.failedFuture(error)));
    }

    private Future<ReconcileResult> decide(String snapshot) {
        Optional<Leadership> leader = ctx.leadership().get();
        if (leader.isEmpty()) {
            return done();
        }
        waitingForRoom.remove(snapshot);
        Optional<String> bad = state.badSnapshot(snapshot);
        if (bad.isPresent()) {
            return write(leader.get(), snapshot, SchedulingPhase.INVALID, FailureReason.INVALID_INTENT,
                    "invalid snapshot intent: " + bad.get(), null, null, 0).map(v -> ReconcileResult.done());
        }
        Versioned<SnapshotIntent> intent = state.snapshotIntent(snapshot).orElse(null);
        Versioned<SnapshotScheduling> scheduled = state.snapshotScheduling(snapshot).orElse(null);
        boolean placed = scheduled != null && scheduled.value().phase() == SchedulingPhase.PLACED
                || scheduled != null && scheduled.value().phase() == SchedulingPhase.DELETING;
        boolean ordered = placed && state.snapshotWorkItem(scheduled.value().node(), snapshot)
                .map(w -> w.value().deletionRequested()).orElse(false);
        if (intent == null || intent.value().deletionRequested() || ordered) {
            return delete(leader.get(), snapshot, intent, placed ? scheduled : null);
        }
        if (!placed) {
            return lane.submit(() -> place(snapshot)).map(v -> ReconcileResult.done());
        }
        SnapshotScheduling s = scheduled.value();
        if (state.snapshotWorkItem(s.node(), snapshot).isEmpty()) {
            return ctx.store().txn().requireLeadership(leader.get())
                    .requireModRevision(keys.snapshotScheduling(snapshot), scheduled.modRevision())
                    .put(keys.snapshotWorkItem(s.node(), snapshot), workFor(intent.value(), s))
                    .commit().map(v -> ReconcileResult.done());
        }
        return done();
    }

    private Future<Void> place(String snapshot) {
        Optional<Leadership> leader = ctx.leadership().get();
        Versioned<SnapshotIntent> intent = state.snapshotIntent(snapshot).orElse(null);
        Versioned<SnapshotScheduling> scheduled = state.snapshotScheduling(snapshot).orElse(null);
        if (leader.isEmpty() || intent == null || intent.value().deletionRequested()
                || scheduled != null && scheduled.value().phase() == SchedulingPhase.PLACED) {
            return Future.succeededFuture();
        }
        String source = intent.value().sourceVolume();
        Optional<String> unsupported = PartsStep.layoutRefusal(state, source, "snapshotting");
        if (unsupported.isPresent()) {
            return write(leader.get(), snapshot, SchedulingPhase.NO_FIT, FailureReason.LAYOUT_UNSUPPORTED,
                    unsupported.get(), null, null, 0);
        }
        Placement origin = state.placement(source).map(Versioned::value).orElse(null);
        if (origin == null) {
            waitingForRoom.add(snapshot);
            return write(leader.get(), snapshot, SchedulingPhase.NO_FIT, FailureReason.SOURCE_NOT_PLACED,
                    "source volume " + source + " is not placed", null, null, 0);
        }
        Candidate pool = state.candidate(origin.pool()).orElse(null);
        if (pool == null) {
            // The pool's config may come back; a config change is a capacity change.
            waitingForRoom.add(snapshot);
            return write(leader.get(), snapshot, SchedulingPhase.NO_FIT, FailureReason.POOL_CANNOT_SNAPSHOT,
                    "pool " + origin.pool() + " of source volume " + source + " has no config: nothing can be charged"
                            + " for the snapshot", null, null, 0);
        }
        if (pool.free(origin.thin()) < origin.sizeBytes()) {
            waitingForRoom.add(snapshot);
            long free = Math.max(0, pool.free(origin.thin()));
            return write(leader.get(), snapshot, SchedulingPhase.NO_FIT, FailureReason.NO_SPACE, "pool " + origin.pool()
                    + " has " + free + " bytes free, the snapshot needs " + origin.sizeBytes(), null, null, 0);
        }
        Ledger ledger = pool.ledger().add(origin.sizeBytes());
        SnapshotScheduling next = record(snapshot, SchedulingPhase.PLACED, null, null, origin.node(), origin.pool(),
                origin.sizeBytes(), intent.modRevision());
        String key = keys.snapshotScheduling(snapshot);
        return ctx.store().txn().requireLeadership(leader.get())
                .requireModRevision(keys.snapshot(snapshot), intent.modRevision())
                .requireModRevision(key, scheduled == null ? 0 : scheduled.modRevision())
                .requireModRevision(keys.ledger(origin.pool()), pool.ledgerRevision())
                .put(key, next)
                .put(keys.ledger(origin.pool()), ledger)
                .put(keys.snapshotWorkItem(origin.node(), snapshot), workFor(intent.value(), next))
                .commit().map(outcome -> {
                    if (outcome.succeeded()) {
                        state.wroteScheduling(key, next, outcome.revision());
                        state.wroteLedger(ledger, outcome.revision());
                        return null;
                    }
                    ctx.metrics().conflict();
                    throw new IllegalStateException("placing snapshot " + snapshot + " lost a race; retrying");
                });
    }

    private Future<ReconcileResult> delete(Leadership leader, String snapshot, Versioned<SnapshotIntent> intent,
                                           Versioned<SnapshotScheduling> placed) {
        if (placed == null) {
            Transaction txn = ctx.store().txn().requireLeadership(leader).delete(keys.snapshotScheduling(snapshot));
            if (intent != null) {
                txn.requireModRevision(keys.snapshot(snapshot), intent.modRevision()).delete(keys.snapshot(snapshot));
            } else if (state.snapshotScheduling(snapshot).isEmpty()) {
                return done();
            }
            return txn.commit().map(v -> ReconcileResult.done());
        }
        SnapshotScheduling s = placed.value();
        List<String> users = state.volumesFromSnapshot(snapshot);
        if (!users.isEmpty()) {
            return write(leader, snapshot, SchedulingPhase.DELETING, null, "waiting for the volumes made from it to be deleted first: "
                    + String.join(", ", users), s.node(), s.pool(), s.sizeBytes()).map(v -> ReconcileResult.done());
        }
        // As for volumes: the node deletes only on an explicit order and acknowledges it with a
        // Deleted status of the order's generation; a missing work item deletes nothing.
        Versioned<SnapshotWorkItem> work = state.snapshotWorkItem(s.node(), snapshot).orElse(null);
        if (work == null && intent != null || work != null && !work.value().deletionRequested()) {
            SnapshotWorkItem live = work != null ? work.value() : workFor(intent.value(), s);
            SnapshotWorkItem order = live.deletion(live.generation() + 1);
            String workKey = keys.snapshotWorkItem(s.node(), snapshot);
            return write(leader, snapshot, SchedulingPhase.DELETING, null, "removing the snapshot from " + s.node(),
                    s.node(), s.pool(), s.sizeBytes())
                    .compose(v -> ctx.store().txn().requireLeadership(leader)
                            .requireModRevision(workKey, work == null ? 0 : work.modRevision())
                            .put(workKey, order).commit())
                    .map(v -> ReconcileResult.done());
        }
        SnapshotStatus status = state.snapshotStatus(s.node(), snapshot).orElse(null);
        boolean acknowledged = work == null || status != null && status.phase() == VolumePhase.DELETED
                && status.observedGeneration() >= work.value().generation();
        boolean neverReported = status == null && !state.nodeAlive(s.node());
        if (!acknowledged && !neverReported) {
            String wait = state.nodeAlive(s.node()) ? "waiting for " + s.node() + " to remove the snapshot"
                    : "waiting for node " + s.node() + " to come back and remove the snapshot (it is down)";
            return write(leader, snapshot, SchedulingPhase.DELETING, null, wait, s.node(), s.pool(), s.sizeBytes())
                    .map(v -> ReconcileResult.done());
        }
        return lane.submit(() -> release(snapshot)).map(v -> ReconcileResult.done());
    }

    private Future<Void> release(String snapshot) {
        Optional<Leadership> leader = ctx.leadership().get();
        Versioned<SnapshotScheduling> placed = state.snapshotScheduling(snapshot).orElse(null);
        if (leader.isEmpty() || placed == null) {
            return Future.succeededFuture();
        }
        SnapshotScheduling s = placed.value();
        Versioned<Ledger> ledger = state.ledger(s.pool()).orElse(null);
        Ledger released = ledger == null || s.sizeBytes() == 0 || ledger.value().allocatedBytes() < s.sizeBytes()
                ? (ledger == null ? Ledger.empty(s.pool()) : ledger.value())
                : ledger.value().release(s.sizeBytes());
        Versioned<SnapshotIntent> intent = state.snapshotIntent(snapshot).orElse(null);
        String key = keys.snapshotScheduling(snapshot);
        Transaction txn = ctx.store().txn().requireLeadership(leader.get())
                .requireModRevision(key, placed.modRevision())
                .requireModRevision(keys.ledger(s.pool()), ledger == null ? 0 : ledger.modRevision())
                .delete(key)
                .delete(keys.snapshotWorkItem(s.node(), snapshot))
                .put(keys.ledger(s.pool()), released);
        if (intent != null) {
            txn.requireModRevision(keys.snapshot(snapshot), intent.modRevision()).delete(keys.snapshot(snapshot));
        }
        return txn.commit().map(outcome -> {
            if (outcome.succeeded()) {
                state.removedScheduling(key, outcome.revision());
                state.wroteLedger(released, outcome.revision());
                return null;
            }
            ctx.metrics().conflict();
            throw new IllegalStateException("releasing snapshot " + snapshot + " lost a race; retrying");
        });
    }

    private SnapshotWorkItem workFor(SnapshotIntent intent, SnapshotScheduling s) {
        Placement origin = state.placement(intent.sourceVolume()).map(Versioned::value).orElse(null);
        var engine = origin != null ? origin.engine() : state.candidate(s.pool()).map(c -> c.config().engine()).orElseThrow();
        return SnapshotWorkItem.of(intent.name(), s.node(), intent.sourceVolume(), s.pool(), engine,
                Math.max(s.sizeBytes(), 1), 1);
    }

    /** Writes the snapshot's record, only when it says something new; {@code why} types a refusal. */
    private Future<Void> write(Leadership leader, String snapshot, SchedulingPhase phase, FailureReason why, String message,
                               String node, String pool, long sizeBytes) {
        Versioned<SnapshotScheduling> current = state.snapshotScheduling(snapshot).orElse(null);
        long observed = state.snapshotIntent(snapshot).map(Versioned::modRevision).orElse(0L);
        SnapshotScheduling next = record(snapshot, phase, why, message, node, pool, sizeBytes, observed);
        if (current != null && sameRecord(current.value(), next)) {
            return Future.succeededFuture();
        }
        String key = keys.snapshotScheduling(snapshot);
        return records.replace(leader, key, current, next);
    }

    /** The record a pass writes, with its conditions, transition times carried from the one it replaces. */
    private SnapshotScheduling record(String snapshot, SchedulingPhase phase, FailureReason why, String message, String node,
                                      String pool, long sizeBytes, long observed) {
        List<Condition> previous = state.snapshotScheduling(snapshot).map(v -> v.value().conditions()).orElse(List.of());
        boolean placed = node != null && (phase == SchedulingPhase.PLACED || phase == SchedulingPhase.DELETING);
        List<Condition> conditions = RecordConditions.of(
                RecordConditions.scheduled(placed, why != null ? why : FailureReason.RETRYING, message, observed),
                RecordConditions.reconciled(previous, failedAttempts.applyAsInt(snapshot), observed));
        return SnapshotScheduling.of(snapshot, phase, message, node, pool, sizeBytes, observed, ctx.clock().instant())
                .withConditions(Condition.carryTransitions(previous, conditions, ctx.clock().instant()));
    }

    private static boolean sameRecord(SnapshotScheduling a, SnapshotScheduling b) {
        return a.phase() == b.phase() && Objects.equals(a.message(), b.message()) && Objects.equals(a.node(), b.node())
                && Objects.equals(a.pool(), b.pool()) && a.sizeBytes() == b.sizeBytes()
                && a.observedRevision() == b.observedRevision() && a.conditions().equals(b.conditions());
    }

    /**
     * Shows a failed pass in the snapshot's record ({@code Reconciled} false with the attempts or the
     * terminal reason; for a snapshot without a record yet, {@code Scheduled} false with the same
     * reason), as for volumes. A record that cannot be written is skipped.
     */
    private Future<Void> recordFailure(String snapshot, Throwable error, int attempt) {
        Optional<Leadership> leader = ctx.leadership().get();
        Versioned<SnapshotIntent> intent = state.snapshotIntent(snapshot).orElse(null);
        if (leader.isEmpty() || intent == null || RecordConditions.unwritable(error)) {
            return Future.succeededFuture();
        }
        Versioned<SnapshotScheduling> current = state.snapshotScheduling(snapshot).orElse(null);
        long observed = intent.modRevision();
        Condition failed = RecordConditions.failed(error, attempt, observed);
        SnapshotScheduling base = current != null ? current.value()
                : SnapshotScheduling.of(snapshot, SchedulingPhase.PENDING, failed.message(), null, null, 0, observed,
                        ctx.clock().instant());
        List<Condition> conditions = Condition.put(base.conditions(), failed);
        Condition scheduled = base.condition(Condition.SCHEDULED).orElse(null);
        if (scheduled == null || !scheduled.status() && failed.failureReason().terminal()) {
            conditions = Condition.put(conditions, RecordConditions.scheduled(false, failed.failureReason(), failed.message(),
                    observed));
        }
        SnapshotScheduling next = base.withConditions(Condition.carryTransitions(base.conditions(), conditions, ctx.clock().instant()));
        if (current != null && sameRecord(current.value(), next)) {
            return Future.succeededFuture();
        }
        return records.replace(leader.get(), keys.snapshotScheduling(snapshot), current, next).otherwiseEmpty();
    }

    private static Future<ReconcileResult> done() {
        return Future.succeededFuture(ReconcileResult.done());
    }
}
