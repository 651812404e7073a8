package io.ferry.agent;

import io.ferry.agent.engine.Content;
import io.ferry.agent.engine.EngineException;
import io.ferry.agent.engine.LocalVolume;
import io.ferry.agent.engine.PoolState;
import io.ferry.agent.engine.VolumeEngine;
import io.ferry.model.ValidationException;
import io.ferry.runtime.reconcile.ReconcileResult;
import io.ferry.runtime.reconcile.TerminalException;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.ExportInfo;
import io.ferry.model.Condition;
import io.ferry.model.FailureReason;
import io.ferry.model.Placement;
import io.ferry.model.PoolConfig;
import io.ferry.model.ProgressReason;
import io.ferry.model.SnapshotStatus;
import io.ferry.model.Sizes;
import io.ferry.model.VolumePhase;
import io.ferry.model.VolumeStatus;
import io.ferry.model.WorkItem;
import io.vertx.core.AsyncResult;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

/**
 * Converges one volume (the reconcile key is the volume name) to its work item: create, grow,
 * export, report; or, when the work item is a deletion order, unexport, remove and acknowledge with
 * a {@code Deleted} status of the order's generation.
 *
 * <p>Every step starts by looking at what exists, so a reconcile after a crash at any point
 * continues where the previous one stopped. Nothing is ever deleted because a key is missing: a
 * volume whose work item is gone (removed by hand, or an etcd restored from an older backup) is
 * left exactly as it is, and the orphan scan reports it.
 */
final class VolumeReconciler {

    private static final Logger log = LoggerFactory.getLogger(VolumeReconciler.class);
    private static final Duration WAIT_FOR_ENGINE = Duration.ofSeconds(60);
    private static final int MAX_MESSAGE = 2000;
    static final Duration REPORT_PROGRESS_AFTER = Duration.ofMillis(250);
    /**
     * How long a deletion order whose acknowledgement the controller removed may still be seen
     * before it counts as standing (the acknowledgement removed by hand): the order's own removal,
     * in the same transaction, comes through another watch, normally within milliseconds.
     */
    static final Duration ACKNOWLEDGEMENT_TAKEN_RECHECK = Duration.ofSeconds(5);

    private final NodeContext ctx;
    private final StatusWriter statuses;
    /** Volumes whose acknowledgement the controller removed, with the generation it answered. */
    private final Map<String, Long> acknowledgementsTaken = new ConcurrentHashMap<>();

    VolumeReconciler(NodeContext ctx, StatusWriter statuses) {
        this.ctx = ctx;
        this.statuses = statuses;
    }

    Future<ReconcileResult> reconcile(String volume) {
        if (ctx.workItemIsBad(volume)) {
            // Never act on a value we cannot read, least of all by deleting: report and wait for a fix.
            String why = ctx.badWork.why(volume).orElse("the value does not decode");
            Optional<VolumeStatus> previous = current(volume);
            String message = truncate("work item " + ctx.keys.workItem(ctx.node, volume)
                    + " is invalid; the volume is left as it is: " + why);
            // The generation of a value that does not decode is unknown: the failure is about the
            // last one this node saw, and a readable work item (a new generation) starts afresh.
            long generation = previous.map(VolumeStatus::observedGeneration).orElse(0L);
            return writeStatus(volume, VolumePhase.FAILED, previous, message, Condition.failedAgain(Condition.READY,
                    FailureReason.INVALID_WORK_ITEM, message, generation, conditionsOf(previous)))
                    .map(ReconcileResult.done());
        }
        Optional<WorkItem> item = ctx.workItem(volume);
        if (item.isEmpty()) {
            return forgetAcknowledgedDeletion(volume);
        }
        return item.get().deletionRequested() ? remove(item.get()) : converge(item.get());
    }

    // ---- converge ----

