package io.ferry.tools.chaos;

import io.ferry.agent.engine.FileEngine;
import io.ferry.agent.engine.LoopDevices;
import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.Ledger;
import io.ferry.model.LedgerSums;
import io.ferry.model.Orphan;
import io.ferry.model.OrphanReport;
import io.ferry.model.Placement;
import io.ferry.model.PoolConfig;
import io.ferry.model.SnapshotIntent;
import io.ferry.model.SnapshotScheduling;
import io.ferry.model.SnapshotStatus;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeProgress;
import io.ferry.model.VolumeScheduling;
import io.ferry.model.VolumeStatus;
import io.ferry.model.WorkItem;
import io.ferry.runtime.pool.PoolMarker;
import io.ferry.tools.up.ComponentProcess;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.stream.Stream;

/**
 * What must hold once the cluster has recovered, read from etcd, the pools' directories and the
 * host's loop devices:
 * <ul>
 * <li>every pool's ledger is the sum of its placements (and charged snapshots), by {@link LedgerSums};</li>
 * <li>every placed volume has exactly one backing file, in its pool, and at most one device (loop) serving it;</li>
 * <li>nothing lies in a pool that no record explains, unless its agent reports it as an orphan
 *     (volume and snapshot files, temporary files, loop devices on files of the pools);</li>
 * <li>no intent is stuck: every volume is Ready by {@link VolumeProgress} (a failure it reports is a
 *     violation too: nothing this workload asks for can legitimately fail), every snapshot ready to
 *     use, nothing is still being deleted;</li>
 * <li>every component runs.</li>
 * </ul>
 * After the final delete-all, {@link #empty()} checks that nothing at all is left.
 */
final class Invariants {

    private final ChaosCluster cluster;
    private final EtcdStore store;
    private final FerryKeys keys;
    private final Patient patient;

    Invariants(ChaosCluster cluster, Patient patient) {
        this.cluster = cluster;
        this.store = cluster.store;
        this.keys = store.keys();
        this.patient = patient;
    }

    /** The records at one moment. */
    private record State(Map<String, Versioned<VolumeIntent>> volumes, Map<String, VolumeScheduling> volumeSchedulings,
            Map<String, Placement> placements, Map<String, Ledger> ledgers, Map<String, SnapshotIntent> snapshots,
            Map<String, SnapshotScheduling> snapshotSchedulings, Map<String, PoolConfig> pools,
            Map<String, Map<String, VolumeStatus>> statuses, Map<String, Map<String, SnapshotStatus>> snapshotStatuses,
            Map<String, Map<String, WorkItem>> workItems, Map<String, List<Orphan>> orphans, List<String> undecodable) {
    }

    List<String> converged() throws Patient.StuckException, InterruptedException, IOException {
        State s = read();
        List<String> violations = new ArrayList<>(s.undecodable());
        ledgers(s, violations);
        backing(s, violations);
        stuck(s, violations);
        for (ComponentProcess c : cluster.components()) {
            if (!c.alive()) {
                violations.add("component " + c.name() + " is not running (see " + c.log() + ")");
            }
        }
        return violations;
    }

    /** After the final delete-all: no record, no file but the pools' markers and emptied spares, no loop device, no ledger bytes. */
    List<String> empty() throws Patient.StuckException, InterruptedException, IOException {
        State s = read();
        List<String> violations = new ArrayList<>(s.undecodable());
        leftOver(violations, "volume intents", s.volumes().keySet());
        leftOver(violations, "snapshot intents", s.snapshots().keySet());
        leftOver(violations, "placements", s.placements().keySet());
        leftOver(violations, "snapshot records", s.snapshotSchedulings().keySet());
        s.workItems().forEach((node, items) -> leftOver(violations, "work items on " + node, items.keySet()));
        s.statuses().forEach((node, items) -> leftOver(violations, "volume statuses on " + node, items.keySet()));
        s.snapshotStatuses().forEach((node, items) -> leftOver(violations, "snapshot statuses on " + node, items.keySet()));
        s.orphans().forEach((node, list) -> leftOver(violations, "orphans reported by " + node,
                list.stream().map(Orphan::name).toList()));
        s.ledgers().values().stream().filter(l -> l.allocatedBytes() != 0 || l.volumeCount() != 0).forEach(l ->
                violations.add("ledger of " + l.pool() + " still holds " + l.allocatedBytes() + " bytes in "
                        + l.volumeCount() + " volume(s) with nothing placed"));
        for (ChaosCluster.Node node : cluster.nodes) {
            for (Path file : files(node.poolDir())) {
                String name = file.getFileName().toString();
                if (name.equals(PoolMarker.FILE_NAME)) {
                    continue;
                }
                if (name.startsWith(".spare-") && Files.size(file) == 0) {
                    // An emptied file kept for the next volume: it holds no byte of anything.
                    continue;
                }
                violations.add("left in pool " + node.pool() + ": " + name + " (" + Files.size(file) + " bytes)");
            }
        }
        cluster.loops().forEach(l -> violations.add("loop device " + l.device() + " still attached to " + l.backingFile()));
        return violations;
    }

