package io.ferry.agent;

import io.ferry.agent.engine.Content;
import io.ferry.agent.engine.LocalVolume;
import io.ferry.agent.engine.PoolState;
import io.ferry.agent.engine.VolumeEngine;
import io.ferry.runtime.reconcile.ReconcileResult;
import io.ferry.runtime.reconcile.TerminalException;
import io.ferry.model.ExportInfo;
import io.ferry.model.Condition;
import io.ferry.model.FailureReason;
import io.ferry.model.PoolConfig;
import io.ferry.model.ProgressReason;
import io.ferry.model.VolumePhase;
import io.ferry.model.VolumeStatus;
import io.ferry.model.WorkItem;
import io.vertx.core.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;

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
    static final Duration WAIT_FOR_ENGINE = Duration.ofSeconds(60);
    /** See {@link VolumeDeletion#ACKNOWLEDGEMENT_TAKEN_RECHECK}. */
    static final Duration ACKNOWLEDGEMENT_TAKEN_RECHECK = VolumeDeletion.ACKNOWLEDGEMENT_TAKEN_RECHECK;

    private final NodeContext ctx;
    private final StatusWriter statuses;
    private final VolumeStatuses reports;
    private final WorkItemChecks checks;
    private final SlowPassReports slow;
    private final VolumeDeletion deletion;

    VolumeReconciler(NodeContext ctx, StatusWriter statuses) {
        this.ctx = ctx;
        this.statuses = statuses;
        this.reports = new VolumeStatuses(ctx, statuses);
        this.checks = new WorkItemChecks(ctx, statuses);
        this.slow = new SlowPassReports(ctx);
        this.deletion = new VolumeDeletion(ctx, statuses, reports, slow);
    }

    /** The controller removed this node's acknowledgement of a deletion order; see {@link VolumeDeletion}. */
    void acknowledgementTaken(VolumeStatus acknowledgement) {
        deletion.acknowledgementTaken(acknowledgement);
    }

    Future<ReconcileResult> reconcile(String volume) {
        if (ctx.workItemIsBad(volume)) {
            // Never act on a value we cannot read, least of all by deleting: report and wait for a fix.
            String why = ctx.badWork.why(volume).orElse("the value does not decode");
            Optional<VolumeStatus> previous = reports.current(volume);
            String message = StatusMessages.truncate("work item " + ctx.keys.workItem(ctx.node, volume)
                    + " is invalid; the volume is left as it is: " + why);
            // The generation of a value that does not decode is unknown: the failure is about the
            // last one this node saw, and a readable work item (a new generation) starts afresh.
            long generation = previous.map(VolumeStatus::observedGeneration).orElse(0L);
            return reports.write(volume, VolumePhase.FAILED, previous, message, Condition.failedAgain(Condition.READY,
                    FailureReason.INVALID_WORK_ITEM, message, generation, VolumeStatuses.conditionsOf(previous)))
                    .map(ReconcileResult.done());
        }
        Optional<WorkItem> item = ctx.workItem(volume);
        if (item.isEmpty()) {
            return deletion.forgetAcknowledgedDeletion(volume);
        }
        return item.get().deletionRequested() ? deletion.remove(item.get()) : converge(item.get());
    }

    // ---- converge ----

    private Future<ReconcileResult> converge(WorkItem item) {
        String volume = item.volume();
        Optional<PoolConfig> maybePool = ctx.pool(item.pool());
        if (maybePool.isEmpty()) {
            // Terminal: a pool config written for this node enqueues every work item of the pool.
            return reports.failed(item, FailureReason.POOL_NOT_CONFIGURED, "pool " + item.pool() + " has no valid config for node "
                    + ctx.node + " under " + ctx.keys.poolConfig(item.pool()))
                    .map(ReconcileResult.done());
        }
        PoolConfig pool = maybePool.get();
        String invalid = WorkItemChecks.validate(item, pool);
        if (invalid != null) {
            // Terminal: nothing changes until the work item or the pool config does, and both enqueue us.
            return reports.failed(item, FailureReason.INVALID_WORK_ITEM, invalid).map(ReconcileResult.done());
        }
        Optional<VolumeEngine> maybeEngine = ctx.engine(pool.engine());
        if (maybeEngine.isEmpty()) {
            // Terminal for the generation, but an engine's tools or socket appearing is an input no
            // informer reports: the agent looks again after a while (not with backoff, and the status
            // keeps saying EngineUnavailable meanwhile).
            return reports.failed(item, FailureReason.ENGINE_UNAVAILABLE, "engine " + pool.engine() + " is not available on node "
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
        Optional<VolumeStatus> before = reports.current(volume);
        String createdBefore = WorkItemChecks.createdBefore(item, before);
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
                        checks.requirePlacement(item);
                        checks.requireSource(item, pool, engine);
                        creatingNow.set(true);
                        local = engine.createVolume(pool, volume, item.sizeBytes(), item.thin(), content);
                        ctx.metrics.volumeCreated(pool.engine());
                    } else if (found.get().sizeBytes() < item.sizeBytes()) {
                        checks.requirePlacement(item);
                        return null; // grown below, after Expanding is reported
                    } else {
                        local = found.get().devicePath() != null ? found.get() : engine.activate(pool, volume);
                    }
                    return export(item, pool, engine, volume, local);
                })
                .compose(converged -> converged != null ? Future.succeededFuture(converged)
                        // Growing: report Expanding first, since it can take a while (and may fail halfway).
                        : reports.write(volume, VolumePhase.EXPANDING, reports.current(volume), null, VolumeStatuses.progressing(item))
                                .compose(v -> ctx.volumeRuntime().blocking(() -> export(item, pool, engine, volume,
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
                    return reports.failed(item, reason, StatusMessages.describe(err)).transform(ignored -> Future.failedFuture(
                            reason.terminal() ? new TerminalException(err.getMessage(), err) : err));
                });
    }

    private record Converged(LocalVolume local, ExportInfo export) {
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
                generation, StatusMessages.truncate(message), Clock.now()).withReady(Condition.failedAgain(Condition.READY,
                FailureReason.VOLUME_LOST, StatusMessages.truncate(message), item.generation(),
                before == null ? List.of() : before.conditions()));
        return statuses.volume(ctx.keys.volumeStatus(ctx.node, volume), lost, ctx.volumeStatus(volume))
                .map(ReconcileResult.done());
    }

    /** The pool's own account of what is wrong with it, if anything: the likely reason the volume is gone. */
    private static String poolProblem(VolumeEngine engine, PoolConfig pool) {
        try {
            PoolState state = engine.poolState(pool);
            List<String> problems = state.conditions().stream().filter(c -> !c.status())
                    .map(c -> c.reason() + (c.message() == null ? "" : ": " + c.message())).toList();
            return problems.isEmpty() ? "" : " (pool " + pool.name() + ": " + String.join("; ", problems) + ")";
        } catch (RuntimeException e) {
            return " (pool " + pool.name() + " cannot be inspected: " + StatusMessages.describe(e) + ")";
        }
    }

    /**
     * A lost volume found again is an input that changed for the snapshots and clones that failed
     * with {@code SourceLost} because of it: they are tried again.
     */
    private void retryDependentsOf(String volume) {
        if (ctx.snapshotWork() != null) {
            ctx.snapshotWork().values().stream().map(v -> v.value())
                    .filter(w -> w.sourceVolume().equals(volume) && !w.deletionRequested())
                    .forEach(w -> ctx.snapshotRuntime().enqueue(w.snapshot()));
        }
        if (ctx.work() != null) {
            ctx.work().values().stream().map(v -> v.value())
                    .filter(w -> w.source() != null && volume.equals(w.source().volume()) && !w.deletionRequested())
                    .forEach(w -> ctx.volumeRuntime().enqueue(w.volume()));
        }
    }

    /** The volume existed and is gone: never answered by creating an empty one. */
    private static final class VolumeLost extends RuntimeException {
        VolumeLost(String message) {
            super(message, null, false, false);
        }
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
     * and outlasts {@link SlowPassReports#REPORT_PROGRESS_AFTER}. Most creates (a sparse file, a thin LV) finish
     * sooner, and a status write before them cost every volume an etcd round trip and a third of its
     * writes. Nothing depends on that write for safety: a volume created just before a crash is
     * adopted through its work item, or, when the work item was withdrawn meanwhile, deleted by the
     * orphan scan because it has no placement.
     */
    private <T> Future<T> reportCreatingIfSlow(WorkItem item, AtomicBoolean creatingNow, Callable<T> pass) {
        return slow.run(creatingNow, () -> reports.write(item.volume(), VolumePhase.CREATING, reports.current(item.volume()), null,
                VolumeStatuses.progressing(item)), pass);
    }


}
