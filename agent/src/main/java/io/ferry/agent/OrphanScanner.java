package io.ferry.agent;

import io.ferry.agent.engine.FileEngine;
import io.ferry.agent.engine.Inventory;
import io.ferry.agent.engine.LocalSnapshot;
import io.ferry.agent.engine.LocalVolume;
import io.ferry.agent.engine.VolumeEngine;
import io.ferry.agent.export.Exporter;
import io.ferry.model.Orphan;
import io.ferry.model.OrphanKind;
import io.ferry.model.OrphanOwner;
import io.ferry.model.OrphanReport;
import io.ferry.model.PoolConfig;
import io.ferry.model.VolumePhase;
import io.vertx.core.Future;
import java.util.HashMap;
import java.util.HashSet;
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
 *   <li>An object without this cluster's ownership marker (another cluster's, or unmarked) is
 *       reported with its owner and never adopted unless a work item of this cluster names an
 *       unmarked one; each orphan keeps the time this agent first saw it, across scans and restarts.</li>
 *   <li>Leftovers of interrupted operations (temporary files, loop devices of deleted files) are
 *       removed at start, before any reconcile runs, when they cannot belong to work in flight.</li>
 * </ul>
 */
final class OrphanScanner {

    private static final Logger log = LoggerFactory.getLogger(OrphanScanner.class);