    private Future<ReconcileResult> converge(WorkItem item) {
        String volume = item.volume();
        Optional<PoolConfig> maybePool = ctx.pool(item.pool());
        if (maybePool.isEmpty()) {
            // Terminal: a pool config written for this node enqueues every work item of the pool.
            return failed(item, FailureReason.POOL_NOT_CONFIGURED, "pool " + item.pool() + " has no valid config for node "
                    + ctx.node + " under " + ctx.keys.poolConfig(item.pool()))
                    .map(ReconcileResult.done());
        }
        PoolConfig pool = maybePool.get();
        String invalid = validate(item, pool);
        if (invalid != null) {
            // Terminal: nothing changes until the work item or the pool config does, and both enqueue us.
            return failed(item, FailureReason.INVALID_WORK_ITEM, invalid).map(ReconcileResult.done());
        }
        Optional<VolumeEngine> maybeEngine = ctx.engine(pool.engine());
        if (maybeEngine.isEmpty()) {
            // Terminal for the generation, but an engine's tools or socket appearing is an input no
            // informer reports: the agent looks again after a while (not with backoff, and the status
            // keeps saying EngineUnavailable meanwhile).
            return failed(item, FailureReason.ENGINE_UNAVAILABLE, "engine " + pool.engine() + " is not available on node "
                    + ctx.node)
                    .map(ReconcileResult.requeueAfter(WAIT_FOR_ENGINE));
        }
        VolumeEngine engine = maybeEngine.get();
        Content content = item.source() == null ? Content.EMPTY
                : item.source().snapshot() != null ? Content.ofSnapshot(item.source().snapshot())
                : Content.ofVolume(item.source().volume());

        // One worker-thread pass does the usual case whole (look, create or activate, export):
        // each hop between the event loop and a worker costs a thread wake-up and a context switch.
        AtomicBoolean creatingNow = new AtomicBoolean();
        Optional<VolumeStatus> before = current(volume);
        String createdBefore = createdBefore(item, before);
        return reportCreatingIfSlow(item, creatingNow, () -> {
                    Optional<LocalVolume> found = engine.findVolume(pool, volume);
                    LocalVolume local;
                    if (found.isEmpty() && createdBefore != null) {
                        throw new VolumeLost("volume " + volume + " was created here before (" + createdBefore
                                + ") but pool " + pool.name() + " no longer has it" + poolProblem(engine, pool)
                                + "; it is not re-created empty. Bring the storage back (the agent finds it again by"
                                + " itself), or decide: `ferryctl volume recreate --empty " + volume + "` or delete it");
                    }
                    if (found.isEmpty()) {
                        requirePlacement(item);
                        requireSource(item, pool, engine);
                        creatingNow.set(true);
                        local = engine.createVolume(pool, volume, item.sizeBytes(), item.thin(), content);
                        ctx.metrics.volumeCreated(pool.engine());
                    } else if (found.get().sizeBytes() < item.sizeBytes()) {
                        requirePlacement(item);
                        return null; // grown below, after Expanding is reported
                    } else {
                        local = found.get().devicePath() != null ? found.get() : engine.activate(pool, volume);
                    }
                    return export(item, pool, engine, volume, local);
                })
                .compose(converged -> converged != null ? Future.succeededFuture(converged)
                        // Growing: report Expanding first, since it can take a while (and may fail halfway).
                        : writeStatus(volume, VolumePhase.EXPANDING, current(volume), null, progressing(item))
                                .compose(v -> ctx.volumeRuntime.blocking(() -> export(item, pool, engine, volume,
                                        engine.expandVolume(pool, volume, item.sizeBytes(), item.thin())))))
                .compose(done -> {
                    String note = done.local.sizeBytes() > item.sizeBytes()
                            ? "the volume is " + done.local.sizeBytes() + " bytes, larger than the requested "
                            + item.sizeBytes() + "; volumes are never shrunk" : null;
                    if (done.local.devicePath() == null && done.export == null) {
                        String noDevice = "engine " + pool.engine() + " gives this volume no local block device;"
                                + " a consumer must connect over NVMe/TCP (give the work item an export)";
                        note = note == null ? noDevice : note + "; " + noDevice;
                    }
                    VolumeStatus ready = VolumeStatus.of(volume, ctx.node, item.pool(), VolumePhase.READY, done.local.devicePath(),
                            done.local.sizeBytes(), done.export, item.generation(), note, Clock.now())
                            .withReady(Condition.progress(Condition.READY, ProgressReason.CARRIED_OUT, null,
                                    item.generation()));
                    ctx.metrics.trackDevice(volume, done.local.devicePath());
                    ctx.metrics.volumeLost(volume, false);
                    return statuses.volume(ctx.keys.volumeStatus(ctx.node, volume), ready, ctx.volumeStatus(volume))
                            .onSuccess(written -> {
                                if (before.filter(VolumeStatus::lost).isPresent()) {
                                    retryDependentsOf(volume);
                                }
                            });
                })
                .map(ReconcileResult.done())
                .recover(err -> {
                    if (err instanceof VolumeLost) {
                        // Terminal until an input changes: the work item, the pool, or the inventory
                        // finding the volume again (the orphan scan enqueues it then).
                        return lost(item, before.orElse(null), err.getMessage());
                    }
                    FailureReason reason = FailureClassifier.classify(err);
                    return failed(item, reason, describe(err)).transform(ignored -> Future.failedFuture(
                            reason.terminal() ? new TerminalException(err.getMessage(), err) : err));
                });
    }

