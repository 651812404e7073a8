package io.ferry.controller;

import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.Leadership;
import io.ferry.etcd.store.Transaction;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.Condition;
import io.ferry.model.Engine;
import io.ferry.model.FailureReason;
import io.ferry.model.GlobalConfig;
import io.ferry.model.Layout;
import io.ferry.model.Ledger;
import io.ferry.model.PartNames;
import io.ferry.model.Placement;
import io.ferry.model.SchedulingPhase;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeParts;
import io.ferry.model.VolumeScheduling;
import io.ferry.model.WorkItem;
import io.ferry.placement.Candidate;
import io.ferry.placement.PartsDecision;
import io.ferry.placement.Request;
import io.ferry.placement.Scheduler;
import io.ferry.placement.ScoringPolicy;
import io.ferry.runtime.reconcile.ReconcileResult;
import io.vertx.core.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.UUID;

/**
 * The parts step, for a volume of several parts (layout {@code linear}, {@code striped} or {@code mirror},
 * docs/layouts.md). Such a volume has no placement, work item or status of its own: each part is an
 * ordinary volume ({@code <vol>--p<i>}) with its own intent, which the other steps converge and delete
 * like any volume. This step places every part in one transaction, keeps the parts' intents in place
 * while the volume lives, says in the volume's record where its parts are and whether their nodes are
 * up, refuses what multi-part volumes cannot do yet, and deletes the volume by asking each part to be
 * deleted and removing the volume's keys once no part is left.
 *
 * <p>Every write is guarded by leadership and by what it was decided on, and each pass starts from
 * what etcd holds, so a controller that stops between any two writes is resumed by the next leader.
 */
final class PartsStep {

    private static final Logger log = LoggerFactory.getLogger(PartsStep.class);

    private final DecisionContext ctx;
    private final ClusterState state;
    private final FerryKeys keys;
    private final SerialLane lane;
    private final Scheduler scheduler;
    private final VolumeWork work;
    private final VolumeRecord record;
    private final WaitingForRoom waitingForRoom;
    private final PlaceStep place;
    private final PartsDeletion deletion;
    private final PartsRecords records;
    private final LegReplacement replacement;
    private final LegMigration migration;
    private final PartsGrowth growth;

    PartsStep(DecisionContext ctx, SerialLane lane, Scheduler scheduler, VolumeWork work, VolumeRecord record,
              WaitingForRoom waitingForRoom, PlaceStep place, DeleteStep delete) {
        this.ctx = ctx;
        this.state = ctx.state();
        this.keys = ctx.keys();
        this.lane = lane;
        this.scheduler = scheduler;
        this.work = work;
        this.record = record;
        this.waitingForRoom = waitingForRoom;
        this.place = place;
        this.deletion = new PartsDeletion(ctx, record, delete, this);
        this.records = new PartsRecords(state);
        this.replacement = new LegReplacement(ctx, scheduler, waitingForRoom, place, this);
        this.migration = new LegMigration(ctx, scheduler, waitingForRoom, place, this, replacement);
        this.growth = new PartsGrowth(ctx, waitingForRoom);
    }

    /**
     * Whether this step takes the volume: its parts are placed, or its intent asks for several parts
     * and it is not placed as a volume of one part. The layout of a placed volume never changes: a
     * volume of one part whose intent is edited to a mirror stays one part (its record says so, see
     * {@link #layoutChangeRefusal}), and a mirror edited to {@code single} stays a mirror.
     */
    boolean multiPart(String volume, Versioned<VolumeIntent> intent) {
        if (state.volumeParts(volume).isPresent()) {
            return true;
        }
        return intent != null && intent.value().layout().multiPart() && state.placement(volume).isEmpty()
                && state.nodesHolding(volume).isEmpty();
    }

    /** What the record of a placed volume of one part says when its intent asks for another layout, or null. */
    static String layoutChangeRefusal(VolumeIntent spec) {
        return spec.layout().multiPart() ? "the layout of a placed volume cannot be changed: it stays single, not "
                + spec.layout() : null;
    }

