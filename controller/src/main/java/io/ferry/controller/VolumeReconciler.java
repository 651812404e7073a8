package io.ferry.controller;

import io.ferry.model.FailureDomainLevel;
import io.ferry.placement.Candidate;
import io.ferry.placement.Decision;
import io.ferry.placement.Request;
import io.ferry.placement.Scheduler;
import io.ferry.placement.ScoringPolicy;
import io.ferry.etcd.FerryKeys;
import io.ferry.runtime.reconcile.ReconcileResult;
import io.ferry.etcd.store.Store;
import io.ferry.etcd.store.Leadership;
import io.ferry.etcd.store.Transaction;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.Attachment;
import io.ferry.model.Condition;
import io.ferry.model.Engine;
import io.ferry.model.ExportSpec;
import io.ferry.model.FailureReason;
import io.ferry.model.Ledger;
import io.ferry.model.NodeRegistration;
import io.ferry.model.Placement;
import io.ferry.model.Reach;
import io.ferry.model.SchedulingPhase;
import io.ferry.model.SnapshotScheduling;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumePhase;
import io.ferry.model.VolumeScheduling;
import io.ferry.model.VolumeStatus;
import io.ferry.model.VolumeSource;
import io.ferry.model.WorkItem;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.function.ToIntFunction;

/**
 * Converges one volume: places it, keeps its work item in line with its size and attachments,
 * grows it, reports whether it is reachable, and deletes it in the crash-safe order
 * (withdraw work, wait for the agent, then release the ledger and remove the records).
 *
 * <p>Every write is a transaction guarded by leadership and by the revisions the decision was made
 * on, so a stale or deposed controller can lose a race but never corrupt state. Every step is
 * idempotent: a crash anywhere leaves a state the next run continues from.
 */
final class VolumeReconciler {

    private static final Logger log = LoggerFactory.getLogger(VolumeReconciler.class);
    private static final int MAX_COMMIT_ATTEMPTS = 5;
    /** etcd's default limit (--max-txn-ops) on the writes, and separately on the guards, of one transaction. */
    static final int MAX_TXN_OPS = 128;
    /**
     * Placements (and first-creation records) per batch transaction. A placement takes three puts
     * plus at most one ledger put, and two guards plus at most one ledger guard: 32 × 3 + 32 = 128
     * even when every volume goes to a different pool.
     */
    static final int MAX_BATCH = 32;
    /** Deletion orders per batch: three puts and four guards each, and the leadership guard. */
    static final int MAX_ORDER_BATCH = (MAX_TXN_OPS - 1) / 4;
    /**
     * Releases per batch: five deletes (placement, work item, record, intent, the node's
     * acknowledgement) plus at most one ledger put each, even when every volume is in another pool.
     */
    static final int MAX_RELEASE_BATCH = MAX_TXN_OPS / 6;

    private final Store store;
    private final FerryKeys keys;
    private final ClusterState state;
    private final SerialLane lane;
    private final Scheduler scheduler;
    private final ControllerMetrics metrics;
    private final Supplier<Optional<Leadership>> leadership;
    private final Clock clock;
    private final StatusRecords records;
    /** The runtime's count of consecutive failed passes of a volume, shown in its record. */
    private final ToIntFunction<String> failedAttempts;
    /** Volumes that found no pool, or no room to grow; retried when capacity changes, not on a timer. */
    final Set<String> waitingForRoom = new HashSet<>();
    /** Volumes waiting for the next placement batch, in arrival order. */
    private final Map<String, Promise<Void>> toPlace = new LinkedHashMap<>();
    /** Volumes waiting for the next batch of deletion orders. */
    private final Map<String, Promise<Void>> toOrder = new LinkedHashMap<>();
    /** Volumes waiting for the next release batch. */
    private final Map<String, Promise<Void>> toRelease = new LinkedHashMap<>();
    /** Volumes whose first creation waits to be recorded in the next batch. */
    private final Map<String, Promise<Void>> toRecord = new LinkedHashMap<>();

    VolumeReconciler(Store store, ClusterState state, SerialLane lane, Scheduler scheduler, ControllerMetrics metrics,
                     Supplier<Optional<Leadership>> leadership, Clock clock, ToIntFunction<String> failedAttempts) {
        this.store = store;
        this.failedAttempts = failedAttempts;
        this.keys = store.keys();
        this.state = state;
        this.lane = lane;
        this.scheduler = scheduler;
        this.metrics = metrics;
        this.leadership = leadership;
        this.clock = clock;
        this.records = new StatusRecords(store, state);
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
        return pass.recover(error -> recordFailure(volume, error, failedBefore + 1)
                .transform(ar -> Future.failedFuture(error)));
    }

