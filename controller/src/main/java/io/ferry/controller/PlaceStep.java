package io.ferry.controller;

import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.Leadership;
import io.ferry.etcd.store.Transaction;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.FailureDomainLevel;
import io.ferry.model.FailureReason;
import io.ferry.model.Ledger;
import io.ferry.model.NodeRegistration;
import io.ferry.model.Placement;
import io.ferry.model.SchedulingPhase;
import io.ferry.model.SnapshotScheduling;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeScheduling;
import io.ferry.model.VolumeSource;
import io.ferry.model.WorkItem;
import io.ferry.placement.Candidate;
import io.ferry.placement.Decision;
import io.ferry.placement.Request;
import io.ferry.placement.Scheduler;
import io.ferry.placement.ScoringPolicy;
import io.vertx.core.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The place step: chooses a pool for a volume that has none and commits the placement, its work
 * item, its record and the pool's ledger in one transaction. Volumes that arrive while a commit is
 * in flight are decided together and committed in the next one.
 */
final class PlaceStep {

    private static final Logger log = LoggerFactory.getLogger(PlaceStep.class);
    /**
     * Placements (and first-creation records) per batch transaction. A placement takes three puts
     * plus at most one ledger put, and two guards plus at most one ledger guard: 32 × 3 + 32 = 128
     * even when every volume goes to a different pool.
     */
    static final int MAX_BATCH = 32;

    private final DecisionContext ctx;
    private final ClusterState state;
    private final FerryKeys keys;
    private final Scheduler scheduler;
    private final VolumeWork work;
    private final VolumeRecord record;
    private final WaitingForRoom waitingForRoom;
    private final BatchQueue queue;

    PlaceStep(DecisionContext ctx, SerialLane lane, Scheduler scheduler, VolumeWork work, VolumeRecord record,
              WaitingForRoom waitingForRoom) {
        this.ctx = ctx;
        this.state = ctx.state();
        this.keys = ctx.keys();
        this.scheduler = scheduler;
        this.work = work;
        this.record = record;
        this.waitingForRoom = waitingForRoom;
        this.queue = new BatchQueue(lane, MAX_BATCH, this::placeBatch);
    }

    /** Queues the volume for the next placement batch; completes once that batch is committed. */
    Future<Void> request(String volume) {
        return queue.add(volume);
    }

    /**
     * Where a clone or a volume from a snapshot must go, or what it is still waiting for, or why it is
     * refused ({@code refused}: its source volume has several parts, or is a part of one).
     */
    record Sourced(VolumeSource source, String pool, String waitingFor, String refused) {
        Sourced(VolumeSource source, String pool, String waitingFor) {
            this(source, pool, waitingFor, null);
        }
    }

    Sourced sourceFor(VolumeIntent spec) {
        if (spec.sourceSnapshot() != null) {
            SnapshotScheduling snap = state.snapshotScheduling(spec.sourceSnapshot()).map(Versioned::value).orElse(null);
            if (snap == null || snap.phase() != SchedulingPhase.PLACED) {
                return new Sourced(null, null, "waiting for snapshot " + spec.sourceSnapshot() + " to be placed");
            }
            return new Sourced(VolumeSource.snapshot(spec.sourceSnapshot(), snap.pool()), snap.pool(), null);
        }
        if (spec.sourceVolume() != null) {
            Optional<String> refused = PartsStep.layoutRefusal(state, spec.sourceVolume(), "cloning");
            if (refused.isPresent()) {
                return new Sourced(null, null, null, refused.get());
            }
            Placement origin = state.placement(spec.sourceVolume()).map(Versioned::value).orElse(null);
            if (origin == null) {
                return new Sourced(null, null, "waiting for source volume " + spec.sourceVolume() + " to be placed");
            }
            return new Sourced(VolumeSource.volume(spec.sourceVolume(), origin.pool()), origin.pool(), null);
        }
        return new Sourced(null, null, null);
    }

    /** What the scheduler is asked for a volume made from nothing: its spread group's domains and its consumer. */
    Request requestFor(VolumeIntent spec) {
        return new Request(spec, null, takenDomains(spec), consumerOf(spec));
    }

    /** The decision the scheduler would make now, with a verdict for every pool; changes nothing. */
    Decision explain(VolumeIntent spec) {
        Sourced sourced = sourceFor(spec);
        Request request = new Request(spec, sourced.pool(), takenDomains(spec), consumerOf(spec));
        return scheduler.decide(request, state.candidates(), state.globalConfig(),
                ScoringPolicy.named(state.globalConfig().schedulerPolicy()), true);
    }

    /** A decided volume with everything its commit writes except the pool's ledger. */
    private record Planned(String volume, Versioned<VolumeIntent> intent, Placement placement, WorkItem work,
                           VolumeScheduling scheduled) {
    }