    /** Takes a multi-part volume one step further: placed, converged, or deleted. */
    Future<ReconcileResult> reconcile(Leadership leader, String volume, Versioned<VolumeIntent> intent) {
        Versioned<VolumeParts> parts = state.volumeParts(volume).orElse(null);
        if (intent == null) {
            return kept(leader, volume, parts.value()).map(v -> ReconcileResult.done());
        }
        if (intent.value().deletionRequested()) {
            waitingForRoom.remove(volume);
            return deletion.deleteParts(leader, intent, parts);
        }
        if (parts == null) {
            return lane.submit(() -> place(volume)).map(v -> ReconcileResult.done());
        }
        waitingForRoom.remove(volume);
        return converge(leader, intent, parts).map(v -> ReconcileResult.done());
    }

    /** Why the deletion of a part must not go on, or null when its volume asks for deletion: {@link PartsDeletion}. */
    String partDeletionRefusal(VolumeIntent part) {
        return deletion.partDeletionRefusal(part);
    }

    /**
     * Why a request on {@code volume} (snapshotting, cloning) is refused because the volume
     * has several parts or is a part of one, or empty when it is a volume of one part.
     */
    static Optional<String> layoutRefusal(ClusterState state, String volume, String request) {
        Optional<String> owner = ClusterState.partOf(volume);
        if (owner.isPresent()) {
            return Optional.of(request + " " + volume + " is not supported: it is a part of volume " + owner.get());
        }
        Layout layout = state.intent(volume).map(v -> v.value().layout())
                .orElse(state.volumeParts(volume).map(p -> p.value().layout()).orElse(Layout.SINGLE));
        return layout.multiPart()
                ? Optional.of(request + " " + volume + " is not supported yet: it is a " + layout + " volume of several parts")
                : Optional.empty();
    }

    /** The decision the scheduler would make now for every part, with each leg's verdicts; changes nothing. */
    PartsDecision explain(VolumeIntent spec) {
        return decide(spec, true);
    }

    private PartsDecision decide(VolumeIntent spec, boolean explain) {
        GlobalConfig global = state.globalConfig();
        if (spec.layout() == Layout.MIRROR) {
            // Each leg holds md's metadata before the volume's bytes; the pools must have room for both.
            Request request = place.requestFor(spec.withSizeBytes(VolumeParts.mirrorLegBytes(spec.sizeBytes())));
            return scheduler.decideLegs(request, spec.parts(), state.candidates(), global,
                    ScoringPolicy.named(global.schedulerPolicy()), explain);
        }
        if (spec.layout() == Layout.STRIPED) {
            // Each stripe is placed as a single volume of its size: every filter and the scoring apply to it.
            VolumeIntent stripe = spec.toBuilder().layout(Layout.SINGLE).parts(1)
                    .sizeBytes(spec.sizeBytes() / spec.parts()).build();
            return scheduler.decideStripes(place.requestFor(stripe), spec.parts(), state.candidates(), global,
                    ScoringPolicy.named(global.schedulerPolicy()), explain);
        }
        return scheduler.decideSegments(place.requestFor(spec), spec.parts(), state.candidates(), global);
    }

    // ---- placing every part at once ----

    /** One part as its placement commits it. */
    record PlannedPart(VolumeParts.Part part, Candidate pool, VolumeIntent intent, Placement placement,
                               WorkItem work, VolumeScheduling scheduled) {
    }