    private static void leftOver(List<String> violations, String what, Collection<String> names) {
        if (!names.isEmpty()) {
            violations.add(names.size() + " " + what + " left: " + String.join(", ", new TreeSet<>(names)));
        }
    }

    private void ledgers(State s, List<String> violations) {
        Map<String, Ledger> expected = LedgerSums.expected(s.placements().values(), s.snapshotSchedulings().values());
        Set<String> pools = new TreeSet<>(expected.keySet());
        pools.addAll(s.ledgers().keySet());
        for (String pool : pools) {
            Ledger actual = s.ledgers().get(pool);
            Ledger want = expected.get(pool);
            if (!LedgerSums.agrees(actual, want)) {
                violations.add("ledger of " + pool + " says " + (actual == null ? "nothing" : actual.allocatedBytes()
                        + " bytes in " + actual.volumeCount() + " volume(s)") + ", its placements and snapshots add up to "
                        + (want == null ? "nothing" : want.allocatedBytes() + " bytes in " + want.volumeCount()));
            }
        }
    }

    private void backing(State s, List<String> violations) throws IOException {
        Map<String, Long> devicesPerFile = new HashMap<>();
        List<LoopDevices.Loop> loops = cluster.loops();
        for (LoopDevices.Loop loop : loops) {
            devicesPerFile.merge(loop.backingFile(), 1L, Long::sum);
        }
        // Every placed volume: one file, in its own pool, at most one device.
        for (Placement p : s.placements().values()) {
            List<String> found = new ArrayList<>();
            for (ChaosCluster.Node node : cluster.nodes) {
                PoolConfig pool = s.pools().get(node.pool());
                if (pool != null && Files.exists(FileEngine.volumeFile(pool, p.volume()))) {
                    found.add(node.pool());
                }
            }
            if (!found.equals(List.of(p.pool()))) {
                violations.add("volume " + p.volume() + " is placed on " + p.pool() + " but its backing files are in "
                        + (found.isEmpty() ? "no pool" : String.join(" and ", found)));
            }
            PoolConfig pool = s.pools().get(p.pool());
            if (pool != null) {
                long devices = devicesPerFile.getOrDefault(FileEngine.volumeFile(pool, p.volume()).toString(), 0L);
                if (devices > 1) {
                    violations.add("volume " + p.volume() + " is served by " + devices + " loop devices");
                }
            }
        }
        // Everything in a pool: explained by a record, or reported as an orphan by its agent.
        for (ChaosCluster.Node node : cluster.nodes) {
            Set<String> orphans = new TreeSet<>();
            s.orphans().getOrDefault(node.name(), List.of()).forEach(o -> orphans.add(o.name()));
            for (Path file : files(node.poolDir())) {
                String name = file.getFileName().toString();
                String explained = explain(s, node, name);
                if (explained != null && !orphans.contains(baseName(name))) {
                    violations.add("pool " + node.pool() + " holds " + name + ": " + explained + ", and " + node.name()
                            + " does not report it as an orphan");
                }
            }
        }
        for (LoopDevices.Loop loop : loops) {
            if (loop.backingFileDeleted()) {
                violations.add("loop device " + loop.device() + " serves a deleted file, " + loop.backingFile());
            } else if (!loop.backingFile().endsWith(".img")) {
                violations.add("loop device " + loop.device() + " serves " + loop.backingFile() + ", which is no volume");
            }
        }
    }

    /** Null when a record explains the file; otherwise why nothing does. */
    private static String explain(State s, ChaosCluster.Node node, String name) {
        if (name.equals(PoolMarker.FILE_NAME) || name.startsWith(".spare-")) {
            return null;
        }
        if (name.endsWith(".img")) {
            Placement p = s.placements().get(baseName(name));
            return p != null && p.pool().equals(node.pool()) ? null : "no placement names it on this pool";
        }
        if (name.endsWith(".snap")) {
            SnapshotScheduling snap = s.snapshotSchedulings().get(baseName(name));
            return snap != null && node.pool().equals(snap.pool()) ? null : "no snapshot record names it on this pool";
        }
        return "a file no record explains (a leftover of an interrupted operation?)";
    }

    private static String baseName(String file) {
        int dot = file.lastIndexOf('.');
        return dot > 0 ? file.substring(0, dot) : file;
    }

