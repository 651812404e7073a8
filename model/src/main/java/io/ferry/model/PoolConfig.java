package io.ferry.model;

import java.util.List;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import java.util.Map;

/**
 * A pool, key {@code <prefix>/config/pools/<pool>}, written by the operator. The agent on
 * {@code node} brings the pool up and reports it under its pool status key; the controller places
 * volumes on it while it is {@code schedulable} and healthy.
 *
 * @param name               pool name, equal to the key's last segment
 * @param node               node that owns the storage
 * @param engine             data engine
 * @param source             where the space comes from; required fields depend on the engine
 * @param prepare            the agent may create the volume group, thin pool, lvstore or directory
 *                           from {@code source} if it does not exist (default false: it only uses
 *                           what exists, so that a typo never formats a disk)
 * @param force              {@code lvm}/{@code lvm-thin} with {@code prepare} only: create the volume
 *                           group even on devices that carry a filesystem, partition table, RAID or
 *                           LVM signature, letting LVM wipe them (default false: such a device is
 *                           refused and the pool status names what was found on it)
 * @param overprovisionRatio total virtual size of thin volumes allowed per byte of capacity (>= 1);
 *                           null means {@link GlobalConfig#defaultOverprovisionRatio()} for engines
 *                           that hold thin volumes; must be null or 1 for {@code lvm}
 * @param reservedBytes      capacity kept free and never allocated (>= 0, default 0)
 * @param capacityBytes      {@code file} only: the pool's capacity; null for the default, the file
 *                           system's size shared evenly by the node's file pools on it that set none.
 *                           Never more than the file system's size, whatever is written here
 * @param labels             e.g. {@code zone}, {@code rack}, {@code switch}, {@code media}; matched
 *                           by volume pool selectors
 * @param schedulable        new volumes may be placed here (default true); existing volumes stay
 */
public record PoolConfig(
        int schemaVersion,
        String name,
        String node,
        Engine engine,
        PoolSource source,
        boolean prepare,
        boolean force,
        Double overprovisionRatio,
        long reservedBytes,
        Long capacityBytes,
        Map<String, String> labels,
        boolean schedulable) implements KeyNamed {

    public PoolConfig {
        Schema.check(schemaVersion);
        Check.field("name", Check.required(name, "name"), Names::poolName);
        Check.field("node", Check.required(node, "node"), Names::nodeName);
        Check.required(engine, "engine");
        Check.required(source, "source");
        source.validateFor(engine, prepare);
        if (force && !(prepare && (engine == Engine.LVM || engine == Engine.LVM_THIN))) {
            throw new ValidationException("force", "force: only means something for an lvm or lvm-thin pool with"
                    + " \"prepare\": true (it lets the agent create the volume group over existing signatures);"
                    + " remove it");
        }
        if (overprovisionRatio != null) {
            Check.range(overprovisionRatio, 1.0, GlobalConfig.MAX_OVERPROVISION_RATIO, "overprovisionRatio");
            if (!engine.thin() && overprovisionRatio != 1.0) {
                throw new ValidationException("overprovisionRatio", "overprovisionRatio: " + overprovisionRatio
                        + " is not allowed for engine " + engine + ", which allocates every byte up front; use 1"
                        + " or omit it");
            }
        }
        Check.nonNegative(reservedBytes, "reservedBytes");
        if (capacityBytes != null) {
            Check.positive(capacityBytes, "capacityBytes");
            if (engine != Engine.FILE) {
                throw new ValidationException("capacityBytes", "capacityBytes: only file pools take a capacity;"
                        + " an " + engine + " pool measures its own; remove it");
            }
        }
        labels = Check.labels(labels, "labels");
    }

    @JsonCreator
    static PoolConfig fromJson(
            @JsonProperty("schemaVersion") Integer schemaVersion,
            @JsonProperty("name") String name,
            @JsonProperty("node") String node,
            @JsonProperty("engine") Engine engine,
            @JsonProperty("source") PoolSource source,
            @JsonProperty("prepare") Boolean prepare,
            @JsonProperty("force") Boolean force,
            @JsonProperty("overprovisionRatio") Double overprovisionRatio,
            @JsonProperty("reservedBytes") @JsonDeserialize(using = SizeDeserializer.class) Long reservedBytes,
            @JsonProperty("capacityBytes") @JsonDeserialize(using = SizeDeserializer.class) Long capacityBytes,
            @JsonProperty("labels") Map<String, String> labels,
            @JsonProperty("schedulable") Boolean schedulable) {
        return new PoolConfig(Schema.orDefault(schemaVersion), name, node, engine, source,
                Check.orDefault(prepare, false), Check.orDefault(force, false), overprovisionRatio, Check.orDefault(reservedBytes, 0L), capacityBytes, labels,
                Check.orDefault(schedulable, true));
    }

    /** The ratio in force: 1 for {@code lvm}, else this pool's ratio or the global default. */
    public double effectiveOverprovisionRatio(GlobalConfig global) {
        if (!engine.thin()) {
            return 1.0;
        }
        return overprovisionRatio != null ? overprovisionRatio : global.defaultOverprovisionRatio();
    }

    public static Builder builder(String name, String node, Engine engine, PoolSource source) {
        return new Builder(name, node, engine, source);
    }

    public Builder toBuilder() {
        Builder b = new Builder(name, node, engine, source);
        b.prepare = prepare;
        b.force = force;
        b.overprovisionRatio = overprovisionRatio;
        b.reservedBytes = reservedBytes;
        b.capacityBytes = capacityBytes;
        b.labels = labels;
        b.schedulable = schedulable;
        return b;
    }

    /** Mutable builder; {@link #build()} validates. Not thread-safe. */
    public static final class Builder {
        private final String name;
        private final String node;
        private final Engine engine;
        private final PoolSource source;
        private boolean prepare;
        private boolean force;
        private Double overprovisionRatio;
        private long reservedBytes;
        private Long capacityBytes;
        private Map<String, String> labels = Map.of();
        private boolean schedulable = true;

        private Builder(String name, String node, Engine engine, PoolSource source) {
            this.name = name;
            this.node = node;
            this.engine = engine;
            this.source = source;
        }

        public Builder prepare(boolean v) {
            prepare = v;
            return this;
        }

        public Builder force(boolean v) {
            force = v;
            return this;
        }

        public Builder overprovisionRatio(Double v) {
            overprovisionRatio = v;
            return this;
        }

        public Builder reservedBytes(long v) {
            reservedBytes = v;
            return this;
        }

        public Builder capacityBytes(Long v) {
            capacityBytes = v;
            return this;
        }

        public Builder labels(Map<String, String> v) {
            labels = v;
            return this;
        }

        public Builder schedulable(boolean v) {
            schedulable = v;
            return this;
        }

        public PoolConfig build() {
            return new PoolConfig(Schema.CURRENT_VERSION, name, node, engine, source, prepare, force,
                    overprovisionRatio, reservedBytes, capacityBytes, labels, schedulable);
        }
    }

    @Override
    public List<String> keyNames() {
        return List.of(name);
    }
}