    private record Converged(LocalVolume local, ExportInfo export) {
    }

    /**
     * Only the controller gives work. It writes a volume's placement (charged to its pool's ledger)
     * and its work item in one transaction, so a work item asking this node for space that no
     * placement accounts for was written by someone else: a hand-written or forged key would
     * otherwise make the agent fill a pool outside the ledger, or copy another volume's data into a
     * new one. Checked before anything is created or grown (a point read, on this worker thread);
     * what already exists is left as it is.
     */
    private void requirePlacement(WorkItem item) throws Exception {
        String key = ctx.keys.placement(item.volume());
        Placement p;
        try {
            p = ctx.store.get(key, Placement.class).toCompletionStage().toCompletableFuture()
                    .get(ctx.store.requestTimeout().toMillis(), TimeUnit.MILLISECONDS)
                    .map(Versioned::value).orElse(null);
        } catch (ExecutionException e) {
            if (FailureClassifier.unwrap(e) instanceof ValidationException invalid) {
                throw unplaced(item, key + " does not decode (" + invalid.getMessage() + ")");
            }
            throw e;
        }
        String why = p == null ? "no placement exists for it (" + key + ")"
                : !p.node().equals(ctx.node) ? "its placement is on node " + p.node()
                : !p.pool().equals(item.pool()) ? "its placement is in pool " + p.pool()
                : p.engine() != item.engine() ? "its placement is for engine " + p.engine().value()
                : p.sizeBytes() < item.sizeBytes() ? "its placement holds " + p.sizeBytes() + " bytes, not " + item.sizeBytes()
                : !Objects.equals(sourceOf(p), sourceOf(item)) ? "its placement's source is " + sourceOf(p)
                : null;
        if (why != null) {
            throw unplaced(item, why);
        }
    }

    private EngineException unplaced(WorkItem item, String why) {
        return new EngineException("work item " + ctx.keys.workItem(ctx.node, item.volume()) + " asks for volume "
                + item.volume() + " in pool " + item.pool() + " (" + item.sizeBytes() + " bytes), but " + why
                + "; only work the controller gives is carried out, and nothing was created or grown",
                FailureReason.UNPLACED_WORK);
    }

    /** A placement's or a work item's source, in one form for comparing: null, snapshot:NAME or volume:NAME. */
    private static String sourceOf(Placement p) {
        return p.emptySinceGeneration() > 0 ? null : p.sourceSnapshot() != null ? "snapshot:" + p.sourceSnapshot()
                : p.sourceVolume() != null ? "volume:" + p.sourceVolume() : null;
    }

    private static String sourceOf(WorkItem item) {
        return item.source() == null ? null : item.source().snapshot() != null ? "snapshot:" + item.source().snapshot()
                : "volume:" + item.source().volume();
    }

    /** Reports a lost volume without a device or export: nothing may use a path that now means something else. */
    private Future<ReconcileResult> lost(WorkItem item, VolumeStatus before, String message) {
        String volume = item.volume();
        log.warn("{}", message);
        ctx.metrics.untrackDevice(volume);
        ctx.metrics.volumeLost(volume, true);
        // Without a status of its own (removed by hand, etcd restored) the work item is the record.
        long size = before != null && before.sizeBytes() > 0 ? before.sizeBytes() : item.sizeBytes();
        long generation = before != null && before.observedGeneration() > 0 ? before.observedGeneration() : item.generation();
        VolumeStatus lost = VolumeStatus.of(volume, ctx.node, item.pool(), VolumePhase.LOST, null, size, null,
                generation, truncate(message), Clock.now()).withReady(Condition.failedAgain(Condition.READY,
                FailureReason.VOLUME_LOST, truncate(message), item.generation(),
                before == null ? List.of() : before.conditions()));
        return statuses.volume(ctx.keys.volumeStatus(ctx.node, volume), lost, ctx.volumeStatus(volume))
                .map(ReconcileResult.done());
    }

