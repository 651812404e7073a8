package io.ferry.placement;

import io.ferry.model.Engine;
import io.ferry.model.ExportTarget;
import io.ferry.model.GlobalConfig;
import io.ferry.model.Ledger;
import io.ferry.model.NodeRegistration;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolSource;
import io.ferry.model.PoolStatus;
import io.ferry.model.VolumeIntent;

import java.time.Instant;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Builds candidates and requests for scheduler tests. */
final class Pools {

    static final long GI = 1L << 30;
    static final Instant T = Instant.parse("2026-11-21T10:00:00Z");
    static final String HOST_NQN = "nqn.2014-08.org.nvmexpress:uuid:6c1f2a64-8b8e-4d62-9d0e-0f1b5e0c1a77";

    private Pools() {
    }

    static PoolBuilder pool(String name, String node) {
        return new PoolBuilder(name, node);
    }

    static VolumeIntent.Builder volume(String name, long gib) {
        return VolumeIntent.builder(name, gib * GI);
    }

    static final class PoolBuilder {
        final String name;
        final String node;
        Engine engine = Engine.FILE;
        long capacity = 100 * GI;
        long allocated;
        long reserved;
        Double ratio;
        boolean schedulable = true;
        boolean alive = true;
        boolean reported = true;
        boolean healthy = true;
        Double thinData;
        Long diskFree;
        int remoteServed;
        Map<String, String> poolLabels = new HashMap<>();
        Map<String, String> nodeLabels = new HashMap<>();
        /** Null: the registration does not say (an agent older than the field). */
        Set<ExportTarget> exporters;
        /** Null: the registration does not say which machine (an agent older than the field). */
        String machineId;

        PoolBuilder(String name, String node) {
            this.name = name;
            this.node = node;
        }

        PoolBuilder engine(Engine e) {
            engine = e;
            return this;
        }

        PoolBuilder capacityGi(long gib) {
            capacity = gib * GI;
            return this;
        }

        PoolBuilder allocatedGi(long gib) {
            allocated = gib * GI;
            return this;
        }

        PoolBuilder reservedGi(long gib) {
            reserved = gib * GI;
            return this;
        }

        PoolBuilder ratio(double r) {
            ratio = r;
            return this;
        }

        PoolBuilder unschedulable() {
            schedulable = false;
            return this;
        }

        PoolBuilder down() {
            alive = false;
            return this;
        }

        PoolBuilder unreported() {
            reported = false;
            return this;
        }

        PoolBuilder unhealthy() {
            healthy = false;
            return this;
        }

        PoolBuilder diskFreeGi(long gib) {
            diskFree = gib * GI;
            return this;
        }

        PoolBuilder thinData(double percent) {
            thinData = percent;
            return this;
        }

        PoolBuilder remoteServed(int n) {
            remoteServed = n;
            return this;
        }

        PoolBuilder poolLabel(String k, String v) {
            poolLabels.put(k, v);
            return this;
        }

        PoolBuilder nodeLabel(String k, String v) {
            nodeLabels.put(k, v);
            return this;
        }

        PoolBuilder machine(String id) {
            machineId = id;
            return this;
        }

        PoolBuilder exporters(ExportTarget... targets) {
            exporters = Set.of(targets);
            return this;
        }

        Candidate build() {
            return build(GlobalConfig.defaults());
        }

        Candidate build(GlobalConfig global) {
            PoolSource source = switch (engine) {
                case LVM -> PoolSource.volumeGroup("vg0");
                case LVM_THIN -> PoolSource.thinPool("vg0", "tp0");
                case SPDK -> PoolSource.lvstore("lvs0");
                case FILE -> PoolSource.directory("/var/lib/ferry/" + name);
            };
            PoolConfig.Builder config = PoolConfig.builder(name, node, engine, source)
                    .reservedBytes(reserved).labels(poolLabels).schedulable(schedulable);
            if (ratio != null) {
                config.overprovisionRatio(ratio);
            }
            PoolStatus status = reported ? PoolStatus.of(node, name, engine, capacity, diskFree == null ? capacity : diskFree, thinData, thinData == null ? null : 1.0,
                    List.of(), healthy, T) : null;
            NodeRegistration registration = alive ? NodeRegistration.of(node, "10.0.0.1", null, HOST_NQN, EnumSet.allOf(Engine.class),
                    nodeLabels, "test", T).withExporters(exporters).withMachineId(machineId) : null;
            Ledger ledger = allocated == 0 ? Ledger.empty(name) : Ledger.empty(name).add(allocated);
            return Candidate.of(config.build(), status, registration, ledger, 7, remoteServed, global);
        }
    }
}
