package io.ferry.tools.cli;

import io.ferry.etcd.store.Versioned;
import io.ferry.model.Layout;
import io.ferry.model.Names;
import io.ferry.model.NodeDrain;
import io.ferry.model.PartNames;
import io.ferry.model.Placement;
import io.ferry.model.PoolConfig;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeParts;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/** {@code ferryctl node drain} and {@code node undrain}: emptying a storage node before maintenance. */
final class NodeDrainCommands {

    private NodeDrainCommands() {
    }

    /** What becomes of one volume on a draining node. */
    enum Fate {
        /** A mirror's leg: it moves away (asked, or about to be). */
        MOVES,
        /** A mirror's leg moving now: its new leg is joining. */
        MOVING,
        /** A leg retired by a move or a replacement: it is being deleted. */
        LEAVING,
        /** Anything else: nothing can copy it away while it is in use. */
        STAYS
    }

    record Row(String volume, String pool, Fate fate, String detail) {
    }

    /**
     * What draining {@code node} does to each volume placed there, from etcd alone: each placement on the
     * node, the parts records (is it a mirror's leg, is it moving, is it retired) and the intents. Pure.
     */
    static List<Row> plan(String node, List<Placement> placements, Map<String, VolumeParts> partsByVolume,
                          Map<String, VolumeIntent> intents) {
        List<Row> rows = new ArrayList<>();
        for (Placement p : placements) {
            if (!p.node().equals(node)) {
                continue;
            }
            String name = p.volume();
            VolumeParts parts = PartNames.parse(name).map(n -> partsByVolume.get(n.volume())).orElse(null);
            if (parts == null) {
                VolumeIntent intent = intents.get(name);
                rows.add(new Row(name, p.pool(), Fate.STAYS, "a " + (intent == null ? "single" : intent.layout().value())
                        + " volume: its data is only here, and live migration moves mirror legs only (docs/layouts.md)"));
                continue;
            }
            if (parts.isRetired(name)) {
                rows.add(new Row(name, p.pool(), Fate.LEAVING, "retired from mirror " + parts.volume() + "; being deleted"));
            } else if (parts.layout() != Layout.MIRROR) {
                rows.add(new Row(name, p.pool(), Fate.STAYS, "a part of " + parts.layout().value() + " volume "
                        + parts.volume() + ", which needs every part where it is"));
            } else if (parts.joining().filter(j -> name.equals(j.movesFrom())).isPresent()) {
                rows.add(new Row(name, p.pool(), Fate.MOVING, "moving to " + parts.joining().get().name()));
            } else if (parts.member(name).map(VolumeParts.Part::movesFrom).isPresent()) {
                rows.add(new Row(name, p.pool(), Fate.STAYS, "joining mirror " + parts.volume()
                        + " (placed before the drain); it moves once that move is done"));
            } else {
                rows.add(new Row(name, p.pool(), Fate.MOVES, "a leg of mirror " + parts.volume()
                        + ": moves away by live migration, a few at a time"));
            }
        }
        rows.sort((a, b) -> a.volume().compareTo(b.volume()));
        return rows;
    }

    static void print(Base cmd, String node, NodeDrain drain, List<Row> rows, boolean written) {
        if (cmd.out().format() != Output.Format.table) {
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("node", node);
            out.put("drain", drain);
            out.put("written", written);
            List<Map<String, Object>> volumes = new ArrayList<>();
            for (Row r : rows) {
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("volume", r.volume());
                row.put("pool", r.pool());
                row.put("fate", r.fate().name().toLowerCase(Locale.ROOT));
                row.put("detail", r.detail());
                volumes.add(row);
            }
            out.put("volumes", volumes);
            cmd.out().structured(out);
            return;
        }
        List<List<String>> cells = new ArrayList<>();
        for (Row r : rows) {
            cells.add(List.of(r.volume(), r.pool(), r.fate().name().toLowerCase(Locale.ROOT), r.detail()));
        }
        cmd.out().rows(List.of("VOLUME", "POOL", "FATE", "DETAIL"), cells, List.of());
    }

    static List<Row> plan(Base cmd, String node) {
        List<Placement> placements = cmd.list(cmd.keys().placements(), Placement.class).stream().map(Versioned::value).toList();
        Map<String, VolumeParts> parts = cmd.byName(cmd.keys().volumeParts(), VolumeParts.class);
        Map<String, VolumeIntent> intents = cmd.byName(cmd.keys().volumes(), VolumeIntent.class);
        return plan(node, placements, parts, intents);
    }

    @Command(name = "drain", description = "Empty a storage node before maintenance: its pools become unschedulable and"
            + " the controller moves its mirror legs away by live migration, a few at a time. Volumes that cannot move"
            + " (single, linear, striped) are listed and stay. Idempotent; `node undrain` ends it.")
    static final class Drain extends Base {
        @Parameters(index = "0", paramLabel = "NODE")
        String node;
        @Option(names = "--max-parallel", paramLabel = "N", description = "legs moving away at once, 1-16 (default: ${DEFAULT-VALUE})")
        int maxParallel = NodeDrain.DEFAULT_MAX_PARALLEL_MOVES;
        @Option(names = "--wait", description = "wait until no mirror leg is left on the node")
        boolean await;
        @Option(names = "--timeout", description = "seconds to wait with --wait (default: ${DEFAULT-VALUE})")
        long timeoutSeconds = 3600;

