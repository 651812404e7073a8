package io.ferry.tools.cli;

import io.ferry.etcd.store.Versioned;
import io.ferry.model.Engine;
import io.ferry.model.Ledger;
import io.ferry.model.Placement;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolSource;
import io.ferry.model.PoolStatus;
import io.ferry.model.Sizes;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

@Command(name = "pool", description = "Add, list, describe and remove pools.",
        subcommands = {PoolCommands.Add.class, PoolCommands.Ls.class, PoolCommands.Describe.class, PoolCommands.Rm.class})
final class PoolCommands {

    @Command(name = "add", description = "Declare a pool on a node. Idempotent: adding the same pool again changes nothing.")
    static final class Add extends Base {
        @Parameters(index = "0", description = "pool name (lowercase letters, digits, '-')")
        String name;
        @Option(names = "--node", required = true, description = "node whose agent serves the pool")
        String node;
        @Option(names = "--engine", required = true, description = "lvm, lvm-thin, spdk or file")
        String engine;
        @Option(names = "--directory", description = "file engine: directory for the volume files")
        String directory;
        @Option(names = "--vg", description = "lvm, lvm-thin: volume group")
        String volumeGroup;
        @Option(names = "--thin-pool", description = "lvm-thin: thin pool LV in the volume group")
        String thinPool;
        @Option(names = "--lvstore", description = "spdk: lvstore name")
        String lvstore;
        @Option(names = "--bdev", description = "spdk with --prepare: base bdev for the lvstore")
        String bdev;
        @Option(names = "--device", description = "lvm with --prepare: a physical device for the volume group (repeatable)")
        List<String> devices;
        @Option(names = "--prepare", description = "let the agent create the directory, volume group, thin pool or lvstore")
        boolean prepare;
        @Option(names = "--force", description = "lvm, lvm-thin with --prepare: create the volume group even over"
                + " existing filesystems, partition tables or PV labels on the devices, wiping them")
        boolean force;
        @Option(names = "--overprovision", description = "thin-capable engines: overprovision ratio (>= 1)")
        Double ratio;
        @Option(names = "--reserved", description = "bytes kept free, e.g. 10Gi")
        String reserved;
        @Option(names = "--label", description = "label key=value (repeatable), e.g. rack=r1")
        List<String> labels;
        @Option(names = "--unschedulable", description = "declare it, but place no new volumes on it")
        boolean unschedulable;
        @Option(names = "--replace", description = "overwrite an existing pool with different settings")
        boolean replace;

        @Override
        public Integer call() {
            Engine e = Engine.parse(engine);
            PoolSource source = switch (e) {
                case FILE -> PoolSource.directory(required(directory, "--directory"));
                case LVM -> PoolSource.volumeGroup(required(volumeGroup, "--vg"));
                case LVM_THIN -> PoolSource.thinPool(required(volumeGroup, "--vg"), required(thinPool, "--thin-pool"));
                case SPDK -> PoolSource.lvstore(required(lvstore, "--lvstore"));
            };
            if (devices != null && !devices.isEmpty()) {
                source = source.withDevices(devices);
            }
            if (bdev != null) {
                source = source.withBdev(bdev);
            }
            PoolConfig.Builder b = PoolConfig.builder(name, node, e, source).prepare(prepare).force(force)
                    .labels(labels(labels))
                    .schedulable(!unschedulable);
            if (ratio != null) {
                b.overprovisionRatio(ratio);
            }
            if (reserved != null) {
                b.reservedBytes(Sizes.parseNonNegative(reserved));
            }
            PoolConfig config = b.build();
            String key = keys().poolConfig(name);
            Optional<Versioned<PoolConfig>> existing = await(store().get(key, PoolConfig.class));
            if (existing.isPresent() && existing.get().value().equals(config)) {
                out().line("pool " + name + " unchanged");
                return ExitCodes.OK;
            }
            if (existing.isPresent() && !replace) {
                throw new CliException(ExitCodes.CONFLICT, "pool " + name + " exists with other settings; add --replace to overwrite it");
            }
            boolean written = await(store().compareAndPut(key, config, existing.map(Versioned::modRevision).orElse(0L)));
            if (!written) {
                throw new CliException(ExitCodes.CONFLICT, "pool " + name + " changed while writing it; run the command again");
            }
            out().line("pool " + name + (existing.isPresent() ? " replaced" : " added") + " on node " + node);
            return ExitCodes.OK;
        }

        private static String required(String value, String option) {
            if (value == null || value.isBlank()) {
                throw new CliException(ExitCodes.USAGE, "this engine needs " + option);
            }
            return value;
        }
    }