    /**
     * Why the volume must already exist, or null when creating it is right. The controller's record
     * (the work item's {@code mustExist}, from the placement) holds even when this node's status is
     * gone; the node's own status holds even under a controller that predates the record. Either
     * counts only from the generation at which an operator last replaced a lost volume by an empty
     * one: what was recorded before that belonged to the volume the operator gave up.
     */
    static String createdBefore(WorkItem item, Optional<VolumeStatus> status) {
        if (item.mustExist()) {
            return "the controller's placement records its first creation";
        }
        return status.filter(VolumeReconciler::wasCreated)
                .filter(st -> st.observedGeneration() >= item.emptySinceGeneration())
                .map(st -> "status " + st.phase().value() + ", " + st.sizeBytes() + " bytes")
                .orElse(null);
    }

    /** The pool's own account of what is wrong with it, if anything: the likely reason the volume is gone. */
    private static String poolProblem(VolumeEngine engine, PoolConfig pool) {
        try {
            PoolState state = engine.poolState(pool);
            List<String> problems = state.conditions().stream().filter(c -> !c.status())
                    .map(c -> c.reason() + (c.message() == null ? "" : ": " + c.message())).toList();
            return problems.isEmpty() ? "" : " (pool " + pool.name() + ": " + String.join("; ", problems) + ")";
        } catch (RuntimeException e) {
            return " (pool " + pool.name() + " cannot be inspected: " + describe(e) + ")";
        }
    }

    /**
     * A clone or a volume from a snapshot needs its source; one this node created and no longer finds
     * is lost, which retrying cannot fix (the source coming back enqueues the work again). A source
     * not created yet is the engine's to report, and is retried.
     */
    /**
     * A volume's status as this agent last wrote it, else as the watch has it. The dependents of a
     * volume found again are retried right after its Ready is written, before the watch brings that
     * back: the cache's Lost would fail them again, for good (a terminal SourceLost).
     */
    static Optional<VolumeStatus> latestStatus(NodeContext ctx, StatusWriter statuses, String volume) {
        Optional<VolumeStatus> written = statuses.last(ctx.keys.volumeStatus(ctx.node, volume));
        return written.isPresent() ? written : ctx.volumeStatus(volume);
    }

    private void requireSource(WorkItem item, PoolConfig pool, VolumeEngine engine) {
        if (item.source() == null) {
            return;
        }
        if (item.source().volume() != null) {
            String source = item.source().volume();
            Optional<VolumeStatus> st = latestStatus(ctx, statuses, source).filter(VolumeReconciler::wasCreated);
            if (st.isPresent() && (st.get().phase() == VolumePhase.LOST || engine.findVolume(pool, source).isEmpty())) {
                throw EngineException.of(FailureReason.SOURCE_LOST, "source volume " + source + " was created on node "
                        + ctx.node + " and pool " + pool.name() + " no longer has it; volume " + item.volume()
                        + " cannot be cloned from it until it is back");
            }
        } else if (item.source().snapshot() != null) {
            String source = item.source().snapshot();
            if (ctx.snapshotStatus(source).filter(SnapshotStatus::readyToUse).isPresent()
                    && engine.findSnapshot(pool, source).isEmpty()) {
                throw EngineException.of(FailureReason.SOURCE_LOST, "snapshot " + source + " was cut on node "
                        + ctx.node + " and pool " + pool.name() + " no longer has it; volume " + item.volume()
                        + " cannot be made from it until it is back");
            }
        }
    }

