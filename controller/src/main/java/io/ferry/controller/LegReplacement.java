package io.ferry.controller;

import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.Leadership;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.Condition;
import io.ferry.model.FailureDomainLevel;
import io.ferry.model.FailureReason;
import io.ferry.model.GlobalConfig;
import io.ferry.model.Layout;
import io.ferry.model.NodeRegistration;
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
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The controller's half of replacing a mirror's lost leg (docs/layouts.md, "Leg replacement"). An
 * operator lists the leg in the volume's {@code lostParts}; this places a blank leg in its stead, in
 * a failure domain no surviving leg is in and never on the lost leg's own pool, and commits in one
 * transaction guarded by leadership, the volume's intent, its parts record, the new leg's absence and
 * the chosen pool's ledger: the parts record with the lost leg retired and the replacement among the
 * members (its {@code replaces} naming the lost one), the replacement's intent, placement, work item,
 * record and ledger, and the lost leg's intent asking for its deletion. Either all of it is in etcd or
 * none, so a controller that stops at any point leaves the volume as it was or fully switched; the
 * consumer's plugin does the rest from the parts record (adds the new leg, rebuilds, drops the old).
 *
 * <p>One lost leg is replaced per pass; the commit changes the parts record, which brings the volume
 * back for the next one.
 */
final class LegReplacement {

    private static final Logger log = LoggerFactory.getLogger(LegReplacement.class);

    private final DecisionContext ctx;
    private final ClusterState state;
    private final FerryKeys keys;
    private final Scheduler scheduler;
    private final WaitingForRoom waitingForRoom;
    private final PlaceStep place;
    private final PartsStep step;

    LegReplacement(DecisionContext ctx, Scheduler scheduler, WaitingForRoom waitingForRoom, PlaceStep place,
                   PartsStep step) {
        this.ctx = ctx;
        this.state = ctx.state();
        this.keys = ctx.keys();
        this.scheduler = scheduler;
        this.waitingForRoom = waitingForRoom;
        this.place = place;
        this.step = step;
    }

    /** The first leg {@code spec} declares lost that is still a member of {@code parts}, or null. */
    static String pendingLoss(VolumeIntent spec, VolumeParts parts) {
        // While a leg moves, the mirror has a member more than its count and a new leg not known to be
        // in sync: a loss of the moving or the joining leg ends the move first (LegMigration), any
        // other waits for it to end.
        if (parts.layout() != Layout.MIRROR || parts.joining().isPresent()) {
            return null;
        }
        return spec.lostParts().stream().filter(p -> parts.member(p).isPresent()).findFirst().orElse(null);
    }

    /**
     * Replaces the first lost leg still a member, if any, and says where the volume stands in its
     * {@link Condition#LEG_REPLACED} condition: null when no leg was ever declared lost.
     */
    Future<Condition> replaceLost(Leadership leader, Versioned<VolumeIntent> intent, Versioned<VolumeParts> parts) {
        VolumeIntent spec = intent.value();
        VolumeParts record = parts.value();
        long observed = intent.modRevision();
        String lost = pendingLoss(spec, record);
        if (lost == null) {
            Optional<VolumeParts.Part> joining = record.joining();
            List<String> waiting = joining.isEmpty() ? List.of()
                    : spec.lostParts().stream().filter(p -> record.member(p).isPresent()).toList();
            if (!waiting.isEmpty()) {
                return Future.succeededFuture(Condition.of(Condition.LEG_REPLACED, false, Condition.REASON_MOVING,
                        "leg " + String.join(", ", waiting) + " is declared lost; it is replaced once the move of "
                                + joining.get().movesFrom() + " to " + joining.get().name() + " ends", observed));
            }
            return Future.succeededFuture(settled(spec, record, observed));
        }
        List<String> keepers = record.partNames().stream().filter(p -> !spec.lostParts().contains(p)).toList();
        if (keepers.isEmpty()) {
            // A replacement is rebuilt from a leg that stays; with every leg declared lost (an edit by
            // hand: ferryctl refuses it) replacing them one by one would delete every copy of the data.
            return Future.succeededFuture(Condition.failed(Condition.LEG_REPLACED, FailureReason.INPUT_INVALID,
                    "lostParts declares every leg of the mirror lost (" + String.join(", ", record.partNames())
                            + "); none is replaced, because a replacement is rebuilt from a leg that stays: take the"
                            + " legs that hold the data out of lostParts", observed, 0));
        }
        long legBytes = record.member(lost).orElseThrow().sizeBytes();
        Placement lostPlacement = state.placement(lost).map(Versioned::value).orElse(null);
        GlobalConfig global = state.globalConfig();
        Request request = place.requestFor(spec.withSizeBytes(legBytes));
        PartsDecision decision = scheduler.decideReplacementLeg(request, record.parts().size(),
                survivingDomains(record, lost, spec.failureDomainLevel()),
                lostPlacement == null ? null : lostPlacement.pool(), state.candidates(), global,
                ScoringPolicy.named(global.schedulerPolicy()), false);
        if (!decision.placed()) {
            waitingForRoom.add(spec.name());
            ctx.metrics().refused(decision.reasonCounts());
            return Future.succeededFuture(Condition.failed(Condition.LEG_REPLACED, FailureReason.NO_FIT,
                    "leg " + lost + " is declared lost, and no pool can hold its replacement now: " + decision.refusal()
                            + "; the mirror runs on its other legs until one can", observed, 0));
        }
        // Past any index lostParts names too: a stale or mistyped name must never match the new leg.
        int index = Math.max(record.nextIndex(), spec.lostParts().stream().map(PartNames::parse)
                .flatMap(Optional::stream).mapToInt(p -> p.index() + 1).max().orElse(0));
        if (index >= PartNames.MAX_INDEX) {
            return Future.succeededFuture(Condition.failed(Condition.LEG_REPLACED, FailureReason.INPUT_INVALID,
                    "leg " + lost + " is declared lost, but the volume has used every part name up to "
                            + PartNames.of(spec.name(), PartNames.MAX_INDEX - 1) + "; it cannot take another leg",
                    observed, 0));
        }
        return commit(leader, intent, parts, lost, new VolumeParts.Part(PartNames.of(spec.name(), index), index,
                legBytes, lost), decision.parts().get(0).pool()).map(v -> settled(spec, state.volumeParts(spec.name())
                .map(Versioned::value).orElse(record), observed));
    }