    private Planned plan(Versioned<VolumeIntent> intent, Candidate pool, VolumeSource source) {
        VolumeIntent spec = intent.value();
        String volume = spec.name();
        Placement placement = Placement.of(volume, pool.pool(), pool.node(), pool.config().engine(), spec.sizeBytes(),
                spec.thin(), 1, spec.consumerNode(), spec.sourceSnapshot(), spec.sourceVolume(), ctx.clock().instant());
        WorkItem item = WorkItem.of(volume, pool.node(), pool.pool(), pool.config().engine(), spec.sizeBytes(), spec.thin(), 1,
                source, work.exportFor(volume, pool.node(), pool.config().engine()));
        // A new placement has no first-creation record yet: the agent may create the volume.
        VolumeScheduling scheduled = record.record(volume, SchedulingPhase.PLACED, null, Map.of(), null, pool.node(),
                pool.pool(), state.nodeAlive(pool.node()), intent.modRevision(), 0, null);
        return new Planned(volume, intent, placement, item, scheduled);
    }

    /** The guards (intent unchanged, not placed yet) and the writes of one placement. */
    private void addPlacement(Transaction txn, Planned p) {
        txn.requireModRevision(keys.volume(p.volume()), p.intent().modRevision())
                .requireAbsent(keys.placement(p.volume()))
                .put(keys.placement(p.volume()), p.placement())
                .put(keys.workItem(p.work().node(), p.volume()), p.work())
                .put(keys.volumeScheduling(p.volume()), p.scheduled());
    }

    private void placed(Planned p, long revision) {
        state.wrotePlacement(p.placement(), revision);
        state.wroteWorkItem(p.work(), revision);
        state.wroteScheduling(keys.volumeScheduling(p.volume()), p.scheduled(), revision);
        waitingForRoom.remove(p.volume());
        ctx.metrics().placed();
    }

    /**
     * Decides every volume of the batch against one view of the pools in which earlier decisions of
     * the batch are already counted, then commits them in one transaction. Volumes the batch cannot
     * decide alone (clones, a second member of a spread group, no fit) and every volume of a batch
     * whose commit lost a race take the one-at-a-time path, which explains refusals and retries.
     */
    private Future<Void> placeBatch(List<String> volumes) {
        Optional<Leadership> leader = ctx.leadership().get();
        if (leader.isEmpty()) {
            return Future.succeededFuture();
        }
        if (volumes.size() == 1) {
            return place(volumes.get(0), 0);
        }
        List<Candidate> view = new ArrayList<>();
        state.candidates().forEach(view::add);
        Map<String, Integer> viewIndex = new HashMap<>();
        for (int i = 0; i < view.size(); i++) {
            viewIndex.put(view.get(i).pool(), i);
        }
        Map<String, Long> ledgerRevisions = new LinkedHashMap<>();
        Map<String, Ledger> ledgers = new HashMap<>();
        Set<String> spreadGroups = new HashSet<>();
        List<Planned> planned = new ArrayList<>();
        List<String> alone = new ArrayList<>();
        for (String volume : volumes) {
            Versioned<VolumeIntent> intent = state.intent(volume).orElse(null);
            if (intent == null || intent.value().deletionRequested() || intent.value().adoptFromNode() != null
                    || !placesAlone(intent.value()) || state.placement(volume).isPresent()) {
                continue;
            }
            VolumeIntent spec = intent.value();
            if (spec.sourceSnapshot() != null || spec.sourceVolume() != null
                    || (spec.spreadGroup() != null && !spreadGroups.add(spec.spreadGroup()))) {
                alone.add(volume);
                continue;
            }
            Request request = requestFor(spec);
            Decision decision = scheduler.decide(request, view, state.globalConfig(),
                    ScoringPolicy.named(state.globalConfig().schedulerPolicy()), false);
            if (decision.pool().isEmpty()) {
                alone.add(volume);
                continue;
            }
            Candidate pool = decision.chosen();
            ledgerRevisions.putIfAbsent(pool.pool(), pool.ledgerRevision());
            Ledger ledger = pool.ledger().add(spec.sizeBytes());
            ledgers.put(pool.pool(), ledger);
            Candidate counted = pool.withLedger(ledger, pool.ledgerRevision());
            if (request.remoteFrom(pool)) {
                counted = counted.withRemoteServed(pool.remoteServed() + 1);
            }
            view.set(viewIndex.get(pool.pool()), counted);
            planned.add(plan(intent, pool, null));
        }
        if (planned.size() <= 1) {
            alone.addAll(0, planned.stream().map(Planned::volume).toList());
            return placeOneByOne(alone);
        }
        Transaction txn = ctx.store().txn().requireLeadership(leader.get());
        ledgerRevisions.forEach((pool, revision) -> txn.requireModRevision(keys.ledger(pool), revision)
                .put(keys.ledger(pool), ledgers.get(pool)));
        planned.forEach(p -> addPlacement(txn, p));
        return txn.commit().compose(outcome -> {
            if (outcome.succeeded()) {
                planned.forEach(p -> placed(p, outcome.revision()));
                ledgers.values().forEach(l -> state.wroteLedger(l, outcome.revision()));
                ctx.metrics().placementBatch(planned.size());
                return placeOneByOne(alone);
            }
            ctx.metrics().conflict();
            List<String> retry = new ArrayList<>(planned.stream().map(Planned::volume).toList());
            retry.addAll(alone);
            return placeOneByOne(retry);
        });
    }

