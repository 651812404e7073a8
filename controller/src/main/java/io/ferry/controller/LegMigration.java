package io.ferry.controller;

import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.Leadership;
import io.ferry.etcd.store.Transaction;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.Attachment;
import io.ferry.model.Condition;
import io.ferry.model.FailureReason;
import io.ferry.model.GlobalConfig;
import io.ferry.model.Layout;
import io.ferry.model.MirrorReport;
import io.ferry.model.NodeDrain;
import io.ferry.model.PartMove;
import io.ferry.model.PartNames;
import io.ferry.model.Placement;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeParts;
import io.ferry.placement.Candidate;
import io.ferry.placement.PartsDecision;
import io.ferry.placement.Request;
import io.ferry.placement.Scheduler;
import io.ferry.placement.ScoringPolicy;
import io.vertx.core.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The controller's half of moving a mirror's leg to another pool while the volume stays in use
 * (docs/layouts.md, "Live migration"). An operator lists the leg in the volume's {@code moveParts};
 * this places a blank leg that joins the mirror as an extra member ({@code movesFrom} naming the leg
 * it takes over from), in one transaction guarded like a replacement's (leadership, the volume's
 * intent, its parts record, the new leg's absence, the chosen pool's ledger). The consumer adds it to
 * the running array and md rebuilds it; the leg it moves from stays a member all along, so the mirror
 * never has fewer copies than its count.
 *
 * <p>The move ends in one more guarded transaction: done once the consumer the volume is attached to
 * reports the new leg in sync in this mirror's array (the joining leg takes the old one's place and the
 * old one is retired and deleted, its ledger released by its own node), or given up when the operator
 * takes the request back or declares the joining leg lost (the joining leg is retired and deleted, the
 * old one stays). A controller stopped anywhere leaves the parts record either before or after one of
 * these transactions, and the next leader goes on from etcd.
 */
final class LegMigration {

    private static final Logger log = LoggerFactory.getLogger(LegMigration.class);

    private final DecisionContext ctx;
    private final ClusterState state;
    private final FerryKeys keys;
    private final Scheduler scheduler;
    private final WaitingForRoom waitingForRoom;
    private final PlaceStep place;
    private final PartsStep step;
    private final LegReplacement replacement;
    /** Volumes whose drain request is being written, with the draining node: only touched on the event loop. */
    private final Map<String, String> asking = new HashMap<>();

    LegMigration(DecisionContext ctx, Scheduler scheduler, WaitingForRoom waitingForRoom, PlaceStep place,
                 PartsStep step, LegReplacement replacement) {
        this.ctx = ctx;
        this.state = ctx.state();
        this.keys = ctx.keys();
        this.scheduler = scheduler;
        this.waitingForRoom = waitingForRoom;
        this.place = place;
        this.step = step;
        this.replacement = replacement;
    }

    /**
     * Takes a move one step (places the joining leg, finishes or gives up a move under way) and says
     * where the volume stands in its {@link Condition#LEG_MOVED} condition: null when no move is asked
     * for or under way. At most one transaction per pass; its commit changes the parts record, which
     * brings the volume back for the next step.
     */
    Future<Condition> migrate(Leadership leader, Versioned<VolumeIntent> intent, Versioned<VolumeParts> parts) {
        VolumeParts record = parts.value();
        if (record.layout() != Layout.MIRROR) {
            return Future.succeededFuture(null);
        }
        Optional<VolumeParts.Part> joining = record.joining();
        if (joining.isPresent()) {
            return underWay(leader, intent, parts, joining.get());
        }
        VolumeIntent spec = intent.value();
        PartMove move = pendingMove(spec, record);
        if (move == null) {
            String draining = legOnDrainingNode(spec, record);
            if (draining != null) {
                return drain(leader, intent, draining);
            }
            return Future.succeededFuture(settled(spec, record, intent.modRevision()));
        }
        String lost = LegReplacement.pendingLoss(spec, record);
        if (lost != null) {
            // A lost leg leaves the mirror short of a copy; a move only changes where one is. The
            // replacement goes first, and a move under way would hold it back.
            return Future.succeededFuture(moving("leg " + move.part() + " moves once lost leg " + lost
                    + " is replaced", intent.modRevision()));
        }
        return start(leader, intent, parts, move);
    }