    private Future<Void> commit(Leadership leader, Versioned<VolumeIntent> intent, Versioned<VolumeParts> parts,
                                String lost, VolumeParts.Part replacement, Candidate pool) {
        String volume = intent.value().name();
        PartsStep.AddedLeg added = step.addLeg(leader, intent, parts, parts.value().withReplacement(lost, replacement),
                replacement, pool);
        VolumeIntent deletion = step.requestLegDeletion(added.txn, lost);
        return added.txn.commit().compose(outcome -> {
            if (!outcome.succeeded()) {
                ctx.metrics().conflict();
                return Future.failedFuture(new IllegalStateException("replacing leg " + lost + " of " + volume
                        + " lost a race (the intent, the parts record, a ledger or a leg's key changed); retrying"));
            }
            added.wrote(outcome.revision());
            if (deletion != null) {
                state.wroteIntent(deletion, outcome.revision());
            }
            log.info("mirror {}: lost leg {} replaced by {} on {}/{}; {} is deleted", volume, lost, replacement.name(),
                    pool.node(), pool.pool(), lost);
            return Future.succeededFuture();
        });
    }

    /**
     * The domains of the legs that stay, at the intent's level: the replacement must be in none of
     * them. A leg whose pool is no candidate now (its node is down, or its pool config went) still
     * counts, from its placement's node and that node's last known labels.
     */
    Set<String> survivingDomains(VolumeParts parts, String lost, FailureDomainLevel level) {
        Set<String> domains = new HashSet<>();
        for (String leg : parts.partNames()) {
            if (leg.equals(lost)) {
                continue;
            }
            Placement placement = state.placement(leg).map(Versioned::value).orElse(null);
            if (placement == null) {
                continue;
            }
            String domain = state.candidate(placement.pool()).map(c -> c.domain(level)).orElse(null);
            if (domain == null) {
                Map<String, String> labels = new HashMap<>(state.lastKnownRegistration(placement.node())
                        .map(NodeRegistration::labels).orElse(Map.of()));
                state.poolConfig(placement.pool()).ifPresent(c -> labels.putAll(c.labels()));
                domain = level.domainOf(placement.node(), labels);
            }
            if (domain != null) {
                domains.add(domain);
            }
        }
        return domains;
    }

    /** The condition once nothing is pending: which legs were replaced by which; null if none ever was. */
    private static Condition settled(VolumeIntent spec, VolumeParts parts, long observed) {
        List<String> unknown = spec.lostParts().stream()
                .filter(p -> parts.member(p).isEmpty() && !parts.isRetired(p)).toList();
        List<String> replaced = new ArrayList<>();
        List<VolumeParts.Part> every = new ArrayList<>(parts.retired());
        every.addAll(parts.parts());
        for (VolumeParts.Part part : every) {
            // A leg retired by a move (LegMigration) was not lost: LegMoved tells of it.
            if (part.replaces() != null && spec.lostParts().contains(part.replaces())) {
                replaced.add(part.replaces() + " by " + part.name());
            }
        }
        if (replaced.isEmpty() && unknown.isEmpty()) {
            return null;
        }
        if (replaced.isEmpty()) {
            return Condition.failed(Condition.LEG_REPLACED, FailureReason.INPUT_INVALID, "lostParts names "
                    + String.join(", ", unknown) + ", not a leg of this mirror; nothing is replaced", observed, 0);
        }
        String message = "lost legs replaced: " + String.join(", ", replaced)
                + (unknown.isEmpty() ? "" : "; lostParts also names " + String.join(", ", unknown)
                + ", not a leg of this mirror (ignored)");
        return Condition.of(Condition.LEG_REPLACED, true, Condition.REASON_REPLACED, message, observed);
    }
}