    private Future<Void> placeOneByOne(List<String> volumes) {
        Future<Void> chain = Future.succeededFuture();
        for (String volume : volumes) {
            chain = chain.compose(v -> place(volume, 0));
        }
        return chain;
    }

    private Future<Void> place(String volume, int attempt) {
        Optional<Leadership> leader = ctx.leadership().get();
        Versioned<VolumeIntent> intent = state.intent(volume).orElse(null);
        if (leader.isEmpty() || intent == null || intent.value().deletionRequested() || state.placement(volume).isPresent()
                || intent.value().adoptFromNode() != null || !placesAlone(intent.value())) {
            return Future.succeededFuture(); // an adopted volume is only ever rebuilt from its node's status
        }
        VolumeIntent spec = intent.value();
        Sourced sourced = sourceFor(spec);
        if (sourced.refused() != null) {
            waitingForRoom.remove(volume);
            return record.writeScheduling(leader.get(), volume, SchedulingPhase.INVALID, FailureReason.LAYOUT_UNSUPPORTED,
                    Map.of(), sourced.refused(), null, null, true, 0, null);
        }
        if (sourced.waitingFor() != null) {
            return record.writeScheduling(leader.get(), volume, SchedulingPhase.PENDING, FailureReason.SOURCE_NOT_PLACED,
                    Map.of(), sourced.waitingFor(), null, null, true, 0, null);
        }
        Request request = new Request(spec, sourced.pool(), takenDomains(spec), consumerOf(spec));
        Decision decision = scheduler.decide(request, state.candidates(), state.globalConfig(),
                ScoringPolicy.named(state.globalConfig().schedulerPolicy()), false);
        if (decision.pool().isEmpty()) {
            waitingForRoom.add(volume);
            ctx.metrics().refused(decision.reasonCounts());
            return record.writeScheduling(leader.get(), volume, SchedulingPhase.NO_FIT, decision.reasonCounts(),
                    decision.refusal(), null, null, true);
        }
        waitingForRoom.remove(volume);
        Candidate pool = decision.chosen();
        Planned planned = plan(intent, pool, sourced.source());
        Ledger ledger = pool.ledger().add(spec.sizeBytes());
        Transaction txn = ctx.store().txn().requireLeadership(leader.get())
                .requireModRevision(keys.ledger(pool.pool()), pool.ledgerRevision())
                .put(keys.ledger(pool.pool()), ledger);
        addPlacement(txn, planned);
        return txn.commit().compose(outcome -> {
            if (outcome.succeeded()) {
                state.wroteLedger(ledger, outcome.revision());
                placed(planned, outcome.revision());
                log.debug("placed {} on {}/{}", volume, pool.node(), pool.pool());
                return Future.succeededFuture();
            }
            ctx.metrics().conflict();
            if (attempt + 1 >= DecisionContext.MAX_COMMIT_ATTEMPTS) {
                return Future.failedFuture(new IllegalStateException("placing " + volume + " lost "
                        + DecisionContext.MAX_COMMIT_ATTEMPTS + " compare-and-swap races in a row; retrying later"));
            }
            return ctx.refresh(volume, pool.pool()).compose(v -> place(volume, attempt + 1));
        });
    }

    /**
     * Whether this step may place the volume: a volume of several parts is {@link PartsStep}'s, and a part
     * is placed only with its siblings. Asked again when a queued volume's turn comes, because its intent
     * may have been replaced by one of another layout meanwhile; the commit's guard on the intent's
     * revision then covers the rest, and {@link PartsStep} requires the volume's placement absent.
     */
    static boolean placesAlone(VolumeIntent spec) {
        return !spec.layout().multiPart() && spec.partOf() == null;
    }

    /** The registration of the intent's consumer node, which tells the scheduler where it runs. */
    private NodeRegistration consumerOf(VolumeIntent spec) {
        return spec.consumerNode() == null ? null : state.registration(spec.consumerNode()).orElse(null);
    }

    private Set<String> takenDomains(VolumeIntent spec) {
        if (spec.spreadGroup() == null) {
            return Set.of();
        }
        Set<String> taken = new HashSet<>();
        for (String member : state.spreadGroupMembers(spec.spreadGroup())) {
            // A mirror's own legs carry its group too; where they go is the leg rule's business, and a
            // lost leg being replaced must not keep its domain from the replacement.
            if (member.equals(spec.name()) || ClusterState.partOf(member).filter(spec.name()::equals).isPresent()) {
                continue;
            }
            state.placement(member).ifPresent(p -> {
                String domain = state.candidate(p.value().pool()).map(c -> c.domain(spec.failureDomainLevel()))
                        .orElse(spec.failureDomainLevel() == FailureDomainLevel.NODE ? p.value().node() : null);
                if (domain != null) {
                    taken.add(domain);
                }
            });
        }
        return taken;
    }
}