    @Command(name = "ls", description = "List pools with capacity, allocation and health.")
    static final class Ls extends Base {
        @Override
        public Integer call() {
            List<Map<String, Object>> rows = rows(this);
            List<List<String>> cells = new ArrayList<>();
            for (Map<String, Object> r : rows) {
                cells.add(List.of((String) r.get("pool"), (String) r.get("node"), String.valueOf(r.get("engine")),
                        size((Long) r.get("capacityBytes")), size((Long) r.get("allocatedBytes")), size((Long) r.get("freeBytes")),
                        String.valueOf(r.get("volumes")), String.valueOf(r.get("health")), String.valueOf(r.get("schedulable"))));
            }
            out().rows(List.of("POOL", "NODE", "ENGINE", "CAPACITY", "ALLOCATED", "FREE", "VOLUMES", "HEALTH", "SCHEDULABLE"),
                    cells, rows);
            return ExitCodes.OK;
        }
    }

    static List<Map<String, Object>> rows(Base cmd) {
        Map<String, PoolConfig> configs = cmd.byName(cmd.keys().poolConfigs(), PoolConfig.class);
        Map<String, Ledger> ledgers = cmd.byName(cmd.keys().ledgers(), Ledger.class);
        List<Map<String, Object>> rows = new ArrayList<>();
        for (PoolConfig c : configs.values().stream().sorted((a, b) -> a.name().compareTo(b.name())).toList()) {
            PoolStatus status = Base.await(cmd.store().get(cmd.keys().nodePoolStatus(c.node(), c.name()), PoolStatus.class))
                    .map(Versioned::value).orElse(null);
            Ledger ledger = ledgers.getOrDefault(c.name(), Ledger.empty(c.name()));
            long capacity = status == null ? 0 : status.capacityBytes();
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("pool", c.name());
            row.put("node", c.node());
            row.put("engine", c.engine().value());
            row.put("capacityBytes", capacity);
            row.put("allocatedBytes", ledger.allocatedBytes());
            // What can still be placed: what the ledger has not handed out, and never more than the
            // agent says its disk still has (other pools or other data may share that disk).
            long unallocated = Math.max(0, capacity - c.reservedBytes() - ledger.allocatedBytes());
            row.put("freeBytes", status == null ? unallocated : Math.min(unallocated, status.freeBytes()));
            row.put("volumes", ledger.volumeCount());
            row.put("health", status == null ? "not reported" : status.healthy() ? "healthy" : "unhealthy");
            row.put("schedulable", c.schedulable());
            row.put("config", c);
            if (status != null) {
                row.put("status", status);
            }
            rows.add(row);
        }
        return rows;
    }

    @Command(name = "describe", description = "Show a pool's configuration, its agent's report and its ledger.")
    static final class Describe extends Base {
        @Parameters(index = "0")
        String name;

        @Override
        public Integer call() {
            Map<String, Object> row = rows(this).stream().filter(r -> r.get("pool").equals(name)).findFirst()
                    .orElseThrow(() -> new CliException(ExitCodes.NOT_FOUND, "no pool named " + name + " (see `ferryctl pool ls`)"));
            Output o = out();
            if (o.format() == Output.Format.table) {
                Output yaml = new Output(root().out(), Output.Format.yaml);
                yaml.structured(row);
            } else {
                o.structured(row);
            }
            return ExitCodes.OK;
        }
    }

    @Command(name = "rm", description = "Remove a pool's configuration. Refused while volumes or snapshots live on it.")
    static final class Rm extends Base {
        @Parameters(index = "0")
        String name;

        @Override
        public Integer call() {
            String key = keys().poolConfig(name);
            Optional<Versioned<PoolConfig>> existing = await(store().get(key, PoolConfig.class));
            if (existing.isEmpty()) {
                throw new CliException(ExitCodes.NOT_FOUND, "no pool named " + name);
            }
            long onPool = list(keys().placements(), Placement.class).stream().filter(p -> p.value().pool().equals(name)).count();
            Ledger ledger = await(store().get(keys().ledger(name), Ledger.class)).map(Versioned::value).orElse(Ledger.empty(name));
            if (onPool > 0 || ledger.allocatedBytes() > 0) {
                throw new CliException(ExitCodes.CONFLICT, "pool " + name + " still holds " + onPool + " volume(s) and "
                        + size(ledger.allocatedBytes()) + " allocated; delete them first, or mark the pool unschedulable"
                        + " with `ferryctl pool add ... --unschedulable --replace`");
            }
            await(store().compareAndDelete(key, existing.get().modRevision()));
            out().line("pool " + name + " removed");
            return ExitCodes.OK;
        }
    }
}