    /**
     * The first move {@code spec} asks for whose leg is a member not declared lost, or null. A request
     * naming a retired or unknown leg changes nothing: a finished move may stay in the intent.
     */
    static PartMove pendingMove(VolumeIntent spec, VolumeParts parts) {
        return spec.moveParts().stream()
                .filter(m -> parts.member(m.part()).isPresent() && !spec.lostParts().contains(m.part()))
                .findFirst().orElse(null);
    }

    // ---- a node's drain ----

    /** The first leg of this mirror, not declared lost, placed on a node being drained; or null. */
    private String legOnDrainingNode(VolumeIntent spec, VolumeParts parts) {
        if (spec.deletionRequested()) {
            return null;
        }
        for (String leg : parts.partNames()) {
            String node = state.placement(leg).map(p -> p.value().node()).orElse(null);
            if (node != null && !spec.lostParts().contains(leg) && state.drain(node).isPresent()) {
                return leg;
            }
        }
        return null;
    }

    /**
     * Asks, in the volume's intent, for {@code leg} to move away from its draining node (the scheduler
     * chooses where; the node's pools are unschedulable) once fewer than the drain's
     * {@code maxParallelMoves} legs are moving away from that node. The request is the operator's own
     * form ({@code moveParts}), so it is seen, followed and given up the same way, and it survives a
     * controller's restart; the next pass starts the move.
     */
    private Future<Condition> drain(Leadership leader, Versioned<VolumeIntent> intent, String leg) {
        VolumeIntent spec = intent.value();
        String node = state.placement(leg).map(p -> p.value().node()).orElseThrow();
        NodeDrain drain = state.drain(node).orElseThrow();
        // Decisions of several volumes interleave while their commits are in flight: a request being
        // written counts before the intent shows it, or two volumes could both take the last turn.
        long moving = movingAwayFrom(node) + asking.values().stream().filter(node::equals).count();
        if (moving >= drain.maxParallelMoves()) {
            return Future.succeededFuture(moving("leg " + leg + " leaves draining node " + node + " once fewer than "
                    + drain.maxParallelMoves() + " legs are moving away from it (" + moving + " now)", intent.modRevision()));
        }
        VolumeIntent next = spec.withPartMove(leg, null);
        asking.put(spec.name(), node);
        return ctx.store().txn().requireLeadership(leader)
                .requireModRevision(keys.volume(spec.name()), intent.modRevision())
                .put(keys.volume(spec.name()), next)
                .commit().compose(outcome -> {
                    if (!outcome.succeeded()) {
                        ctx.metrics().conflict();
                        return Future.failedFuture(new IllegalStateException("asking leg " + leg + " of " + spec.name()
                                + " to leave draining node " + node + " lost a race (the intent changed); retrying"));
                    }
                    state.wroteIntent(next, outcome.revision());
                    log.info("mirror {}: leg {} asked to move away from draining node {}", spec.name(), leg, node);
                    return Future.succeededFuture(moving("leg " + leg + " asked to move: node " + node + " is draining",
                            outcome.revision()));
                }).andThen(done -> asking.remove(spec.name()));
    }

    /**
     * How many legs are moving away from {@code node} now: a move under way whose leaving leg is there,
     * or one asked for and not started yet (it may be waiting for room, and still takes its turn).
     */
    private long movingAwayFrom(String node) {
        long count = 0;
        for (VolumeParts parts : state.allParts()) {
            if (parts.layout() != Layout.MIRROR) {
                continue;
            }
            String leaving = parts.joining().map(VolumeParts.Part::movesFrom).orElse(null);
            if (leaving == null) {
                VolumeIntent spec = state.intent(parts.volume()).map(Versioned::value).orElse(null);
                PartMove asked = spec == null ? null : pendingMove(spec, parts);
                leaving = asked == null ? null : asked.part();
            }
            if (leaving != null && state.placement(leaving).map(p -> p.value().node().equals(node)).orElse(false)) {
                count++;
            }
        }
        return count;
    }