    /**
     * Places every part in one transaction, all or none: a volume half placed would hold capacity for
     * nothing. The transaction holds the parts record (a mirror's array UUID chosen here, once), each
     * part's intent, placement, work item and record, every pool's ledger and the volume's record,
     * guarded by leadership, the volume's intent, the absence of everything it creates and every
     * ledger it read. A lost race is retried by the runtime with a fresh decision.
     */
    private Future<Void> place(String volume) {
        Optional<Leadership> leader = ctx.leadership().get();
        Versioned<VolumeIntent> intent = state.intent(volume).orElse(null);
        if (leader.isEmpty() || intent == null || intent.value().deletionRequested() || !intent.value().layout().multiPart()
                || state.volumeParts(volume).isPresent() || state.placement(volume).isPresent()) {
            return Future.succeededFuture();
        }
        VolumeIntent spec = intent.value();
        List<String> orphaned = partsWithoutRecord(volume);
        if (!orphaned.isEmpty()) {
            // parts/<vol> was removed by hand: placing the volume again would put new, empty parts
            // beside the ones holding its data (and the guards on their keys would refuse it forever).
            waitingForRoom.remove(volume);
            return record.writeScheduling(leader.get(), volume, SchedulingPhase.PENDING, FailureReason.PLACEMENT_LOST,
                    Map.of(), "the record of the volume's parts (parts/" + volume + ") is missing while parts of it exist: "
                            + String.join(", ", orphaned) + "; nothing is placed again. Put the record back, or delete"
                            + " the volume", null, null, true, 0, null);
        }
        PartsDecision decision = decide(spec, false);
        if (!decision.placed()) {
            waitingForRoom.add(volume);
            ctx.metrics().refused(decision.reasonCounts());
            return record.writeScheduling(leader.get(), volume, SchedulingPhase.NO_FIT, decision.reasonCounts(),
                    decision.refusal(), null, null, true);
        }
        waitingForRoom.remove(volume);
        Instant now = ctx.clock().instant();
        List<PlannedPart> planned = new ArrayList<>();
        Map<String, Ledger> ledgers = new LinkedHashMap<>();
        Map<String, Long> ledgerRevisions = new LinkedHashMap<>();
        for (int i = 0; i < decision.parts().size(); i++) {
            PartsDecision.Part chosen = decision.parts().get(i);
            Candidate pool = chosen.pool();
            VolumeParts.Part part = new VolumeParts.Part(PartNames.of(volume, i), i, chosen.sizeBytes());
            planned.add(plan(spec, part, pool, now));
            ledgerRevisions.putIfAbsent(pool.pool(), pool.ledgerRevision());
            ledgers.put(pool.pool(), ledgers.getOrDefault(pool.pool(), pool.ledger()).add(part.sizeBytes()));
        }
        VolumeParts parts = VolumeParts.of(volume, spec.layout(), planned.stream().map(PlannedPart::part).toList(),
                spec.layout() == Layout.MIRROR ? UUID.randomUUID().toString() : null, now);
        PlannedPart first = planned.get(0);
        Map<String, Placement> placements = new TreeMap<>();
        planned.forEach(p -> placements.put(p.part().name(), p.placement()));
        VolumeScheduling volumeRecord = record.multiPartRecord(volume, SchedulingPhase.PLACED,
                PartsRecords.describe(parts, placements::get), first.pool().node(), first.pool().pool(),
                records.reachability(parts, placements::get), intent.modRevision(), null);

        Transaction txn = ctx.store().txn().requireLeadership(leader.get())
                .requireModRevision(keys.volume(volume), intent.modRevision())
                .requireAbsent(keys.volumeParts(volume))
                .requireAbsent(keys.placement(volume))
                .put(keys.volumeParts(volume), parts)
                .put(keys.volumeScheduling(volume), volumeRecord);
        int guards = 4;
        for (PlannedPart p : planned) {
            String name = p.part().name();
            txn.requireAbsent(keys.volume(name))
                    .requireAbsent(keys.placement(name))
                    .put(keys.volume(name), p.intent())
                    .put(keys.placement(name), p.placement())
                    .put(keys.workItem(p.pool().node(), name), p.work())
                    .put(keys.volumeScheduling(name), p.scheduled());
            guards += 2;
        }
        for (Map.Entry<String, Long> ledger : ledgerRevisions.entrySet()) {
            txn.requireModRevision(keys.ledger(ledger.getKey()), ledger.getValue())
                    .put(keys.ledger(ledger.getKey()), ledgers.get(ledger.getKey()));
            guards++;
        }
        if (guards > DecisionContext.MAX_TXN_OPS || txn.writeCount() > DecisionContext.MAX_TXN_OPS) {
            // Four parts take 22 writes and 15 guards; a layout with far more parts needs another commit.
            return Future.failedFuture(new IllegalStateException("placing the " + planned.size() + " parts of " + volume
                    + " takes " + txn.writeCount() + " writes and " + guards + " guards, over etcd's limit of "
                    + DecisionContext.MAX_TXN_OPS + " per transaction"));
        }
        return txn.commit().compose(outcome -> {
            if (!outcome.succeeded()) {
                ctx.metrics().conflict();
                return Future.failedFuture(new IllegalStateException("placing the parts of " + volume
                        + " lost a race (the intent, a ledger or a part's key changed); retrying"));
            }
            long revision = outcome.revision();
            state.wroteParts(parts, revision);
            for (PlannedPart p : planned) {
                state.wroteIntent(p.intent(), revision);
                state.wrotePlacement(p.placement(), revision);
                state.wroteWorkItem(p.work(), revision);
                state.wroteScheduling(keys.volumeScheduling(p.part().name()), p.scheduled(), revision);
                ctx.metrics().placed();
            }
            ledgers.values().forEach(l -> state.wroteLedger(l, revision));
            state.wroteScheduling(keys.volumeScheduling(volume), volumeRecord, revision);
            log.info("placed the {} parts of {} volume {}: {}", planned.size(), spec.layout(), volume,
                    volumeRecord.message());
            return Future.succeededFuture();
        });
    }