    private final NodeContext ctx;
    private final StatusWriter statuses;
    private volatile OrphanReport lastReport;
    /** When each orphan was first seen, by name; loaded from the last report in etcd at the first scan. */
    private Map<String, Instant> firstSeen;

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
                .compose(orphans -> loadFirstSeen().map(known -> stampFirstSeen(known, orphans)))
                .compose(orphans -> {
                    OrphanReport report = OrphanReport.of(ctx.node,
                            orphans.size() > OrphanReport.MAX_ORPHANS ? orphans.subList(0, OrphanReport.MAX_ORPHANS)
                                    : orphans, Clock.now());
                    lastReport = report;
                    return statuses.orphans(ctx.keys.orphans(ctx.node), report).map(report);
                });
    }

    /** The first sightings recorded in the report this node's agent wrote last, read once. */
    private Future<Map<String, Instant>> loadFirstSeen() {
        if (firstSeen != null) {
            return Future.succeededFuture(firstSeen);
        }
        return ctx.store.get(ctx.keys.orphans(ctx.node), OrphanReport.class)
                .map(found -> {
                    Map<String, Instant> known = new HashMap<>();
                    found.ifPresent(v -> v.value().orphans().forEach(o -> {
                        if (o.firstSeen() != null) {
                            known.put(o.name(), o.firstSeen());
                        }
                    }));
                    return known;
                })
                .recover(err -> {
                    // Unreadable (or etcd away): the ages restart from now, nothing else depends on them.
                    log.info("cannot read the last orphan report ({}); orphans' first sightings start now",
                            err.getMessage());
                    return Future.succeededFuture(new HashMap<>());
                })
                .onSuccess(known -> firstSeen = known);
    }

    private List<Orphan> stampFirstSeen(Map<String, Instant> known, List<Orphan> orphans) {
        Instant now = Clock.now();
        Map<String, Instant> next = new HashMap<>();
        List<Orphan> stamped = new ArrayList<>(orphans.size());
        for (Orphan o : orphans) {
            Instant seen = known.getOrDefault(o.name(), now);
            next.put(o.name(), seen);
            stamped.add(o.withFirstSeen(seen));
        }
        firstSeen = next;
        return stamped;
    }

    /** An object with no work item and no status, waiting for the placement check. */
    private record Candidate(OrphanKind kind, String name, String volume, String snapshot, String pool,
            long sizeBytes, OrphanOwner owner, String markedBy) {
    }

    /** Ferry-named subsystems with the kind of target that serves them (SPDK asked only when it answers). */
    private Map<Exporter.Exported, OrphanKind> exported() {
        Map<Exporter.Exported, OrphanKind> exported = new LinkedHashMap<>();
        ctx.exporter().exports().forEach(e -> exported.put(e, OrphanKind.NVMET_SUBSYSTEM));
        if (ctx.spdkExporter().available()) {
            ctx.spdkExporter().exports().forEach(e -> exported.put(e, OrphanKind.SPDK_SUBSYSTEM));
        }
        return exported;
    }

    private List<Candidate> classify(List<Found> found, Map<Exporter.Exported, OrphanKind> exported) {
        List<Candidate> candidates = new ArrayList<>();
        Set<String> localVolumes = new HashSet<>();
        for (Found f : found) {
            for (LocalVolume v : f.inventory().volumes()) {
                localVolumes.add(v.name());
                if (ctx.workItem(v.name()).isPresent() || ctx.workItemIsBad(v.name())) {
                    if (ctx.volumeStatus(v.name()).filter(st -> st.phase() == VolumePhase.LOST).isPresent()) {
                        ctx.volumeRuntime().enqueue(v.name()); // its storage is back
                    }
                    continue;
                }
                candidates.add(new Candidate(kindOf(f.pool()), objectName(f.pool(), v.name()), v.name(), null,
                        f.pool().name(), v.sizeBytes(), OrphanOwner.THIS_CLUSTER, null));
            }
            Set<String> ours = new HashSet<>();
            f.inventory().volumes().forEach(v -> ours.add(v.name()));
            for (Inventory.Unowned u : f.inventory().unowned()) {
                localVolumes.add(u.volume());
                // Another cluster's volume beside this cluster's of the same name (SPDK lvols, whose
                // names carry the marker, can be both) is reported: no reconcile will mention it.
                boolean besideOurs = u.owner() == OrphanOwner.OTHER_CLUSTER && ours.contains(u.volume());
                if (!besideOurs && (ctx.workItem(u.volume()).isPresent() || ctx.workItemIsBad(u.volume()))) {
                    continue; // its reconcile marks an unmarked one, or reports another cluster's in the status
                }
                candidates.add(new Candidate(kindOf(f.pool()), objectName(f.pool(), u.volume()), u.volume(), null,
                        f.pool().name(), u.sizeBytes(), u.owner(), u.markedBy()));
            }
            for (LocalSnapshot s : f.inventory().snapshots()) {
                if (ctx.snapshotWorkItem(s.name()).isPresent() || ctx.snapshotWorkItemIsBad(s.name())) {
                    continue;
                }
                if (ctx.snapshotStatus(s.name()).isPresent()) {
                    ctx.snapshotRuntime().enqueue(s.name());
                    continue;
                }
                candidates.add(new Candidate(kindOf(f.pool()), f.pool().name() + "/" + s.name() + " (snapshot)",
                        null, s.name(), f.pool().name(), s.sizeBytes(), OrphanOwner.THIS_CLUSTER, null));
            }
        }
        for (var e : exported.entrySet()) {
            String volume = e.getKey().volume();
            boolean ours = e.getKey().owner() != OrphanOwner.OTHER_CLUSTER;
            // Another cluster's export is reported even when a volume of ours has the same name;
            // one of before cluster ids (unmarked) may be anyone's, and is ours to serve if a work item names it.
            if (!ours || (!localVolumes.contains(volume) && ctx.workItem(volume).isEmpty() && !ctx.workItemIsBad(volume))) {
                candidates.add(new Candidate(e.getValue(), e.getKey().nqn(), volume, null, null, 0, e.getKey().owner(),
                        e.getKey().cluster()));
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
                String reason;
                if (c.owner() == OrphanOwner.OTHER_CLUSTER) {
                    reason = "carries the ownership marker of another Ferry cluster (" + c.markedBy() + "); never"
                            + " adopted, changed or removed by this one";
                } else if (c.owner() == OrphanOwner.UNMARKED && c.pool() == null) {
                    reason = "an export named as before cluster ids (<prefix>:vol:<volume>) and no work item; it may"
                            + " be another cluster's on this host; kept";
                } else if (c.owner() == OrphanOwner.UNMARKED) {
                    reason = "carries no cluster ownership marker (not made by this cluster, or made before cluster"
                            + " ids); kept, and never removed by Ferry";
                } else if (known.failed()) {
                    reason = "no work item; etcd could not be asked whether the controller still knows it: "
                            + known.cause().getMessage();
                } else if (known.result()) {
                    reason = c.volume() != null
                            ? "no work item, but placement " + ctx.keys.placement(c.volume()) + " exists; kept"
                            : "no snapshot work item, but " + ctx.keys.snapshot(c.snapshot()) + " exists; kept";
                } else {
                    reason = c.volume() != null
                            ? "no work item and no placement: unknown to the controller; kept"
                            : "no snapshot work item and no intent: unknown to the controller; kept";
                }
                orphans.add(Orphan.of(c.kind(), c.name(), tag(c), reason, c.pool(), c.sizeBytes(), null, c.owner()));
            });
            return Future.succeededFuture(orphans);
        });
    }

    private static String tag(Candidate c) {
        return c.volume() != null ? c.volume() : c.snapshot();
    }

    static OrphanKind kindOf(PoolConfig pool) {
        return switch (pool.engine()) {
            case FILE -> OrphanKind.FILE;
            case LVM, LVM_THIN -> OrphanKind.LV;
            case SPDK -> OrphanKind.SPDK_BDEV;
        };
    }

    /** The name an orphan of a pool's volume is reported (and removed) by. */
    static String objectName(PoolConfig pool, String volume) {
        return switch (pool.engine()) {
            case FILE -> FileEngine.volumeFile(pool, volume).toString();
            case LVM, LVM_THIN -> pool.source().volumeGroup() + "/" + volume;
            case SPDK -> pool.source().lvstore() + "/" + volume;
        };
    }
}