    // ---- a move under way ----

    private Future<Condition> underWay(Leadership leader, Versioned<VolumeIntent> intent, Versioned<VolumeParts> parts,
                                       VolumeParts.Part joining) {
        VolumeIntent spec = intent.value();
        VolumeParts record = parts.value();
        long observed = intent.modRevision();
        String from = joining.movesFrom();
        String to = joining.name();
        PartMove asked = spec.partMove(from).orElse(null);
        String pool = state.placement(to).map(p -> p.value().pool()).orElse(null);
        // A request edited to another pool mid-move is a new move: this one is given up, and the next
        // pass places a leg where the request now says.
        boolean retargeted = asked != null && asked.toPool() != null && pool != null && !asked.toPool().equals(pool);
        if (spec.lostParts().contains(to) || asked == null || retargeted) {
            String why = spec.lostParts().contains(to) ? to + " is declared lost"
                    : asked == null ? "the intent no longer asks for it" : "the intent now asks for pool " + asked.toPool();
            return end(leader, intent, parts, record.withMoveCancelled(), to, null, 0,
                    "move of " + from + " to " + to + " given up (" + why + ")")
                    .map(v -> settled(spec, current(spec, record), observed));
        }
        if (spec.lostParts().contains(from)) {
            // The leg being left is gone anyway: the joining leg takes its place now and is rebuilt as its
            // replacement would be, instead of a second new leg being placed beside it.
            return end(leader, intent, parts, record.withMoveDone(), from, null, 0,
                    "move of " + from + " to " + to + " finished early (" + from + " is declared lost)")
                    .map(v -> settled(spec, current(spec, record), observed));
        }
        List<Attachment> attachments = state.attachmentsOf(spec.name());
        String onPool = pool == null ? "" : " on pool " + pool;
        String moving = "moving " + from + " to " + to + onPool + ": ";
        if (attachments.isEmpty()) {
            return Future.succeededFuture(moving(moving + "the volume is not attached anywhere: the move completes"
                    + " when the volume is next staged, the consumer rebuilds the new leg", observed));
        }
        List<String> waits = new ArrayList<>();
        for (Attachment attachment : attachments) {
            String node = attachment.node();
            Versioned<MirrorReport> report = state.mirrorReport(spec.name(), node).orElse(null);
            if (report != null && sameArray(report.value().arrayUuid(), record.arrayUuid())
                    && report.value().inSync(to)) {
                return end(leader, intent, parts, record.withMoveDone(), from, keys.mirrorReport(spec.name(), node),
                        report.modRevision(),
                        "moved " + from + " to " + to + onPool + " (" + node + " reports " + to + " in sync)")
                        .map(v -> settled(spec, current(spec, record), observed));
            }
            waits.add(waitingFor(node, to, report == null ? null : report.value(), record.arrayUuid()));
        }
        return Future.succeededFuture(moving(moving + String.join("; ", waits), observed));
    }

    /** Why the move waits on the consumer {@code node}, in the words of its report. */
    private static String waitingFor(String node, String to, MirrorReport report, String arrayUuid) {
        String waiting = "waiting for the consumer " + node + " to rebuild " + to;
        if (report == null) {
            return waiting + " (no report of the mirror from " + node + " yet)";
        }
        if (!sameArray(report.arrayUuid(), arrayUuid)) {
            return waiting + " (" + node + " reports another array, " + report.arrayUuid() + ", not " + arrayUuid + ")";
        }
        String leg = report.legs().stream().filter(l -> l.part().equals(to)).findFirst()
                .map(l -> l.state().value()).orElse("not in the array yet");
        String progress = report.syncPercent() >= 0
                ? String.format(Locale.ROOT, ", %s %.1f%%", report.syncAction(), report.syncPercent()) : "";
        return waiting + " (" + to + " " + leg + progress + ")";
    }