    /** The parts of {@code volume} that have an intent or a placement although the volume has no parts record. */
    List<String> partsWithoutRecord(String volume) {
        List<String> found = new ArrayList<>();
        for (int i = 0; i < PartNames.MAX_INDEX; i++) {
            String part = PartNames.of(volume, i);
            if (state.intent(part).isPresent() || state.placement(part).isPresent()) {
                found.add(part);
            }
        }
        return found;
    }

    /**
     * A leg added to a placed mirror (a replacement, or one joining by a move): the parts record
     * {@code next} that names it, and its intent, placement, work item, record and its pool's ledger,
     * in one transaction guarded by leadership, the volume's intent and parts record, the leg's absence
     * and the pool's ledger. The caller adds what else its change writes, commits, and on success calls
     * {@link AddedLeg#wrote}.
     */
    AddedLeg addLeg(Leadership leader, Versioned<VolumeIntent> intent, Versioned<VolumeParts> parts, VolumeParts next,
                    VolumeParts.Part leg, Candidate pool) {
        VolumeIntent spec = intent.value();
        String volume = spec.name();
        String name = leg.name();
        PlannedPart planned = plan(spec, leg, pool, ctx.clock().instant());
        Ledger ledger = pool.ledger().add(leg.sizeBytes());
        Transaction txn = ctx.store().txn().requireLeadership(leader)
                .requireModRevision(keys.volume(volume), intent.modRevision())
                .requireModRevision(keys.volumeParts(volume), parts.modRevision())
                .put(keys.volumeParts(volume), next)
                .requireAbsent(keys.volume(name))
                .requireAbsent(keys.placement(name))
                .put(keys.volume(name), planned.intent())
                .put(keys.placement(name), planned.placement())
                .put(keys.workItem(pool.node(), name), planned.work())
                .put(keys.volumeScheduling(name), planned.scheduled())
                .requireModRevision(keys.ledger(pool.pool()), pool.ledgerRevision())
                .put(keys.ledger(pool.pool()), ledger);
        return new AddedLeg(txn, next, planned, ledger);
    }

    /** {@link #addLeg}'s transaction and what it writes, for the leader's view once it committed. */
    final class AddedLeg {
        final Transaction txn;
        private final VolumeParts next;
        private final PlannedPart planned;
        private final Ledger ledger;

        private AddedLeg(Transaction txn, VolumeParts next, PlannedPart planned, Ledger ledger) {
            this.txn = txn;
            this.next = next;
            this.planned = planned;
            this.ledger = ledger;
        }

        void wrote(long revision) {
            state.wroteParts(next, revision);
            state.wroteIntent(planned.intent(), revision);
            state.wrotePlacement(planned.placement(), revision);
            state.wroteWorkItem(planned.work(), revision);
            state.wroteScheduling(keys.volumeScheduling(planned.part().name()), planned.scheduled(), revision);
            state.wroteLedger(ledger, revision);
            ctx.metrics().placed();
        }
    }

    PlannedPart plan(VolumeIntent spec, VolumeParts.Part part, Candidate pool, Instant now) {
        Engine engine = pool.config().engine();
        String name = part.name();
        VolumeIntent intent = partIntent(spec, part, engine, false, now);
        Placement placement = Placement.of(name, pool.pool(), pool.node(), engine, part.sizeBytes(), spec.thin(), 1,
                spec.consumerNode(), null, null, now);
        WorkItem item = WorkItem.of(name, pool.node(), pool.pool(), engine, part.sizeBytes(), spec.thin(), 1, null,
                work.exportFor(name, pool.node(), engine));
        VolumeScheduling scheduled = record.record(name, SchedulingPhase.PLACED, null, Map.of(), null, pool.node(),
                pool.pool(), state.nodeAlive(pool.node()), 0, 0, null);
        return new PlannedPart(part, pool, intent, placement, item, scheduled);
    }

