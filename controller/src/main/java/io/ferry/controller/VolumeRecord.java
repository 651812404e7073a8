package io.ferry.controller;

import io.ferry.etcd.store.Leadership;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.Condition;
import io.ferry.model.FailureReason;
import io.ferry.model.SchedulingPhase;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeScheduling;
import io.vertx.core.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.ToIntFunction;

/**
 * The controller's record of a volume ({@code controller/volumes/<vol>}): the one place that turns
 * what a step decided, or a failed pass, into what readers decide on, and writes it only when it
 * says something new.
 */
final class VolumeRecord {

    private static final Logger log = LoggerFactory.getLogger(VolumeRecord.class);

    private final DecisionContext ctx;
    private final ClusterState state;
    private final VolumeWork work;
    private final StatusRecords records;
    /** The runtime's count of consecutive failed passes of a volume, shown in its record. */
    private final ToIntFunction<String> failedAttempts;

    VolumeRecord(DecisionContext ctx, VolumeWork work, ToIntFunction<String> failedAttempts) {
        this.ctx = ctx;
        this.state = ctx.state();
        this.work = work;
        this.failedAttempts = failedAttempts;
        this.records = new StatusRecords(ctx.store(), ctx.state());
    }

    /** Writes the controller's status for a volume, only when it says something new. */
    Future<Void> writeScheduling(Leadership leader, String volume, SchedulingPhase phase, Map<String, Integer> reasons,
                                 String message, String node, String pool, boolean reachable) {
        return writeScheduling(leader, volume, phase, null, reasons, message, node, pool, reachable, 0, null);
    }

    /**
     * @param why          the typed reason the volume is not placed (phases other than Placed and
     *                     Deleting); null takes the phase's own (NoFit, InvalidIntent)
     * @param resizeRefused why the intent's size is refused (NoSpace with {@code growRefusedBytes},
     *                     ShrinkRefused), or null
     */
    Future<Void> writeScheduling(Leadership leader, String volume, SchedulingPhase phase, FailureReason why,
            Map<String, Integer> reasons, String message, String node, String pool, boolean reachable,
            long growRefusedBytes, FailureReason resizeRefused) {
        long observed = state.intent(volume).map(Versioned::modRevision).orElse(0L);
        return write(leader, record(volume, phase, why, reasons, message, node, pool, reachable, observed,
                growRefusedBytes, resizeRefused));
    }

    /**
     * Writes the record of a volume of several parts, only when it says something new. Such a volume
     * has no placement of its own: {@code node} and {@code pool} are its first part's, which the
     * record's schema asks for once placed, and {@code reachability} says which of its parts' nodes
     * are down.
     */
    Future<Void> writeMultiPart(Leadership leader, String volume, SchedulingPhase phase, Map<String, Integer> reasons,
            String message, String node, String pool, Condition reachability, FailureReason resizeRefused) {
        return writeMultiPart(leader, volume, phase, reasons, message, node, pool, reachability, resizeRefused, null, 0);
    }

    /**
     * @param legReplaced      a mirror's {@link Condition#LEG_REPLACED}, or null while none of its legs was declared lost
     * @param growRefusedBytes the size the volume could not grow to for want of room, or 0
     */
    Future<Void> writeMultiPart(Leadership leader, String volume, SchedulingPhase phase, Map<String, Integer> reasons,
            String message, String node, String pool, Condition reachability, FailureReason resizeRefused,
            Condition legReplaced, long growRefusedBytes) {
        return writeMultiPart(leader, volume, phase, reasons, message, node, pool, reachability, resizeRefused, legReplaced,
                null, growRefusedBytes);
    }

    /** @param legMoved a mirror's {@link Condition#LEG_MOVED}, or null while none of its legs is asked to move */
    Future<Void> writeMultiPart(Leadership leader, String volume, SchedulingPhase phase, Map<String, Integer> reasons,
            String message, String node, String pool, Condition reachability, FailureReason resizeRefused,
            Condition legReplaced, Condition legMoved, long growRefusedBytes) {
        long observed = state.intent(volume).map(Versioned::modRevision).orElse(0L);
        return write(leader, record(volume, phase, null, reasons, message, node, pool, reachability.status(), reachability,
                observed, growRefusedBytes, resizeRefused, legReplaced, legMoved));
    }

    /** The record {@link #writeMultiPart} writes, for a transaction that writes it with the parts. */
    VolumeScheduling multiPartRecord(String volume, SchedulingPhase phase, String message, String node, String pool,
            Condition reachability, long observed, FailureReason resizeRefused) {
        return record(volume, phase, null, Map.of(), message, node, pool, reachability.status(), reachability, observed, 0,
                resizeRefused, null, null);
    }

    private Future<Void> write(Leadership leader, VolumeScheduling next) {
        String volume = next.volume();
        Versioned<VolumeScheduling> current = state.volumeScheduling(volume).orElse(null);
        if (current != null && sameRecord(current.value(), next)) {
            return Future.succeededFuture();
        }
        String key = ctx.keys().volumeScheduling(volume);
        return records.replace(leader, key, current, next);
    }