    /**
     * Whether an md UUID names this mirror's array: md writes it as four groups of eight hex digits
     * ({@code mdadm --detail}), the parts record as a standard UUID, so only the digits are compared.
     */
    static boolean sameArray(String reported, String arrayUuid) {
        String a = hexDigits(reported);
        return a.length() == 32 && a.equals(hexDigits(arrayUuid));
    }

    private static String hexDigits(String uuid) {
        return uuid == null ? "" : uuid.toLowerCase(Locale.ROOT).replaceAll("[^0-9a-f]", "");
    }

    /**
     * Ends the move with {@code next} (done or given up), asking for the deletion of {@code retiredLeg}
     * in the same transaction; guarded also by the report that showed the joining leg in sync (its key
     * and revision, or null), so that a newer report (the leg failed since) is looked at first.
     */
    private Future<Void> end(Leadership leader, Versioned<VolumeIntent> intent, Versioned<VolumeParts> parts,
                             VolumeParts next, String retiredLeg, String reportKey, long reportRevision, String what) {
        String volume = intent.value().name();
        Transaction txn = ctx.store().txn().requireLeadership(leader)
                .requireModRevision(keys.volume(volume), intent.modRevision())
                .requireModRevision(keys.volumeParts(volume), parts.modRevision())
                .put(keys.volumeParts(volume), next);
        if (reportKey != null) {
            txn.requireModRevision(reportKey, reportRevision);
        }
        VolumeIntent deletion = step.requestLegDeletion(txn, retiredLeg);
        return txn.commit().compose(outcome -> {
            if (!outcome.succeeded()) {
                ctx.metrics().conflict();
                return Future.failedFuture(new IllegalStateException("ending the move of a leg of " + volume
                        + " lost a race (the intent, the parts record, the consumer's report or a leg's intent changed);"
                        + " retrying"));
            }
            long revision = outcome.revision();
            state.wroteParts(next, revision);
            if (deletion != null) {
                state.wroteIntent(deletion, revision);
            }
            log.info("mirror {}: {}; {} is deleted", volume, what, retiredLeg);
            return Future.succeededFuture();
        });
    }

    // ---- placing the joining leg ----

    private Future<Condition> start(Leadership leader, Versioned<VolumeIntent> intent, Versioned<VolumeParts> parts,
                                    PartMove move) {
        VolumeIntent spec = intent.value();
        VolumeParts record = parts.value();
        long observed = intent.modRevision();
        String from = move.part();
        Placement fromPlacement = state.placement(from).map(Versioned::value).orElse(null);
        String fromPool = fromPlacement == null ? null : fromPlacement.pool();
        if (move.toPool() != null && move.toPool().equals(fromPool)) {
            return Future.succeededFuture(Condition.failed(Condition.LEG_MOVED, FailureReason.INPUT_INVALID,
                    "leg " + from + " is already on pool " + fromPool + "; nothing is moved", observed, 0));
        }
        long legBytes = record.member(from).orElseThrow().sizeBytes();
        GlobalConfig global = state.globalConfig();
        Request request = place.requestFor(spec.withSizeBytes(legBytes));
        Iterable<Candidate> candidates = move.toPool() == null ? state.candidates()
                : state.candidate(move.toPool()).map(List::of).orElse(List.of());
        PartsDecision decision = scheduler.decideReplacementLeg(request, record.parts().size(),
                replacement.survivingDomains(record, from, spec.failureDomainLevel()), fromPool, candidates, global,
                ScoringPolicy.named(global.schedulerPolicy()), false);
        if (!decision.placed()) {
            waitingForRoom.add(spec.name());
            ctx.metrics().refused(decision.reasonCounts());
            String where = move.toPool() == null ? "no pool can hold the leg it moves to now"
                    : "pool " + move.toPool() + " cannot hold the leg it moves to now";
            String refusal = move.toPool() != null && state.candidate(move.toPool()).isEmpty()
                    ? "it is not configured, or its node is not registered" : decision.refusal();
            return Future.succeededFuture(Condition.failed(Condition.LEG_MOVED, FailureReason.NO_FIT,
                    "leg " + from + " is asked to move, and " + where + ": " + refusal
                            + "; it stays where it is until one can", observed, 0));
        }
        // Past any index lostParts or moveParts names too: a stale name must never match the new leg.
        int index = Stream.concat(spec.lostParts().stream(), spec.moveParts().stream().map(PartMove::part))
                .map(PartNames::parse).flatMap(Optional::stream).mapToInt(p -> p.index() + 1)
                .reduce(record.nextIndex(), Math::max);
        if (index >= PartNames.MAX_INDEX) {
            return Future.succeededFuture(Condition.failed(Condition.LEG_MOVED, FailureReason.INPUT_INVALID,
                    "leg " + from + " is asked to move, but the volume has used every part name up to "
                            + PartNames.of(spec.name(), PartNames.MAX_INDEX - 1) + "; it cannot take another leg",
                    observed, 0));
        }
        VolumeParts.Part joining = new VolumeParts.Part(PartNames.of(spec.name(), index), index, legBytes, null, from);
        Candidate pool = decision.parts().get(0).pool();
        return commit(leader, intent, parts, joining, pool)
                .map(v -> moving("moving " + from + " to " + joining.name() + " on pool " + pool.pool()
                        + ": placed; the consumer adds it to the array and rebuilds it", observed));
    }