    private Future<ReconcileResult> decide(String volume) {
        Optional<Leadership> leader = leadership.get();
        if (leader.isEmpty()) {
            return done();
        }
        Optional<String> bad = state.badIntent(volume);
        if (bad.isPresent()) {
            waitingForRoom.remove(volume);
            return writeScheduling(leader.get(), volume, SchedulingPhase.INVALID, Map.of(), "invalid volume intent: " + bad.get(),
                    null, null, true).map(v -> ReconcileResult.done());
        }
        Versioned<VolumeIntent> intent = state.intent(volume).orElse(null);
        Versioned<Placement> placement = state.placement(volume).orElse(null);
        if (intent == null && placement != null) {
            // Deleting data because a key vanished would turn a slip of `etcdctl del` into data loss;
            // deletion is only ever the explicit flag.
            Placement p = placement.value();
            return writeScheduling(leader.get(), volume, SchedulingPhase.PLACED, Map.of(),
                    "the intent was removed without deletionRequested; the volume and its data are kept. To delete it,"
                            + " put the intent back with \"deletionRequested\": true", p.node(), p.pool(), state.nodeAlive(p.node()))
                    .map(v -> ReconcileResult.done());
        }
        Set<String> holders = placement == null && intent != null ? state.nodesHolding(volume) : Set.of();
        String adoptFrom = placement == null && intent != null ? intent.value().adoptFromNode() : null;
        if (adoptFrom != null && !holders.equals(Set.of(adoptFrom))
                && !(holders.isEmpty() && intent.value().deletionRequested())) {
            return holdAdopted(leader.get(), volume, adoptFrom, holders);
        }
        if (!holders.isEmpty()) {
            return recoverPlacement(leader.get(), intent, holders);
        }
        if (intent == null || intent.value().deletionRequested() || deletionOrdered(placement)) {
            // Once the node was told to delete, the deletion goes on even if the flag is taken back:
            // the data may already be gone, and a half-deleted volume must not be reported usable.
            waitingForRoom.remove(volume);
            return delete(leader.get(), volume, intent, placement);
        }
        if (placement == null) {
            return requestPlacement(volume).map(v -> ReconcileResult.done());
        }
        waitingForRoom.remove(volume);
        return converge(leader.get(), intent, placement);
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
    private Future<ReconcileResult> recoverPlacement(Leadership leader, Versioned<VolumeIntent> intent, Set<String> holders) {
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
                spec.consumerNode(), spec.sourceSnapshot(), spec.sourceVolume(), clock.instant());
        if (w.mustExist()) {
            rebuilt = rebuilt.withCreatedAt(clock.instant());
        }
        Placement committed = rebuilt;
        return store.txn().requireLeadership(leader)
                .requireModRevision(keys.placement(volume), 0)
                .requireModRevision(keys.workItem(w.node(), volume), found.modRevision())
                .put(keys.placement(volume), committed)
                .commit()
                .compose(outcome -> {
                    if (!outcome.succeeded()) {
                        metrics.conflict();
                        return done();
                    }
                    state.wrotePlacement(committed, outcome.revision());
                    log.warn("placement of {} was missing; rebuilt from its work item on {} (pool {})", volume, w.node(), w.pool());
                    return writeScheduling(leader, volume, SchedulingPhase.PLACED, Map.of(),
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
    private Future<ReconcileResult> holdAdopted(Leadership leader, String volume, String node, Set<String> holders) {
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
        return writeScheduling(leader, volume, SchedulingPhase.PENDING, reason, Map.of(), why, null, null, true, 0, null)
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
                spec.sourceVolume(), clock.instant()).withCreatedAt(clock.instant());
        WorkItem work = workFor(rebuilt);
        return store.txn().requireLeadership(leader)
                .requireModRevision(keys.placement(volume), 0)
                .requireModRevision(keys.workItem(status.node(), volume), 0)
                .put(keys.placement(volume), rebuilt)
                .put(keys.workItem(status.node(), volume), work)
                .commit()
                .compose(outcome -> {
                    if (!outcome.succeeded()) {
                        metrics.conflict();
                        return done();
                    }
                    state.wrotePlacement(rebuilt, outcome.revision());
                    state.wroteWorkItem(work, outcome.revision());
                    metrics.placementRebuilt();
                    log.warn("placement and work item of {} were missing; rebuilt from the status on {} (pool {}, {} bytes,"
                            + " generation {})", volume, status.node(), status.pool(), status.sizeBytes(), rebuilt.generation());
                    return writeScheduling(leader, volume, SchedulingPhase.PLACED, Map.of(),
                            "placement and work item rebuilt from the status on " + status.node() + " after they had been removed",
                            status.node(), status.pool(), state.nodeAlive(status.node())).map(v -> ReconcileResult.done());
                });
    }

    private boolean deletionOrdered(Versioned<Placement> placement) {
        return placement != null && state.workItem(placement.value().node(), placement.value().volume())
                .map(w -> w.value().deletionRequested()).orElse(false);
    }

    // ---- placement ----

    /**
     * Queues the volume for the next placement batch. Placements go through the serial lane, one
     * etcd round trip per commit; under a burst of intents that round trip was the controller's
     * limit, so every volume that arrives while a commit is in flight is decided and committed
     * together in the next one.
     */
    private Future<Void> requestPlacement(String volume) {
        return enqueue(toPlace, volume, MAX_BATCH, this::placeBatch);
    }

    private Future<Void> enqueue(Map<String, Promise<Void>> queue, String volume, int limit,
                                 Function<List<String>, Future<Void>> batchOf) {
        Promise<Void> queued = queue.get(volume);
        if (queued != null) {
            return queued.future();
        }
        Promise<Void> promise = Promise.promise();
        queue.put(volume, promise);
        lane.submit(() -> drain(queue, limit, batchOf));
        return promise.future();
    }

    /**
     * Takes up to {@code limit} volumes off a queue and runs them as one batch, completing each
     * volume's promise with the batch's outcome. An empty queue means an earlier lane task already
     * took this volume along.
     */
    private static Future<Void> drain(Map<String, Promise<Void>> queue, int limit,
                                      Function<List<String>, Future<Void>> batchOf) {
        if (queue.isEmpty()) {
            return Future.succeededFuture();
        }
        Map<String, Promise<Void>> batch = new LinkedHashMap<>();
        var it = queue.entrySet().iterator();
        while (it.hasNext() && batch.size() < limit) {
            var next = it.next();
            batch.put(next.getKey(), next.getValue());
            it.remove();
        }
        return batchOf.apply(List.copyOf(batch.keySet())).transform(ar -> {
            batch.values().forEach(p -> {
                if (ar.succeeded()) {
                    p.tryComplete();
                } else {
                    p.tryFail(ar.cause());
                }
            });
            return Future.succeededFuture();
        });
    }

    /** A decided volume with everything its commit writes except the pool's ledger. */
    private record Planned(String volume, Versioned<VolumeIntent> intent, Placement placement, WorkItem work,
                           VolumeScheduling scheduled) {
    }

    private Planned plan(Versioned<VolumeIntent> intent, Candidate pool, VolumeSource source) {
        VolumeIntent spec = intent.value();
        String volume = spec.name();
        Placement placement = Placement.of(volume, pool.pool(), pool.node(), pool.config().engine(), spec.sizeBytes(),
                spec.thin(), 1, spec.consumerNode(), spec.sourceSnapshot(), spec.sourceVolume(), clock.instant());
        WorkItem work = WorkItem.of(volume, pool.node(), pool.pool(), pool.config().engine(), spec.sizeBytes(), spec.thin(), 1,
                source, exportFor(volume, pool.node(), pool.config().engine()));
        // A new placement has no first-creation record yet: the agent may create the volume.
        VolumeScheduling scheduled = record(volume, SchedulingPhase.PLACED, null, Map.of(), null, pool.node(), pool.pool(),
                state.nodeAlive(pool.node()), intent.modRevision(), 0, null);
        return new Planned(volume, intent, placement, work, scheduled);
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
        metrics.placed();
    }

    /**
     * Decides every volume of the batch against one view of the pools in which earlier decisions of
     * the batch are already counted, then commits them in one transaction. Volumes the batch cannot
     * decide alone (clones, a second member of a spread group, no fit) and every volume of a batch
     * whose commit lost a race take the one-at-a-time path, which explains refusals and retries.
     */
    private Future<Void> placeBatch(List<String> volumes) {
        Optional<Leadership> leader = leadership.get();
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
                    || state.placement(volume).isPresent()) {
                continue;
            }
            VolumeIntent spec = intent.value();
            if (spec.sourceSnapshot() != null || spec.sourceVolume() != null
                    || (spec.spreadGroup() != null && !spreadGroups.add(spec.spreadGroup()))) {
                alone.add(volume);
                continue;
            }
            Request request = new Request(spec, null, takenDomains(spec), consumerOf(spec));
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
        Transaction txn = store.txn().requireLeadership(leader.get());
        ledgerRevisions.forEach((pool, revision) -> txn.requireModRevision(keys.ledger(pool), revision)
                .put(keys.ledger(pool), ledgers.get(pool)));
        planned.forEach(p -> addPlacement(txn, p));
        return txn.commit().compose(outcome -> {
            if (outcome.succeeded()) {
                planned.forEach(p -> placed(p, outcome.revision()));
                ledgers.values().forEach(l -> state.wroteLedger(l, outcome.revision()));
                metrics.placementBatch(planned.size());
                return placeOneByOne(alone);
            }
            metrics.conflict();
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
        Optional<Leadership> leader = leadership.get();
        Versioned<VolumeIntent> intent = state.intent(volume).orElse(null);
        if (leader.isEmpty() || intent == null || intent.value().deletionRequested() || state.placement(volume).isPresent()
                || intent.value().adoptFromNode() != null) {
            return Future.succeededFuture(); // an adopted volume is only ever rebuilt from its node's status
        }
        VolumeIntent spec = intent.value();
        Sourced sourced = sourceFor(spec);
        if (sourced.waitingFor() != null) {
            return writeScheduling(leader.get(), volume, SchedulingPhase.PENDING, FailureReason.SOURCE_NOT_PLACED, Map.of(),
                    sourced.waitingFor(), null, null, true, 0, null);
        }
        Request request = new Request(spec, sourced.pool(), takenDomains(spec), consumerOf(spec));
        Decision decision = scheduler.decide(request, state.candidates(), state.globalConfig(),
                ScoringPolicy.named(state.globalConfig().schedulerPolicy()), false);
        if (decision.pool().isEmpty()) {
            waitingForRoom.add(volume);
            metrics.refused(decision.reasonCounts());
            return writeScheduling(leader.get(), volume, SchedulingPhase.NO_FIT, decision.reasonCounts(), decision.refusal(),
                    null, null, true);
        }
        waitingForRoom.remove(volume);
        Candidate pool = decision.chosen();
        Planned planned = plan(intent, pool, sourced.source());
        Ledger ledger = pool.ledger().add(spec.sizeBytes());
        Transaction txn = store.txn().requireLeadership(leader.get())
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
            metrics.conflict();
            if (attempt + 1 >= MAX_COMMIT_ATTEMPTS) {
                return Future.failedFuture(new IllegalStateException("placing " + volume + " lost " + MAX_COMMIT_ATTEMPTS
                        + " compare-and-swap races in a row; retrying later"));
            }
            return refresh(volume, pool.pool()).compose(v -> place(volume, attempt + 1));
        });
    }

    /** Where a clone or a volume from a snapshot must go, or what it is still waiting for. */
    record Sourced(VolumeSource source, String pool, String waitingFor) {
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
            Placement origin = state.placement(spec.sourceVolume()).map(Versioned::value).orElse(null);
            if (origin == null) {
                return new Sourced(null, null, "waiting for source volume " + spec.sourceVolume() + " to be placed");
            }
            return new Sourced(VolumeSource.volume(spec.sourceVolume(), origin.pool()), origin.pool(), null);
        }
        return new Sourced(null, null, null);
    }

    /** The decision the scheduler would make now, with a verdict for every pool; changes nothing. */
    Decision explain(VolumeIntent spec) {
        Sourced sourced = sourceFor(spec);
        Request request = new Request(spec, sourced.pool(), takenDomains(spec), consumerOf(spec));
        return scheduler.decide(request, state.candidates(), state.globalConfig(),
                ScoringPolicy.named(state.globalConfig().schedulerPolicy()), true);
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
            if (member.equals(spec.name())) {
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

    /** Reloads what a lost compare-and-swap may have been about, straight from etcd. */
    private Future<Void> refresh(String volume, String pool) {
        return store.get(keys.ledger(pool), Ledger.class).compose(ledger -> {
            ledger.ifPresent(l -> state.wroteLedger(l.value(), l.modRevision()));
            return store.get(keys.placement(volume), Placement.class);
        }).map(placement -> {
            placement.ifPresent(p -> state.wrotePlacement(p.value(), p.modRevision()));
            return null;
        });
    }

    // ---- a placed volume ----

    private Future<ReconcileResult> converge(Leadership leader, Versioned<VolumeIntent> intent, Versioned<Placement> placement) {
        VolumeIntent spec = intent.value();
        Placement current = placement.value();
        if (spec.sizeBytes() > current.sizeBytes()) {
            return lane.submit(() -> grow(spec.name(), 0)).map(v -> ReconcileResult.done());
        }
        boolean shrink = spec.sizeBytes() < current.sizeBytes();
        String message = shrink ? "shrinking is not supported: the volume stays at " + current.sizeBytes() + " bytes" : null;
        Placement next = creationRecord(spec, current);
        WorkItem desired = workFor(next);
        Versioned<WorkItem> existing = state.workItem(current.node(), current.volume()).orElse(null);
        Future<Void> work = Future.succeededFuture();
        if (onlyFirstCreation(current, next, existing, desired)) {
            // Every new volume gets this record once, right after it is Ready: under a burst of
            // creations one transaction per volume doubled the controller's writes, so the records
            // are committed in batches, like placements.
            work = enqueue(toRecord, current.volume(), MAX_BATCH, this::recordBatch);
        } else if (existing == null || !sameWork(existing.value(), desired) || !next.equals(current)) {
            if (existing != null && !Objects.equals(existing.value().export(), desired.export())
                    && next.generation() == current.generation()) {
                next = next.withGeneration(current.generation() + 1);
                desired = workFor(next);
            }
            Placement newPlacement = next;
            WorkItem item = existing == null || !sameWork(existing.value(), desired)
                    || existing.value().generation() < desired.generation() ? desired : null;
            boolean placementChanged = !newPlacement.equals(current);
            Transaction txn = store.txn().requireLeadership(leader)
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
                    metrics.conflict();
                    throw new IllegalStateException("placement of " + current.volume() + " changed while updating its work item");
                }
                return null;
            });
        }
        boolean reachable = state.nodeAlive(current.node());
        String reachability = reachable ? message
                : join(message, "node " + current.node() + " is down: the volume is unreachable until it returns");
        return work.compose(v -> writeScheduling(leader, current.volume(), SchedulingPhase.PLACED, null, Map.of(), reachability,
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
                && sameWork(existing.value().withCreationRecord(true, desired.emptySinceGeneration()), desired);
    }

    /**
     * Records the first creation of up to {@link #MAX_BATCH} volumes in one transaction, each
     * guarded by its placement's revision; a lost guard fails the batch and each volume's reconcile
     * runs again against what changed.
     */
    private Future<Void> recordBatch(List<String> volumes) {
        Optional<Leadership> leader = leadership.get();
        if (leader.isEmpty()) {
            return Future.succeededFuture();
        }
        Transaction txn = store.txn().requireLeadership(leader.get());
        Map<Placement, WorkItem> records = new LinkedHashMap<>();
        for (String volume : volumes) {
            Versioned<VolumeIntent> intent = state.intent(volume).orElse(null);
            Versioned<Placement> placement = state.placement(volume).orElse(null);
            if (intent == null || placement == null) {
                continue;
            }
            Placement current = placement.value();
            Placement next = creationRecord(intent.value(), current);
            WorkItem desired = workFor(next);
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
                metrics.conflict();
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
                metrics.recreatedEmpty();
                return current.recreatedEmpty(request);
            }
            log.warn("volume {}: the request of {} to re-create it empty is refused: it is {} on {}, not Lost; nothing changes",
                    current.volume(), request, status == null ? "without a status" : status.phase().value(), current.node());
            return current.withRecreateEmptyHandled(request);
        }
        if (current.createdAt() == null && status != null && status.phase() == VolumePhase.READY && status.sizeBytes() > 0
                && status.observedGeneration() >= current.generation()) {
            return current.withCreatedAt(clock.instant());
        }
        return current;
    }

    /** The work item a placement asks for: one place for what the node is told, creation record included. */
    private WorkItem workFor(Placement p) {
        return WorkItem.of(p.volume(), p.node(), p.pool(), p.engine(), p.sizeBytes(), p.thin(), p.generation(), sourceOf(p),
                exportFor(p.volume(), p.node(), p.engine())).withCreationRecord(p.mustExist(), p.emptySinceGeneration());
    }

    private Future<Void> grow(String volume, int attempt) {
        Optional<Leadership> leader = leadership.get();
        Versioned<VolumeIntent> intent = state.intent(volume).orElse(null);
        Versioned<Placement> placement = state.placement(volume).orElse(null);
        if (leader.isEmpty() || intent == null || placement == null || intent.value().sizeBytes() <= placement.value().sizeBytes()) {
            return Future.succeededFuture();
        }
        Placement current = placement.value();
        long delta = intent.value().sizeBytes() - current.sizeBytes();
        Candidate pool = state.candidate(current.pool()).orElse(null);
        if (pool == null || pool.free(current.thin()) < delta) {
            long free = pool == null ? 0 : Math.max(0, pool.free(current.thin()));
            // Room may come (a volume deleted, a ledger corrected): capacity changes try again.
            waitingForRoom.add(volume);
            return writeScheduling(leader.get(), volume, SchedulingPhase.PLACED, null, Map.of(),
                    "cannot grow to " + intent.value().sizeBytes() + " bytes: pool " + current.pool() + " has " + free
                            + " bytes free and needs " + delta, current.node(), current.pool(), state.nodeAlive(current.node()),
                    intent.value().sizeBytes(), FailureReason.NO_SPACE);
        }
        Placement grown = current.withSize(intent.value().sizeBytes(), current.generation() + 1);
        Ledger ledger = pool.ledger().grow(delta);
        WorkItem work = workFor(grown);
        return store.txn().requireLeadership(leader.get())
                .requireModRevision(keys.placement(volume), placement.modRevision())
                .requireModRevision(keys.ledger(current.pool()), pool.ledgerRevision())
                .put(keys.placement(volume), grown)
                .put(keys.ledger(current.pool()), ledger)
                .put(keys.workItem(current.node(), volume), work)
                .commit().compose(outcome -> {
                    if (outcome.succeeded()) {
                        state.wrotePlacement(grown, outcome.revision());
                        state.wroteLedger(ledger, outcome.revision());
                        state.wroteWorkItem(work, outcome.revision());
                        return writeScheduling(leader.get(), volume, SchedulingPhase.PLACED, Map.of(), null, current.node(),
                                current.pool(), state.nodeAlive(current.node()));
                    }
                    metrics.conflict();
                    if (attempt + 1 >= MAX_COMMIT_ATTEMPTS) {
                        return Future.failedFuture(new IllegalStateException("growing " + volume + " kept losing races"));
                    }
                    return refresh(volume, current.pool()).compose(v -> grow(volume, attempt + 1));
                });
    }

    // ---- deletion ----

    /**
     * One deletion costs the controller two transactions, both shared with other volumes' under a
     * burst: the order (placement and work item at the next generation, and the volume's record
     * saying what it waits for) and the release (ledger, placement, work item, record, intent and the
     * node's acknowledgement). The steps and the crash window each write covers are listed in
     * docs/data-safety.md.
     */
    private Future<ReconcileResult> delete(Leadership leader, String volume, Versioned<VolumeIntent> intent,
                                           Versioned<Placement> placement) {
        if (placement == null) {
            // Nothing was ever allocated (or release already committed): only records remain.
            Transaction txn = store.txn().requireLeadership(leader).delete(keys.volumeScheduling(volume));
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
            return writeScheduling(leader, volume, SchedulingPhase.DELETING, Map.of(), held, p.node(), p.pool(),
                    state.nodeAlive(p.node())).map(v -> ReconcileResult.done());
        }
        if (!ordered) {
            return requestOrder(volume).map(v -> ReconcileResult.done());
        }
        if (planRelease(volume) == null) {
            // The same record the order was written with, unless the node went down or came back
            // meanwhile: nothing is rewritten while the volume merely waits.
            return writeScheduling(leader, volume, SchedulingPhase.DELETING, Map.of(), deletionWait(p), p.node(), p.pool(),
                    state.nodeAlive(p.node())).map(v -> ReconcileResult.done());
        }
        return requestRelease(volume).map(v -> ReconcileResult.done());
    }

    /**
     * Why the volume's deletion cannot go on now, or null: its snapshots must be deleted first, and,
     * until the order is written, it must not be attached. A consumer may still be reading and
     * writing an attached volume; deleting it would pull the data from under a mounted file system.
     * Detaching (ControllerUnpublishVolume, ferryctl detach) removes the attachment, which reconciles
     * the volume again.
     */
    private String deletionHeldBy(String volume, boolean ordered) {
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
        return enqueue(toOrder, volume, MAX_ORDER_BATCH, this::orderBatch);
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
        WorkItem order = (work != null ? work.value() : workFor(p)).deletion(next.generation());
        VolumeScheduling record = record(volume, SchedulingPhase.DELETING, null, Map.of(), deletionWait(p), p.node(), p.pool(),
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
        Optional<Leadership> leader = leadership.get();
        if (leader.isEmpty()) {
            return Future.succeededFuture();
        }
        List<Order> orders = volumes.stream().map(this::planOrder).filter(Objects::nonNull).toList();
        if (orders.isEmpty()) {
            return Future.succeededFuture();
        }
        Transaction txn = store.txn().requireLeadership(leader.get());
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
                metrics.orderBatch(orders.size());
                return Future.succeededFuture();
            }
            metrics.conflict();
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

    /** Like placements, releases that arrive during a commit share the next transaction. */
    private Future<Void> requestRelease(String volume) {
        return enqueue(toRelease, volume, MAX_RELEASE_BATCH, this::releaseBatch);
    }

    /** A release as decided: the placement and, when the node answered, its acknowledgement. */
    private record Release(Versioned<Placement> placement, Versioned<VolumeStatus> acknowledgement) {
        Placement value() {
            return placement.value();
        }
    }

    /**
     * The release of a volume whose node has given it up under the order in force, or null while it
     * must wait. The node gives it up with its acknowledgement, the status {@code Deleted} at the
     * order's generation or later, which the release removes with the order it answers (guarded by
     * its revision: exactly that acknowledgement); or, down and never having reported the volume,
     * with nothing at all, having nothing to acknowledge (should the volume turn up there after all,
     * its agent keeps it and reports an orphan: a leak, never a loss).
     */
    private Release planRelease(String volume) {
        Versioned<Placement> placement = state.placement(volume).orElse(null);
        if (placement == null) {
            return null;
        }
        Placement p = placement.value();
        WorkItem order = state.workItem(p.node(), volume).map(Versioned::value).filter(WorkItem::deletionRequested).orElse(null);
        if (order == null) {
            return null;
        }
        Versioned<VolumeStatus> status = state.volumeStatusEntry(p.node(), volume).orElse(null);
        if (status != null && status.value().phase() == VolumePhase.DELETED
                && status.value().observedGeneration() >= order.generation()) {
            return new Release(placement, status);
        }
        return status == null && !state.nodeAlive(p.node()) ? new Release(placement, null) : null;
    }

    /**
     * Releases every volume of the batch in one transaction: each pool's ledger is put once, with
     * all of the batch's bytes taken out. A lost race sends each volume down the one-at-a-time path.
     */
    private Future<Void> releaseBatch(List<String> volumes) {
        Optional<Leadership> leader = leadership.get();
        if (leader.isEmpty()) {
            return Future.succeededFuture();
        }
        if (volumes.size() == 1) {
            return release(volumes.get(0), 0);
        }
        Map<String, Long> ledgerRevisions = new LinkedHashMap<>();
        Map<String, Ledger> ledgers = new HashMap<>();
        List<Release> released = new ArrayList<>();
        Transaction txn = store.txn().requireLeadership(leader.get());
        for (String volume : volumes) {
            Release release = planRelease(volume);
            if (release == null) {
                continue;
            }
            Placement p = release.value();
            if (!ledgerRevisions.containsKey(p.pool())) {
                Versioned<Ledger> ledger = state.ledger(p.pool()).orElse(null);
                ledgerRevisions.put(p.pool(), ledger == null ? 0 : ledger.modRevision());
                ledgers.put(p.pool(), ledger == null ? null : ledger.value());
            }
            // No ledger at all (removed by hand?) is written back empty, as a release alone would.
            Ledger current = ledgers.get(p.pool());
            ledgers.put(p.pool(), current == null ? null : releaseSafely(current, p.sizeBytes()));
            addRelease(txn, release);
            released.add(release);
        }
        if (released.isEmpty()) {
            return Future.succeededFuture();
        }
        ledgers.replaceAll((pool, ledger) -> ledger == null ? Ledger.empty(pool) : ledger);
        ledgerRevisions.forEach((pool, revision) -> txn.requireModRevision(keys.ledger(pool), revision)
                .put(keys.ledger(pool), ledgers.get(pool)));
        return txn.commit().compose(outcome -> {
            if (outcome.succeeded()) {
                released.forEach(r -> released(r, outcome.revision()));
                ledgers.values().forEach(l -> state.wroteLedger(l, outcome.revision()));
                metrics.releaseBatch(released.size());
                return Future.succeededFuture();
            }
            metrics.conflict();
            Future<Void> chain = Future.succeededFuture();
            for (Release r : released) {
                chain = chain.compose(v -> release(r.value().volume(), 0));
            }
            return chain;
        });
    }

    private Future<Void> release(String volume, int attempt) {
        Optional<Leadership> leader = leadership.get();
        Release release = planRelease(volume);
        if (leader.isEmpty() || release == null) {
            return Future.succeededFuture();
        }
        Placement p = release.value();
        Versioned<Ledger> ledger = state.ledger(p.pool()).orElse(null);
        Ledger released = ledger == null ? Ledger.empty(p.pool()) : releaseSafely(ledger.value(), p.sizeBytes());
        Transaction txn = store.txn().requireLeadership(leader.get())
                .requireModRevision(keys.ledger(p.pool()), ledger == null ? 0 : ledger.modRevision())
                .put(keys.ledger(p.pool()), released);
        addRelease(txn, release);
        return txn.commit().compose(outcome -> {
            if (outcome.succeeded()) {
                state.wroteLedger(released, outcome.revision());
                released(release, outcome.revision());
                return Future.succeededFuture();
            }
            metrics.conflict();
            if (attempt + 1 >= MAX_COMMIT_ATTEMPTS) {
                return Future.failedFuture(new IllegalStateException("releasing " + volume + " kept losing races"));
            }
            return refresh(volume, p.pool()).compose(v -> release(volume, attempt + 1));
        });
    }

    /**
     * The guards (placement, intent and acknowledgement unchanged) and the deletions of one release,
     * ledger aside. The node's acknowledgement goes in the same transaction as the order it answers:
     * the agent has nothing left to tidy up, and there is no moment at which one exists without the other.
     */
    private void addRelease(Transaction txn, Release release) {
        Placement p = release.value();
        String volume = p.volume();
        txn.requireModRevision(keys.placement(volume), release.placement().modRevision())
                .delete(keys.placement(volume))
                .delete(keys.workItem(p.node(), volume))
                .delete(keys.volumeScheduling(volume));
        state.intent(volume).ifPresent(intent ->
                txn.requireModRevision(keys.volume(volume), intent.modRevision()).delete(keys.volume(volume)));
        if (release.acknowledgement() != null) {
            String statusKey = keys.volumeStatus(p.node(), volume);
            txn.requireModRevision(statusKey, release.acknowledgement().modRevision()).delete(statusKey);
        }
    }

    private void released(Release release, long revision) {
        Placement p = release.value();
        state.removedPlacement(p, revision);
        state.removedWorkItem(p.node(), p.volume(), revision);
        state.removedScheduling(keys.volumeScheduling(p.volume()), revision);
        if (release.acknowledgement() != null) {
            state.removedVolumeStatus(p.node(), p.volume(), revision);
        }
        metrics.deleted();
    }

    private static Ledger releaseSafely(Ledger ledger, long bytes) {
        if (ledger.allocatedBytes() < bytes || ledger.volumeCount() < 1) {
            // The ledger already lost these bytes (edited by hand?): clamp rather than wedge deletion.
            log.warn("ledger of {} holds {} bytes, less than the {} being released; clamping to zero",
                    ledger.pool(), ledger.allocatedBytes(), bytes);
            return new Ledger(ledger.schemaVersion(), ledger.pool(), Math.max(0, ledger.allocatedBytes() - bytes),
                    Math.max(0, ledger.volumeCount() - 1));
        }
        return ledger.release(bytes);
    }

    // ---- helpers ----

    /**
     * The export for the attachments whose consumers reach the volume over the network
     * ({@link Reach#EXPORT}): every such host NQN. A consumer on the serving node, or handed the
     * device on the same machine, needs none.
     *
     * <p>Whether a consumer shares the serving node's machine rests on both registrations, and one
     * goes missing whenever an agent restarts or its lease lapses. Missing says nothing about where a
     * node runs, so the last registration this controller saw of it stands in: an agent's restart
     * does not export a handed-over volume and withdraw the export moments later. A node never seen
     * registered (a bare host attached with ferryctl, or any node after this controller started while
     * it was down) follows the rule as it is: an export.
     */
    private ExportSpec exportFor(String volume, String servingNode, Engine engine) {
        NodeRegistration serving = state.lastKnownRegistration(servingNode).orElse(null);
        Set<String> hosts = new TreeSet<>();
        String consumer = null;
        for (Attachment a : state.attachmentsOf(volume)) {
            NodeRegistration consumerRegistration = state.lastKnownRegistration(a.node()).orElse(null);
            if (refused(a, consumerRegistration)) {
                continue;
            }
            if (Reach.of(servingNode, serving, engine, a.node(), consumerRegistration).needsExport()) {
                hosts.add(a.hostNqn());
                if (consumer == null || a.node().compareTo(consumer) < 0) {
                    consumer = a.node();
                }
            }
        }
        return hosts.isEmpty() ? null : ExportSpec.tcp(consumer, hosts);
    }

    /**
     * Whether an attachment claims a host NQN its node did not register. The export's allow-list is
     * the one access control NVMe/TCP has here, so it takes only identities the nodes stated
     * themselves; a node never seen registered (a bare host attached with ferryctl) has nothing to
     * compare with and is taken at its word.
     */
    private static boolean refused(Attachment a, NodeRegistration registration) {
        return registration != null && !registration.hostNqn().equals(a.hostNqn());
    }

    /** The {@code Attached} condition while an attachment of the volume is refused; null otherwise. */
    private Condition attachmentRefusal(String volume, long observed) {
        for (Attachment a : state.attachmentsOf(volume)) {
            NodeRegistration registration = state.lastKnownRegistration(a.node()).orElse(null);
            if (refused(a, registration)) {
                return Condition.failed(Condition.ATTACHED, FailureReason.ATTACHMENT_REFUSED, "the attachment to "
                        + a.node() + " names host NQN " + a.hostNqn() + ", but node " + a.node() + " registered "
                        + registration.hostNqn() + ": nothing is exported to it", observed, 0);
            }
        }
        return null;
    }

    private static VolumeSource sourceOf(Placement p) {
        if (p.emptySinceGeneration() > 0) {
            // The operator replaced the lost volume by an empty one; its source is history.
            return null;
        }
        if (p.sourceSnapshot() != null) {
            return VolumeSource.snapshot(p.sourceSnapshot(), p.pool());
        }
        return p.sourceVolume() == null ? null : VolumeSource.volume(p.sourceVolume(), p.pool());
    }

    private static boolean sameWork(WorkItem a, WorkItem b) {
        return a.sizeBytes() == b.sizeBytes() && a.pool().equals(b.pool()) && a.engine() == b.engine() && a.thin() == b.thin()
                && Objects.equals(a.source(), b.source()) && Objects.equals(a.export(), b.export())
                && a.mustExist() == b.mustExist() && a.emptySinceGeneration() == b.emptySinceGeneration();
    }

    private static String join(String a, String b) {
        return a == null ? b : a + "; " + b;
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
    private Future<Void> writeScheduling(Leadership leader, String volume, SchedulingPhase phase, FailureReason why,
            Map<String, Integer> reasons, String message, String node, String pool, boolean reachable,
            long growRefusedBytes, FailureReason resizeRefused) {
        Versioned<VolumeScheduling> current = state.volumeScheduling(volume).orElse(null);
        long observed = state.intent(volume).map(Versioned::modRevision).orElse(0L);
        VolumeScheduling next = record(volume, phase, why, reasons, message, node, pool, reachable, observed,
                growRefusedBytes, resizeRefused);
        if (current != null && sameRecord(current.value(), next)) {
            return Future.succeededFuture();
        }
        String key = keys.volumeScheduling(volume);
        return records.replace(leader, key, current, next);
    }

    /**
     * The record a pass writes, conditions included: the one place that turns what the controller
     * decided into what readers decide on. Transition times are carried from the record it replaces.
     */
    private VolumeScheduling record(String volume, SchedulingPhase phase, FailureReason why, Map<String, Integer> reasons,
            String message, String node, String pool, boolean reachable, long observed, long growRefusedBytes,
            FailureReason resizeRefused) {
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
                node == null ? null : RecordConditions.reachable(node, reachable, observed),
                placed ? attachmentRefusal(volume, observed) : null,
                RecordConditions.reconciled(previous, failedAttempts.applyAsInt(volume), observed));
        return VolumeScheduling.of(volume, phase, reasons, message, node, pool, reachable, observed, clock.instant())
                .withGrowRefused(growRefusedBytes)
                .withConditions(Condition.carryTransitions(previous, conditions, clock.instant()));
    }

    /** Whether two records say the same, their time of writing aside. */
    private static boolean sameRecord(VolumeScheduling a, VolumeScheduling b) {
        return a.phase() == b.phase() && a.reasonCounts().equals(b.reasonCounts()) && Objects.equals(a.message(), b.message())
                && Objects.equals(a.node(), b.node()) && Objects.equals(a.pool(), b.pool()) && a.reachable() == b.reachable()
                && a.growRefusedBytes() == b.growRefusedBytes() && a.observedRevision() == b.observedRevision()
                && a.conditions().equals(b.conditions());
    }

    /**
     * Shows a failed pass in the volume's record: {@code Reconciled} false with the attempt count (or
     * the terminal reason), and, for a volume not placed yet, {@code Scheduled} false with the same
     * reason, so that a terminal failure caused by another key (a ledger that does not decode) is
     * answered at once with the generation it applies to. A record that cannot be written (etcd is
     * down, leadership lost) is skipped: the next pass that succeeds shows the count.
     */
    private Future<Void> recordFailure(String volume, Throwable error, int attempt) {
        Optional<Leadership> leader = leadership.get();
        Versioned<VolumeIntent> intent = state.intent(volume).orElse(null);
        if (leader.isEmpty() || intent == null || RecordConditions.unwritable(error)) {
            return Future.succeededFuture();
        }
        Versioned<VolumeScheduling> current = state.volumeScheduling(volume).orElse(null);
        long observed = intent.modRevision();
        Condition failed = RecordConditions.failed(error, attempt, observed);
        VolumeScheduling base = current != null ? current.value()
                : VolumeScheduling.of(volume, SchedulingPhase.PENDING, Map.of(), failed.message(), null, null, true, observed,
                        clock.instant());
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
                clock.instant(), base.growRefusedBytes(), Condition.carryTransitions(base.conditions(), conditions, clock.instant()));
        if (current != null && sameRecord(current.value(), next)) {
            return Future.succeededFuture();
        }
        return records.replace(leader.get(), keys.volumeScheduling(volume), current, next)
                .onFailure(e -> log.debug("could not record the failure of {} ({}); the next pass will", volume, e.toString()))
                .otherwiseEmpty();
    }

    private static Future<ReconcileResult> done() {
        return Future.succeededFuture(ReconcileResult.done());
    }
}