    /**
     * The intent of a part, as only the controller writes it: a volume of one part on the engine of
     * the pool it was placed on, where the volume's consumer and spreading say, without a filesystem
     * (the consumer formats the assembled device, not a part).
     */
    private static VolumeIntent partIntent(VolumeIntent spec, VolumeParts.Part part, Engine engine, boolean deletion,
                                           Instant now) {
        return VolumeIntent.builder(part.name(), part.sizeBytes())
                .thin(spec.thin())
                .engine(engine)
                .positionAdvice(spec.positionAdvice())
                .consumerNode(spec.consumerNode())
                .spreadGroup(spec.spreadGroup())
                .failureDomainLevel(spec.failureDomainLevel())
                .partOf(spec.name())
                .deletionRequested(deletion)
                .createdBy("controller")
                .createdAt(now)
                .build();
    }

    // ---- a placed multi-part volume ----

    /**
     * Puts back the intent of a part that went missing (removed by hand) while its volume lives: the
     * part's intent is the controller's to write, and without it the part would be held as an
     * intent-less volume. Moves a leg to another pool ({@link LegMigration}), replaces a leg declared
     * lost ({@link LegReplacement}), grows the parts to a larger size ({@link PartsGrowth}). Then records
     * where the parts are, whether their nodes are up, a leg's move, a lost leg's replacement, and a
     * refused resize.
     */
    private Future<Void> converge(Leadership leader, Versioned<VolumeIntent> intent, Versioned<VolumeParts> placed) {
        VolumeIntent spec = intent.value();
        // A linear volume may use fewer segments than its intent allows; a mirror has its legs (and one more
        // while a leg moves), a striped volume its stripes.
        int counted = placed.value().parts().size() - (placed.value().joining().isPresent() ? 1 : 0);
        boolean layoutKept = spec.layout() == placed.value().layout()
                && (placed.value().layout() == Layout.LINEAR || spec.parts() == counted);
        return restoreMissingIntents(leader, spec, placed.value(), false)
                .compose(v -> migration.migrate(leader, intent, placed))
                .compose(legMoved -> replacement.replaceLost(leader, intent,
                        // A move that just ended (a leg declared lost ends it) is what a replacement starts from.
                        state.volumeParts(spec.name()).orElse(placed)).map(legReplaced -> new Changes(legReplaced, legMoved, null)))
                .compose(changes -> {
                    // A move or a replacement just committed changed the parts record: grow from what it is now.
                    Versioned<VolumeParts> current = state.volumeParts(spec.name()).orElse(placed);
                    Future<String> grown = layoutKept && current.modRevision() == placed.modRevision()
                            ? growth.grow(leader, intent, current) : Future.succeededFuture(null);
                    return grown.map(growRefusal -> new Changes(changes.legReplaced(), changes.legMoved(), growRefusal));
                })
                .compose(changes -> {
            Condition legReplaced = changes.legReplaced();
            String growRefusal = changes.growRefusal();
            VolumeParts parts = state.volumeParts(spec.name()).map(Versioned::value).orElse(placed.value());
            boolean shrink = spec.sizeBytes() < parts.assembledBytes();
            String message = records.describe(parts);
            FailureReason resizeRefused = null;
            if (growRefusal != null) {
                message = growRefusal + "; " + message;
                resizeRefused = FailureReason.NO_SPACE;
            } else if (shrink) {
                message = "a " + parts.layout() + " volume cannot shrink: it stays at " + parts.assembledBytes()
                        + " bytes; " + message;
                resizeRefused = FailureReason.LAYOUT_UNSUPPORTED;
            }
            if (!layoutKept) {
                message = "the layout of a placed volume cannot be changed: it stays " + parts.layout() + " of "
                        + parts.parts().size() + " parts; " + message;
            }
            Placement first = records.firstPlaced(parts);
            if (first == null) {
                return record.writeScheduling(leader, spec.name(), SchedulingPhase.PENDING, FailureReason.PLACEMENT_LOST,
                        Map.of(), "no part of the volume has a placement: " + records.describe(parts), null, null, true, 0, null);
            }
            return record.writeMultiPart(leader, spec.name(), SchedulingPhase.PLACED, Map.of(), message, first.node(),
                    first.pool(), records.reachability(parts), resizeRefused, legReplaced, changes.legMoved(),
                    growRefusal != null ? spec.sizeBytes() : 0);
        });
    }