    /**
     * A lost volume found again is an input that changed for the snapshots and clones that failed
     * with {@code SourceLost} because of it: they are tried again.
     */
    private void retryDependentsOf(String volume) {
        if (ctx.snapshotWork != null) {
            ctx.snapshotWork.values().stream().map(v -> v.value())
                    .filter(w -> w.sourceVolume().equals(volume) && !w.deletionRequested())
                    .forEach(w -> ctx.snapshotRuntime.enqueue(w.snapshot()));
        }
        if (ctx.work != null) {
            ctx.work.values().stream().map(v -> v.value())
                    .filter(w -> w.source() != null && volume.equals(w.source().volume()) && !w.deletionRequested())
                    .forEach(w -> ctx.volumeRuntime.enqueue(w.volume()));
        }
    }

    /** The volume existed and is gone: never answered by creating an empty one. */
    private static final class VolumeLost extends RuntimeException {
        VolumeLost(String message) {
            super(message, null, false, false);
        }
    }

    /**
     * Whether a status records a volume that was created: it had a size (only a created volume has
     * one) or was already found lost. A {@code Deleted} status belongs to a previous volume of the name.
     */
    static boolean wasCreated(VolumeStatus status) {
        return status.phase() == VolumePhase.LOST
                || status.phase() != VolumePhase.DELETED && status.sizeBytes() > 0;
    }

    /** Exports the volume as its work item asks, or withdraws an export it no longer asks for; blocking. */
    private Converged export(WorkItem item, PoolConfig pool, VolumeEngine engine, String volume, LocalVolume local) {
        ExportInfo info = null;
        if (item.export() != null) {
            info = ctx.exporterFor(pool.engine()).export(volume, engine.exportSource(pool, local), local.sizeBytes(),
                    item.export());
        } else {
            ctx.exporterFor(pool.engine()).unexport(volume);
        }
        return new Converged(local, info);
    }

    /**
     * Runs a converging pass and reports {@code Creating} only when the pass is creating the volume
     * and outlasts {@link #REPORT_PROGRESS_AFTER}. Most creates (a sparse file, a thin LV) finish
     * sooner, and a status write before them cost every volume an etcd round trip and a third of its
     * writes. Nothing depends on that write for safety: a volume created just before a crash is
     * adopted through its work item, or, when the work item was withdrawn meanwhile, deleted by the
     * orphan scan because it has no placement.
     */
    private <T> Future<T> reportCreatingIfSlow(WorkItem item, AtomicBoolean creatingNow, Callable<T> pass) {
        return reportIfSlow(creatingNow, () -> writeStatus(item.volume(), VolumePhase.CREATING, current(item.volume()), null,
                progressing(item)), pass);
    }

    /**
     * Runs a blocking pass and writes a progress status only when it outlasts
     * {@link #REPORT_PROGRESS_AFTER} while {@code worthReporting} holds. A report already on its way
     * is waited for, so it can never overwrite what the pass writes next.
     */
    private <T> Future<T> reportIfSlow(AtomicBoolean worthReporting, Supplier<Future<Boolean>> report, Callable<T> pass) {
        Future<T> running = ctx.volumeRuntime.blocking(pass);
        Promise<T> done = Promise.promise();
        Handler<AsyncResult<T>> finish = result -> {
            if (result.succeeded()) {
                done.tryComplete(result.result());
            } else {
                done.tryFail(result.cause());
            }
        };
        long timer = ctx.vertx.setTimer(REPORT_PROGRESS_AFTER.toMillis(), id -> {
            if (running.isComplete() || !worthReporting.get()) {
                running.onComplete(finish);
            } else {
                report.get().onComplete(reported -> running.onComplete(finish));
            }
        });
        running.onComplete(result -> {
            if (ctx.vertx.cancelTimer(timer)) {
                finish.handle(result);
            }
        });
        return done.future();
    }

    /** Work item rules the model cannot check alone because they need the pool. */
    private String validate(WorkItem item, PoolConfig pool) {
        if (pool.engine() != item.engine()) {
            return "work item asks for engine " + item.engine() + " but pool " + pool.name() + " is "
                    + pool.engine();
        }
        if (item.sizeBytes() > Sizes.MAX_VOLUME_BYTES) {
            return "sizeBytes " + item.sizeBytes() + " exceeds the largest volume, " + Sizes.MAX_VOLUME_BYTES
                    + " bytes";
        }
        if (item.thin() && !item.engine().thin()) {
            return "engine " + item.engine() + " cannot hold thin volumes";
        }
        if (!item.thin() && !item.engine().thick()) {
            return "engine " + item.engine() + " holds only thin volumes";
        }
        if (item.source() != null && !item.source().pool().equals(item.pool())) {
            return "the source " + (item.source().snapshot() != null ? "snapshot " + item.source().snapshot()
                    : "volume " + item.source().volume()) + " is in pool " + item.source().pool()
                    + "; a volume can only be created from a source in its own pool " + item.pool();
        }
        if (item.source() != null && item.source().volume() != null && item.source().volume().equals(item.volume())) {
            return "a volume cannot be cloned from itself";
        }
        return null;
    }

