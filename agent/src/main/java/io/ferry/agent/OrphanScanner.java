package io.ferry.agent;

import io.ferry.agent.engine.FileEngine;
import io.ferry.agent.engine.Inventory;
import io.ferry.agent.engine.LocalSnapshot;
import io.ferry.agent.engine.LocalVolume;
import io.ferry.agent.engine.VolumeEngine;
import io.ferry.model.Orphan;
import io.ferry.model.OrphanKind;
import io.ferry.model.OrphanReport;
import io.ferry.model.PoolConfig;
import io.ferry.model.VolumePhase;
import io.vertx.core.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Takes stock of what really exists on the node and compares it with the keys.
 *
 * <ul>
 *   <li>A volume with a work item is adopted by its reconcile (which finds it and creates nothing,
 *       or removes it when the work item is a deletion order).</li>
 *   <li>A volume without a work item is an orphan, whatever else is known of it (a status, a
 *       placement, nothing at all). Orphans are reported, never deleted: a missing key is not a
 *       request to destroy data, it may be an operator's slip or an etcd restored from a backup.</li>
 *   <li>Leftovers of interrupted operations (temporary files, loop devices of deleted files) are
 *       removed at start, before any reconcile runs, when they cannot belong to work in flight.</li>
 * </ul>
 */
final class OrphanScanner {

    private static final Logger log = LoggerFactory.getLogger(OrphanScanner.class);

    private final NodeContext ctx;
    private final StatusWriter statuses;
    private volatile OrphanReport lastReport;

    OrphanScanner(NodeContext ctx, StatusWriter statuses) {
        this.ctx = ctx;
        this.statuses = statuses;
    }

    OrphanReport lastReport() {
        return lastReport;
    }

    private record Found(PoolConfig pool, Inventory inventory) {
    }

    /** Removes leftovers of interrupted operations. Call before reconciles start. */
    Future<Integer> removeLeftovers() {
        List<PoolConfig> pools = ctx.ownPools();
        return ctx.vertx.executeBlocking(() -> {
            int removed = 0;
            for (PoolConfig pool : pools) {
                Optional<VolumeEngine> engine = ctx.engine(pool.engine());
                if (engine.isEmpty()) {
                    continue;
                }
                try {
                    for (String leftover : engine.get().inventory(pool).leftovers()) {
                        log.info("removing {} in pool {}: left over from an interrupted operation", leftover,
                                pool.name());
                        engine.get().removeLeftover(pool, leftover);
                        removed++;
                    }
                } catch (RuntimeException e) {
                    log.warn("cannot clean up pool {}: {}", pool.name(), e.getMessage());
                }
            }
            return removed;
        }, false);
    }

    /** Inventories every pool, enqueues what needs a reconcile, writes the orphan report. */
    Future<OrphanReport> scan() {
        List<PoolConfig> pools = ctx.ownPools();
        return ctx.vertx.executeBlocking(() -> {
                    List<Found> found = new ArrayList<>();
                    for (PoolConfig pool : pools) {
                        Optional<VolumeEngine> engine = ctx.engine(pool.engine());
                        if (engine.isPresent()) {
                            found.add(new Found(pool, engine.get().inventory(pool)));
                        }
                    }
                    return found;
                }, false)
                .compose(found -> ctx.vertx.executeBlocking(this::exported, false)
                        .map(exported -> classify(found, exported)))
                .compose(this::confirm)
                .compose(orphans -> {
                    OrphanReport report = OrphanReport.of(ctx.node,
                            orphans.size() > OrphanReport.MAX_ORPHANS ? orphans.subList(0, OrphanReport.MAX_ORPHANS)
                                    : orphans, Clock.now());
                    lastReport = report;
                    return statuses.orphans(ctx.keys.orphans(ctx.node), report).map(report);
                });
    }

    /** An object with no work item and no status, waiting for the placement check. */
    private record Candidate(OrphanKind kind, String name, String volume, String snapshot) {
    }