    /**
     * The record a pass writes, conditions included. Transition times are carried from the record it
     * replaces.
     */
    VolumeScheduling record(String volume, SchedulingPhase phase, FailureReason why, Map<String, Integer> reasons,
            String message, String node, String pool, boolean reachable, long observed, long growRefusedBytes,
            FailureReason resizeRefused) {
        return record(volume, phase, why, reasons, message, node, pool, reachable,
                node == null ? null : RecordConditions.reachable(node, reachable, observed), observed, growRefusedBytes,
                resizeRefused, null, null);
    }

    private VolumeScheduling record(String volume, SchedulingPhase phase, FailureReason why, Map<String, Integer> reasons,
            String message, String node, String pool, boolean reachable, Condition reachability, long observed,
            long growRefusedBytes, FailureReason resizeRefused, Condition legReplaced, Condition legMoved) {
        List<Condition> previous = state.volumeScheduling(volume).map(v -> v.value().conditions()).orElse(List.of());
        boolean placed = node != null && (phase == SchedulingPhase.PLACED || phase == SchedulingPhase.DELETING);
        FailureReason unplaced = why != null ? why
                : phase == SchedulingPhase.INVALID ? FailureReason.INVALID_INTENT
                : phase == SchedulingPhase.NO_FIT ? FailureReason.NO_FIT : FailureReason.RETRYING;
        Condition resized = null;
        if (resizeRefused == FailureReason.NO_SPACE) {
            resized = VolumeScheduling.growRefused(growRefusedBytes, message, observed);
        } else if (resizeRefused != null) {
            resized = Condition.failed(Condition.RESIZED, resizeRefused, message, observed, 0);
        }
        List<Condition> conditions = RecordConditions.of(
                RecordConditions.scheduled(placed, unplaced, message, observed),
                resized,
                reachability,
                legReplaced,
                legMoved,
                placed ? work.attachmentRefusal(volume, observed) : null,
                RecordConditions.reconciled(previous, failedAttempts.applyAsInt(volume), observed));
        return VolumeScheduling.of(volume, phase, reasons, message, node, pool, reachable, observed, ctx.clock().instant())
                .withGrowRefused(growRefusedBytes)
                .withConditions(Condition.carryTransitions(previous, conditions, ctx.clock().instant()));
    }

    /**
     * Shows a failed pass in the volume's record: {@code Reconciled} false with the attempt count (or
     * the terminal reason), and, for a volume not placed yet, {@code Scheduled} false with the same
     * reason, so that a terminal failure caused by another key (a ledger that does not decode) is
     * answered at once with the generation it applies to. A record that cannot be written (etcd is
     * down, leadership lost) is skipped: the next pass that succeeds shows the count.
     */
    Future<Void> recordFailure(String volume, Throwable error, int attempt) {
        Optional<Leadership> leader = ctx.leadership().get();
        Versioned<VolumeIntent> intent = state.intent(volume).orElse(null);
        if (leader.isEmpty() || intent == null || RecordConditions.unwritable(error)) {
            return Future.succeededFuture();
        }
        Versioned<VolumeScheduling> current = state.volumeScheduling(volume).orElse(null);
        long observed = intent.modRevision();
        Condition failed = RecordConditions.failed(error, attempt, observed);
        VolumeScheduling base = current != null ? current.value()
                : VolumeScheduling.of(volume, SchedulingPhase.PENDING, Map.of(), failed.message(), null, null, true, observed,
                        ctx.clock().instant());
        List<Condition> conditions = Condition.put(base.conditions(), failed);
        Condition scheduled = base.condition(Condition.SCHEDULED).orElse(null);
        // A placed volume stays placed; a typed refusal already recorded (NoFit...) is not hidden by
        // a pass that merely has to be retried, but a terminal failure is what a waiting caller must see.
        boolean refusal = scheduled == null || !scheduled.status() && failed.failureReason().terminal();
        if (refusal) {
            conditions = Condition.put(conditions, RecordConditions.scheduled(false, failed.failureReason(), failed.message(),
                    observed));
        }
        VolumeScheduling next = new VolumeScheduling(base.schemaVersion(), volume, base.phase(), base.reasonCounts(),
                refusal ? failed.message() : base.message(), base.node(), base.pool(), base.reachable(), observed,
                ctx.clock().instant(), base.growRefusedBytes(),
                Condition.carryTransitions(base.conditions(), conditions, ctx.clock().instant()));
        if (current != null && sameRecord(current.value(), next)) {
            return Future.succeededFuture();
        }
        return records.replace(leader.get(), ctx.keys().volumeScheduling(volume), current, next)
                .onFailure(e -> log.debug("could not record the failure of {} ({}); the next pass will", volume, e.toString()))
                .otherwiseEmpty();
    }

    /** Whether two records say the same, their time of writing aside. */
    private static boolean sameRecord(VolumeScheduling a, VolumeScheduling b) {
        return a.phase() == b.phase() && a.reasonCounts().equals(b.reasonCounts()) && Objects.equals(a.message(), b.message())
                && Objects.equals(a.node(), b.node()) && Objects.equals(a.pool(), b.pool()) && a.reachable() == b.reachable()
                && a.growRefusedBytes() == b.growRefusedBytes() && a.observedRevision() == b.observedRevision()
                && a.conditions().equals(b.conditions());
    }
}