    // ---- delete ----

    /**
     * Carries out a deletion order: unexport, remove from the order's pool, acknowledge with status
     * {@code Deleted} of the order's generation. That acknowledgement is the one write a deletion
     * costs the agent: {@code Deleting} is reported only when the removal outlasts
     * {@link #REPORT_PROGRESS_AFTER} or fails, and the controller removes the acknowledgement together
     * with the order. No crash needs {@code Deleting}: the order stays until acknowledged, and an
     * agent that restarts carries it out again over whatever is left (removal finds nothing to remove).
     */
    private Future<ReconcileResult> remove(WorkItem order) {
        String volume = order.volume();
        Optional<VolumeStatus> status = current(volume);
        if (status.isPresent() && status.get().phase() == VolumePhase.DELETED
                && status.get().observedGeneration() >= order.generation()) {
            return Future.succeededFuture(ReconcileResult.done());
        }
        Long taken = acknowledgementsTaken.remove(volume);
        if (status.isEmpty() && taken != null && taken >= order.generation()) {
            // The controller removed the acknowledgement with this order in one transaction; the
            // order's removal is on its way through the work items' watch. Should the order still
            // stand after a while, the acknowledgement was removed by hand, and is written again.
            return Future.succeededFuture(ReconcileResult.requeueAfter(ACKNOWLEDGEMENT_TAKEN_RECHECK));
        }
        Optional<PoolConfig> pool = ctx.pool(order.pool());
        if (pool.isEmpty()) {
            // Without the pool's config there is no telling where the data lives; keep it and say so.
            // A new pool config enqueues this volume again.
            return failed(order, FailureReason.POOL_NOT_CONFIGURED, "cannot carry out the deletion order: pool "
                    + order.pool() + " has no valid config for node " + ctx.node + "; the volume is kept")
                    .map(ReconcileResult.done());
        }
        Optional<VolumeEngine> engine = ctx.engine(pool.get().engine());
        if (engine.isEmpty()) {
            return failed(order, FailureReason.ENGINE_UNAVAILABLE, "cannot carry out the deletion order: engine "
                    + pool.get().engine() + " is not available on node " + ctx.node + "; the volume is kept")
                    .map(ReconcileResult.requeueAfter(WAIT_FOR_ENGINE));
        }
        AtomicBoolean worthReporting = new AtomicBoolean(status.isPresent() && status.get().phase() != VolumePhase.DELETING);
        return reportIfSlow(worthReporting, () -> writeStatus(volume, VolumePhase.DELETING, current(volume), null,
                        Condition.progress(Condition.READY, ProgressReason.DELETING, null, order.generation())),
                () -> {
                    ctx.exporterFor(pool.get().engine()).unexport(volume);
                    engine.get().deleteVolume(pool.get(), volume);
                    return null;
                })
                .recover(err -> {
                    Optional<VolumeStatus> now = current(volume);
                    String message = truncate(describe(err));
                    return writeStatus(volume, VolumePhase.DELETING, now, message, Condition.failedAgain(Condition.READY,
                            FailureClassifier.classify(err), message, order.generation(), conditionsOf(now)))
                            .transform(written -> Future.failedFuture(err));
                })
                .compose(v -> statuses.volume(ctx.keys.volumeStatus(ctx.node, volume),
                        VolumeStatus.of(volume, ctx.node, order.pool(), VolumePhase.DELETED, null, 0, null, order.generation(),
                                "removed on the controller's deletion order", Clock.now())
                                .withReady(Condition.progress(Condition.READY, ProgressReason.DELETED, null,
                                        order.generation())),
                        ctx.volumeStatus(volume)))
                .map(v -> {
                    ctx.metrics.volumeDeleted();
                    ctx.metrics.untrackDevice(volume);
                    ctx.metrics.volumeLost(volume, false);
                    log.info("volume {} removed from node {} (deletion order, generation {})", volume, ctx.node,
                            order.generation());
                    return ReconcileResult.done();
                });
    }