    /** What a converging pass changed: a lost leg's replacement, a leg's move, and why the parts could not grow (or null). */
    private record Changes(Condition legReplaced, Condition legMoved, String growRefusal) {
    }

    /**
     * Writes the intents of the parts that have none but whose placement or data is still somewhere,
     * guarded by the volume's intent and parts record: with {@code deletion} the intent asks for the
     * part's deletion at once, as a retired leg's always does (it is deleted whatever its volume
     * asks, and without an intent its placement and ledger would be held forever). A part with
     * neither intent nor placement nor data is gone.
     */
    Future<Void> restoreMissingIntents(Leadership leader, VolumeIntent spec, VolumeParts parts, boolean deletion) {
        List<VolumeIntent> missing = new ArrayList<>();
        List<VolumeParts.Part> every = new ArrayList<>(parts.parts());
        every.addAll(parts.retired());
        for (VolumeParts.Part part : every) {
            if (state.intent(part.name()).isPresent()) {
                continue;
            }
            Placement placement = state.placement(part.name()).map(Versioned::value).orElse(null);
            if (placement == null && state.nodesHolding(part.name()).isEmpty()) {
                continue;
            }
            Engine engine = placement != null ? placement.engine() : spec.engine();
            missing.add(partIntent(spec, part, engine, deletion || parts.isRetired(part.name()), ctx.clock().instant()));
        }
        if (missing.isEmpty()) {
            return Future.succeededFuture();
        }
        Transaction txn = ctx.store().txn().requireLeadership(leader)
                .requireModRevision(keys.volume(spec.name()), state.intent(spec.name()).map(Versioned::modRevision).orElse(0L))
                .requireModRevision(keys.volumeParts(spec.name()),
                        state.volumeParts(spec.name()).map(Versioned::modRevision).orElse(0L));
        missing.forEach(m -> txn.requireAbsent(keys.volume(m.name())).put(keys.volume(m.name()), m));
        return txn.commit().compose(outcome -> {
            if (!outcome.succeeded()) {
                ctx.metrics().conflict();
                return Future.failedFuture(new IllegalStateException("the volume " + spec.name()
                        + " or a part's intent changed while putting back its parts' intents; retrying"));
            }
            missing.forEach(m -> {
                log.warn("the intent of part {} of volume {} was missing; written again{}", m.name(), spec.name(),
                        deletion ? " with its deletion, as its volume is being deleted"
                                : m.deletionRequested() ? " with its deletion, as its mirror retired it" : "");
                state.wroteIntent(m, outcome.revision());
            });
            return Future.succeededFuture();
        });
    }

    /**
     * Adds to {@code txn} the request to delete {@code leg}, a leg the same transaction retires,
     * guarded by its intent as read: the leg goes by the usual deletion protocol and is released from
     * its ledger by its own node. An intent missing here is written back with its deletion once the
     * parts record retires the leg ({@link #restoreMissingIntents}). Returns the intent it writes, or null.
     */
    VolumeIntent requestLegDeletion(Transaction txn, String leg) {
        Versioned<VolumeIntent> legIntent = state.intent(leg).orElse(null);
        if (legIntent == null) {
            txn.requireAbsent(keys.volume(leg));
            return null;
        }
        txn.requireModRevision(keys.volume(leg), legIntent.modRevision());
        if (legIntent.value().deletionRequested()) {
            return null;
        }
        VolumeIntent deletion = legIntent.value().withDeletionRequested();
        txn.put(keys.volume(leg), deletion);
        return deletion;
    }

    /** The record of a multi-part volume whose intent was removed by hand: nothing is deleted. */
    private Future<Void> kept(Leadership leader, String volume, VolumeParts parts) {
        Placement first = records.firstPlaced(parts);
        String message = VolumeReconciler.INTENT_REMOVED + "; its parts are kept: " + records.describe(parts);
        if (first == null) {
            return record.writeScheduling(leader, volume, SchedulingPhase.PENDING, FailureReason.PLACEMENT_LOST, Map.of(),
                    message, null, null, true, 0, null);
        }
        return record.writeMultiPart(leader, volume, SchedulingPhase.PLACED, Map.of(), message, first.node(), first.pool(),
                records.reachability(parts), null);
    }

}