    /** Exported volumes with the kind of subsystem that exports them (SPDK asked only when it answers). */
    private Map<String, OrphanKind> exported() {
        Map<String, OrphanKind> exported = new java.util.TreeMap<>();
        ctx.exporter.exportedVolumes().forEach(v -> exported.put(v, OrphanKind.NVMET_SUBSYSTEM));
        if (ctx.spdkExporter.available()) {
            ctx.spdkExporter.exportedVolumes().forEach(v -> exported.put(v, OrphanKind.SPDK_SUBSYSTEM));
        }
        return exported;
    }

    private List<Candidate> classify(List<Found> found, Map<String, OrphanKind> exported) {
        List<Candidate> candidates = new ArrayList<>();
        Set<String> localVolumes = new java.util.HashSet<>();
        for (Found f : found) {
            for (LocalVolume v : f.inventory().volumes()) {
                localVolumes.add(v.name());
                if (ctx.workItem(v.name()).isPresent() || ctx.workItemIsBad(v.name())) {
                    if (ctx.volumeStatus(v.name()).filter(st -> st.phase() == VolumePhase.LOST).isPresent()) {
                        ctx.volumeRuntime.enqueue(v.name()); // its storage is back
                    }
                    continue;
                }
                candidates.add(new Candidate(kindOf(f.pool()), objectName(f.pool(), v.name()), v.name(), null));
            }
            for (LocalSnapshot s : f.inventory().snapshots()) {
                if (ctx.snapshotWorkItem(s.name()).isPresent() || ctx.snapshotWorkItemIsBad(s.name())) {
                    continue;
                }
                if (ctx.snapshotStatus(s.name()).isPresent()) {
                    ctx.snapshotRuntime.enqueue(s.name());
                    continue;
                }
                candidates.add(new Candidate(kindOf(f.pool()), f.pool().name() + "/" + s.name() + " (snapshot)",
                        null, s.name()));
            }
        }
        for (String volume : exported.keySet()) {
            if (!localVolumes.contains(volume) && ctx.workItem(volume).isEmpty() && !ctx.workItemIsBad(volume)) {
                candidates.add(new Candidate(exported.get(volume), volume, volume, null));
            }
        }
        return candidates;
    }

    /** Asks etcd whether the controller still has a record, to say so in the report; deletes nothing. */
    private Future<List<Orphan>> confirm(List<Candidate> candidates) {
        Map<Candidate, Future<Boolean>> checks = new LinkedHashMap<>();
        for (Candidate c : candidates) {
            String key = c.volume() != null ? ctx.keys.placement(c.volume()) : ctx.keys.snapshot(c.snapshot());
            checks.put(c, ctx.store.getRaw(key).map(Optional::isPresent));
        }
        return Future.join(new ArrayList<>(checks.values())).transform(ignored -> {
            List<Orphan> orphans = new ArrayList<>();
            checks.forEach((c, known) -> {
                if (known.failed()) {
                    orphans.add(Orphan.of(c.kind(), c.name(), tag(c), "no work item; etcd could not be asked whether"
                            + " the controller still knows it: " + known.cause().getMessage()));
                } else if (known.result()) {
                    orphans.add(Orphan.of(c.kind(), c.name(), tag(c), c.volume() != null
                            ? "no work item, but placement " + ctx.keys.placement(c.volume()) + " exists; kept"
                            : "no snapshot work item, but " + ctx.keys.snapshot(c.snapshot()) + " exists; kept"));
                } else {
                    orphans.add(Orphan.of(c.kind(), c.name(), tag(c), c.volume() != null
                            ? "no work item and no placement: unknown to the controller; kept"
                            : "no snapshot work item and no intent: unknown to the controller; kept"));
                }
            });
            return Future.succeededFuture(orphans);
        });
    }

    private static String tag(Candidate c) {
        return c.volume() != null ? c.volume() : c.snapshot();
    }

    private static OrphanKind kindOf(PoolConfig pool) {
        return switch (pool.engine()) {
            case FILE -> OrphanKind.FILE;
            case LVM, LVM_THIN -> OrphanKind.LV;
            case SPDK -> OrphanKind.SPDK_BDEV;
        };
    }

    private static String objectName(PoolConfig pool, String volume) {
        return switch (pool.engine()) {
            case FILE -> FileEngine.volumeFile(pool, volume).toString();
            case LVM, LVM_THIN -> pool.source().volumeGroup() + "/" + volume;
            case SPDK -> pool.source().lvstore() + "/" + volume;
        };
    }
}