    private Future<Void> commit(Leadership leader, Versioned<VolumeIntent> intent, Versioned<VolumeParts> parts,
                                VolumeParts.Part joining, Candidate pool) {
        String volume = intent.value().name();
        // The leg it moves from is left as it is: it stays a member, served and counted, until the move ends.
        PartsStep.AddedLeg added = step.addLeg(leader, intent, parts, parts.value().withJoining(joining), joining, pool);
        return added.txn.commit().compose(outcome -> {
            if (!outcome.succeeded()) {
                ctx.metrics().conflict();
                return Future.failedFuture(new IllegalStateException("placing the leg " + joining.movesFrom() + " of "
                        + volume + " moves to lost a race (the intent, the parts record, a ledger or a leg's key changed);"
                        + " retrying"));
            }
            added.wrote(outcome.revision());
            log.info("mirror {}: leg {} moves to {} on {}/{}; it stays until the consumer has {} in sync", volume,
                    joining.movesFrom(), joining.name(), pool.node(), pool.pool(), joining.name());
            return Future.succeededFuture();
        });
    }

    // ---- the condition ----

    private static Condition moving(String message, long observed) {
        return Condition.of(Condition.LEG_MOVED, false, Condition.REASON_MOVING, message, observed);
    }

    private VolumeParts current(VolumeIntent spec, VolumeParts fallback) {
        return state.volumeParts(spec.name()).map(Versioned::value).orElse(fallback);
    }

    /**
     * The condition once no move is under way and none is to start: the legs moved by the requests the
     * intent still holds; null when it holds none that moved (none asked for, or given up).
     */
    private Condition settled(VolumeIntent spec, VolumeParts parts, long observed) {
        if (parts.joining().isPresent()) {
            VolumeParts.Part joining = parts.joining().get();
            return moving("moving " + joining.movesFrom() + " to " + joining.name() + " on pool "
                    + state.placement(joining.name()).map(p -> p.value().pool()).orElse("?"), observed);
        }
        List<String> moved = new ArrayList<>();
        List<VolumeParts.Part> every = new ArrayList<>(parts.parts());
        every.addAll(parts.retired());
        for (PartMove move : spec.moveParts()) {
            // A leg declared lost while it moved was replaced rather than moved: LegReplaced says so.
            if (!parts.isRetired(move.part()) || spec.lostParts().contains(move.part())) {
                continue;
            }
            every.stream().filter(p -> move.part().equals(p.replaces())).findFirst().ifPresent(p -> moved.add(
                    "moved " + move.part() + " to " + p.name() + " on pool "
                            + state.placement(p.name()).map(pl -> pl.value().pool()).orElse("?")));
        }
        return moved.isEmpty() ? null
                : Condition.of(Condition.LEG_MOVED, true, Condition.REASON_MOVED, String.join("; ", moved), observed);
    }
}