        @Override
        public Integer call() {
            Names.nodeName(node);
            if (maxParallel < 1 || maxParallel > NodeDrain.MAX_PARALLEL_MOVES) {
                throw new CliException(ExitCodes.USAGE, "--max-parallel: " + maxParallel + " is not in 1.."
                        + NodeDrain.MAX_PARALLEL_MOVES);
            }
            Map<String, Versioned<PoolConfig>> pools = new TreeMap<>();
            for (Versioned<PoolConfig> v : list(keys().poolConfigs(), PoolConfig.class)) {
                if (v.value().node().equals(node)) {
                    pools.put(v.value().name(), v);
                }
            }
            if (pools.isEmpty() && registration(node).isEmpty()) {
                throw new CliException(ExitCodes.NOT_FOUND, "no node named " + node + " (no pool on it, no agent"
                        + " registered; see `ferryctl node ls`)");
            }
            String key = keys().nodeDrain(node);
            Versioned<NodeDrain> existing = await(store().get(key, NodeDrain.class)).orElse(null);
            // Recorded before any pool is touched: an undrain after an interrupted drain then knows every
            // pool this drain may have made unschedulable, and touches no other.
            Set<String> flipped = new LinkedHashSet<>(existing == null ? List.of() : existing.value().pools());
            pools.values().stream().filter(v -> v.value().schedulable()).forEach(v -> flipped.add(v.value().name()));
            NodeDrain drain = NodeDrain.of(node, List.copyOf(flipped), maxParallel,
                    existing == null ? Instant.now() : existing.value().requestedAt());
            boolean written = existing == null || !existing.value().equals(drain);
            if (written && !await(store().compareAndPut(key, drain, existing == null ? 0 : existing.modRevision()))) {
                throw new CliException(ExitCodes.CONFLICT, "the drain of " + node + " changed while writing it; run the"
                        + " command again");
            }
            for (Versioned<PoolConfig> v : pools.values()) {
                if (v.value().schedulable()) {
                    PoolConfig off = v.value().toBuilder().schedulable(false).build();
                    if (!await(store().compareAndPut(keys().poolConfig(off.name()), off, v.modRevision()))) {
                        throw new CliException(ExitCodes.CONFLICT, "pool " + off.name() + " changed while making it"
                                + " unschedulable; run the command again");
                    }
                    written = true;
                }
            }
            if (out().format() == Output.Format.table) {
                out().line("node " + node + (written ? " draining" : " is draining already; nothing written") + ": pools "
                        + (pools.isEmpty() ? "(none)" : String.join(", ", pools.keySet())) + " unschedulable; at most "
                        + maxParallel + " legs move at once");
            }
            List<Row> rows = plan(this, node);
            if (await) {
                rows = waitFor(Duration.ofSeconds(timeoutSeconds), "the mirror legs to leave " + node, () -> {
                    List<Row> now = plan(this, node);
                    return now.stream().anyMatch(r -> r.fate() == Fate.MOVES || r.fate() == Fate.MOVING) ? null : now;
                });
            }
            print(this, node, drain, rows, written);
            if (out().format() == Output.Format.table && rows.stream().anyMatch(r -> r.fate() == Fate.MOVES
                    || r.fate() == Fate.MOVING)) {
                out().line("progress: `ferryctl node drain " + node + " --wait`, and each volume's LegMoved condition"
                        + " (`ferryctl volume describe VOL`); a mirror staged nowhere moves when it is next staged");
            }
            return ExitCodes.OK;
        }
    }

    @Command(name = "undrain", description = "End a node's drain: its pools that `node drain` made unschedulable become"
            + " schedulable again, and no further leg is moved away (moves under way finish). Idempotent.")
    static final class Undrain extends Base {
        @Parameters(index = "0", paramLabel = "NODE")
        String node;

        @Override
        public Integer call() {
            Names.nodeName(node);
            String key = keys().nodeDrain(node);
            Versioned<NodeDrain> drain = await(store().get(key, NodeDrain.class)).orElse(null);
            if (drain == null) {
                out().line("node " + node + " is not draining; nothing written");
                return ExitCodes.OK;
            }
            List<String> restored = new ArrayList<>();
            for (String pool : drain.value().pools()) {
                Versioned<PoolConfig> v = await(store().get(keys().poolConfig(pool), PoolConfig.class)).orElse(null);
                if (v == null || v.value().schedulable() || !v.value().node().equals(node)) {
                    continue;
                }
                PoolConfig on = v.value().toBuilder().schedulable(true).build();
                if (!await(store().compareAndPut(keys().poolConfig(pool), on, v.modRevision()))) {
                    throw new CliException(ExitCodes.CONFLICT, "pool " + pool + " changed while making it schedulable;"
                            + " run the command again");
                }
                restored.add(pool);
            }
            // Removed last: while it exists, a repeated undrain still knows which pools to give back.
            if (!await(store().compareAndDelete(key, drain.modRevision()))) {
                throw new CliException(ExitCodes.CONFLICT, "the drain of " + node + " changed meanwhile; run the command"
                        + " again");
            }
            out().line("node " + node + " no longer draining" + (restored.isEmpty() ? "" : "; pools "
                    + String.join(", ", restored) + " schedulable again"));
            return ExitCodes.OK;
        }
    }
}