    /**
     * The controller removed this node's acknowledgement of a deletion order (it does so in the
     * transaction that withdraws the order): remembered, so that the order, still seen for the
     * moment its own removal takes to arrive, is not carried out and acknowledged a second time.
     */
    void acknowledgementTaken(VolumeStatus acknowledgement) {
        acknowledgementsTaken.merge(acknowledgement.volume(), acknowledgement.observedGeneration(), Math::max);
    }

    /**
     * No work item: nothing is deleted. A {@code Deleted} status still there is removed: an older
     * controller withdraws the order alone and leaves its acknowledgement to the agent. Anything else
     * stays as it is.
     */
    private Future<ReconcileResult> forgetAcknowledgedDeletion(String volume) {
        acknowledgementsTaken.remove(volume);
        Optional<VolumeStatus> status = current(volume);
        if (status.isPresent() && status.get().phase() == VolumePhase.DELETED) {
            return statuses.delete(ctx.keys.volumeStatus(ctx.node, volume)).map(v -> ReconcileResult.done());
        }
        if (status.isPresent()) {
            log.warn("volume {} has a status on node {} but no work item: it is kept as it is and reported as an"
                    + " orphan (deletion happens only on the controller's order)", volume, ctx.node);
        }
        return Future.succeededFuture(ReconcileResult.done());
    }

    // ---- status ----

    private Optional<VolumeStatus> current(String volume) {
        return latestStatus(ctx, statuses, volume);
    }

    /** A Failed status whose Ready condition is the typed failure for the work item's generation, attempts counted on. */
    private Future<Boolean> failed(WorkItem item, FailureReason reason, String message) {
        Optional<VolumeStatus> previous = current(item.volume());
        String text = truncate(message);
        return writeStatus(item.volume(), VolumePhase.FAILED, previous, text, Condition.failedAgain(Condition.READY,
                reason, text, item.generation(), conditionsOf(previous)));
    }

    private static Condition progressing(WorkItem item) {
        return Condition.progress(Condition.READY, ProgressReason.PROGRESSING, null, item.generation());
    }

    private static List<Condition> conditionsOf(Optional<VolumeStatus> status) {
        return status.map(VolumeStatus::conditions).orElse(List.of());
    }

    /** Writes a phase with its Ready condition, keeping what is known of the volume (device, size, export, generation). */
    private Future<Boolean> writeStatus(String volume, VolumePhase phase, Optional<VolumeStatus> previous,
            String message, Condition ready) {
        VolumeStatus p = previous.orElse(null);
        String pool = ctx.workItem(volume).map(WorkItem::pool).orElse(p == null ? null : p.pool());
        VolumeStatus next = VolumeStatus.of(volume, ctx.node, pool, phase, p == null ? null : p.devicePath(),
                p == null ? 0 : p.sizeBytes(), p == null ? null : p.export(), p == null ? 0 : p.observedGeneration(),
                truncate(message), Clock.now()).withReady(ready);
        return statuses.volume(ctx.keys.volumeStatus(ctx.node, volume), next, ctx.volumeStatus(volume))
                .recover(err -> {
                    log.warn("cannot write the status of volume {}: {}", volume, err.getMessage());
                    return Future.failedFuture(err);
                });
    }

    /** The error a future's wrappers carry. */
    private static Throwable unwrap(Throwable err) {
        return FailureClassifier.unwrap(err);
    }

    static String describe(Throwable err) {
        Throwable e = unwrap(err);
        String m = e.getMessage();
        return m == null || m.isBlank() ? e.getClass().getSimpleName() : m;
    }

    static String truncate(String message) {
        if (message == null) {
            return null;
        }
        String clean = message.replaceAll("[\\p{Cntrl}\u2028\u2029&&[^\n\t]]", " ");
        return clean.length() > MAX_MESSAGE ? clean.substring(0, MAX_MESSAGE) + "..." : clean;
    }
}