    private void stuck(State s, List<String> violations) {
        for (Versioned<VolumeIntent> v : s.volumes().values()) {
            String name = v.value().name();
            VolumeScheduling scheduling = s.volumeSchedulings().get(name);
            if (v.value().deletionRequested()) {
                violations.add("volume " + name + " is still being deleted" + (scheduling == null ? " and no record says why"
                        : " (" + scheduling.phase().value() + ": " + scheduling.message() + ")"));
                continue;
            }
            Placement placement = s.placements().get(name);
            VolumeStatus status = placement == null ? null
                    : s.statuses().getOrDefault(placement.node(), Map.of()).get(name);
            VolumeProgress.Outcome outcome = VolumeProgress.created(name, scheduling, v.createRevision(), placement, status);
            if (outcome instanceof VolumeProgress.InProgress p) {
                violations.add("volume " + name + " is stuck: waiting for " + p.waitingFor());
            } else if (outcome instanceof VolumeProgress.Failed f) {
                violations.add("volume " + name + " failed (" + f.reason() + "): " + f.message());
            }
        }
        for (SnapshotIntent snap : s.snapshots().values()) {
            SnapshotScheduling scheduling = s.snapshotSchedulings().get(snap.name());
            SnapshotStatus status = scheduling == null || scheduling.node() == null ? null
                    : s.snapshotStatuses().getOrDefault(scheduling.node(), Map.of()).get(snap.name());
            if (snap.deletionRequested() || status == null || !status.readyToUse()) {
                violations.add("snapshot " + snap.name() + " is stuck: " + (snap.deletionRequested() ? "still being deleted"
                        : "not ready") + (scheduling == null ? ", and no record says why"
                        : " (" + scheduling.phase().value() + (scheduling.message() == null ? "" : ": " + scheduling.message()) + ")"));
            }
        }
    }

    private static List<Path> files(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.sorted().toList();
        }
    }

    private State read() throws Patient.StuckException, InterruptedException {
        List<String> undecodable = new ArrayList<>();
        Map<String, Versioned<VolumeIntent>> volumes = new HashMap<>();
        for (Versioned<VolumeIntent> v : list(keys.volumes(), VolumeIntent.class, undecodable)) {
            volumes.put(v.value().name(), v);
        }
        Map<String, PoolConfig> pools = values(keys.poolConfigs(), PoolConfig.class, PoolConfig::name, undecodable);
        Map<String, Map<String, VolumeStatus>> statuses = new HashMap<>();
        Map<String, Map<String, SnapshotStatus>> snapshotStatuses = new HashMap<>();
        Map<String, Map<String, WorkItem>> workItems = new HashMap<>();
        Map<String, List<Orphan>> orphans = new HashMap<>();
        for (ChaosCluster.Node node : cluster.nodes) {
            String n = node.name();
            statuses.put(n, values(keys.volumeStatuses(n), VolumeStatus.class, VolumeStatus::volume, undecodable));
            snapshotStatuses.put(n, values(keys.snapshotStatuses(n), SnapshotStatus.class, SnapshotStatus::snapshot, undecodable));
            workItems.put(n, values(keys.workItems(n), WorkItem.class, WorkItem::volume, undecodable));
            orphans.put(n, patient.call("orphans of " + n, () -> store.get(keys.orphans(n), OrphanReport.class))
                    .map(r -> r.value().orphans()).orElse(List.of()));
        }
        return new State(volumes, values(keys.volumeSchedulings(), VolumeScheduling.class, VolumeScheduling::volume, undecodable),
                values(keys.placements(), Placement.class, Placement::volume, undecodable),
                values(keys.ledgers(), Ledger.class, Ledger::pool, undecodable),
                values(keys.snapshots(), SnapshotIntent.class, SnapshotIntent::name, undecodable),
                values(keys.snapshotSchedulings(), SnapshotScheduling.class, SnapshotScheduling::snapshot, undecodable),
                pools, statuses, snapshotStatuses, workItems, orphans, undecodable);
    }

    private <T> List<Versioned<T>> list(String prefix, Class<T> type, List<String> undecodable)
            throws Patient.StuckException, InterruptedException {
        var listing = patient.call("list " + prefix, () -> store.list(prefix, type));
        listing.badValues().forEach(bad -> undecodable.add("a record does not decode: " + bad.getMessage()));
        return listing.items();
    }

    private <T> Map<String, T> values(String prefix, Class<T> type, Function<T, String> name, List<String> undecodable)
            throws Patient.StuckException, InterruptedException {
        Map<String, T> result = new HashMap<>();
        for (Versioned<T> v : list(prefix, type, undecodable)) {
            result.put(name.apply(v.value()), v.value());
        }
        return result;
    }
}
