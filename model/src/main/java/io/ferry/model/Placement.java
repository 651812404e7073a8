package io.ferry.model;

import java.util.List;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import java.time.Instant;

/**
 * The authoritative allocation of a volume, key {@code <prefix>/placements/<vol>}, written only by
 * the controller leader, in one transaction with the pool's ledger and the node's work item.
 *
 * @param generation     incremented on every change the agent must act on (e.g. expansion); >= 1
 * @param consumerNode   node the volume is exported to, null while unattached or local
 * @param sourceSnapshot snapshot the volume is created from, may be null
 * @param sourceVolume   volume the volume is cloned from, may be null
 * @param createdAt      the first-creation record: when the controller saw the serving agent report the
 *                       volume {@code Ready} with a size at this placement's generation; null until then.
 *                       Once set, "not found" on the node means the volume is lost, never "create it"
 * @param recreateEmptyRequestedAt the intent's last {@code recreateEmptyRequestedAt} the controller acted on
 *                       (carried out or refused), so that one request is acted on once; may be null
 * @param emptySinceGeneration the generation at which an operator's request replaced a lost volume by a
 *                       new, empty one (0: the volume is the one first created)
 */
public record Placement(
        int schemaVersion,
        String volume,
        String pool,
        String node,
        Engine engine,
        long sizeBytes,
        boolean thin,
        long generation,
        String consumerNode,
        String sourceSnapshot,
        String sourceVolume,
        Instant placedAt,
        Instant createdAt,
        Instant recreateEmptyRequestedAt,
        long emptySinceGeneration) implements KeyNamed {

    public Placement {
        Schema.check(schemaVersion);
        Check.field("volume", Check.required(volume, "volume"), Names::volumeName);
        Check.field("pool", Check.required(pool, "pool"), Names::poolName);
        Check.field("node", Check.required(node, "node"), Names::nodeName);
        Check.required(engine, "engine");
        Check.positive(sizeBytes, "sizeBytes");
        Check.positive(generation, "generation");
        Check.nullable("consumerNode", consumerNode, Names::nodeName);
        Check.nullable("sourceSnapshot", sourceSnapshot, Names::snapshotName);
        Check.nullable("sourceVolume", sourceVolume, Names::volumeName);
        if (sourceSnapshot != null && sourceVolume != null) {
            throw new ValidationException("sourceVolume", "sourceVolume: cannot be combined with sourceSnapshot");
        }
        Check.required(placedAt, "placedAt");
        Check.nonNegative(emptySinceGeneration, "emptySinceGeneration");
        if (emptySinceGeneration > generation) {
            throw new ValidationException("emptySinceGeneration", "emptySinceGeneration: " + emptySinceGeneration
                    + " is after the placement's generation " + generation);
        }
    }

    @JsonCreator
    static Placement fromJson(
            @JsonProperty("schemaVersion") Integer schemaVersion,
            @JsonProperty("volume") String volume,
            @JsonProperty("pool") String pool,
            @JsonProperty("node") String node,
            @JsonProperty("engine") Engine engine,
            @JsonProperty("sizeBytes") @JsonDeserialize(using = SizeDeserializer.class) Long sizeBytes,
            @JsonProperty("thin") Boolean thin,
            @JsonProperty("generation") Long generation,
            @JsonProperty("consumerNode") String consumerNode,
            @JsonProperty("sourceSnapshot") String sourceSnapshot,
            @JsonProperty("sourceVolume") String sourceVolume,
            @JsonProperty("placedAt") Instant placedAt,
            @JsonProperty("createdAt") Instant createdAt,
            @JsonProperty("recreateEmptyRequestedAt") Instant recreateEmptyRequestedAt,
            @JsonProperty("emptySinceGeneration") Long emptySinceGeneration) {
        return new Placement(Schema.orDefault(schemaVersion), volume, pool, node, engine,
                Check.required(sizeBytes, "sizeBytes"), Check.orDefault(thin, false),
                Check.required(generation, "generation"), consumerNode, sourceSnapshot, sourceVolume, placedAt,
                createdAt, recreateEmptyRequestedAt, Check.orDefault(emptySinceGeneration, 0L));
    }

    public static Placement of(String volume, String pool, String node, Engine engine, long sizeBytes, boolean thin,
            long generation, String consumerNode, String sourceSnapshot, String sourceVolume, Instant placedAt) {
        return new Placement(Schema.CURRENT_VERSION, volume, pool, node, engine, sizeBytes, thin, generation,
                consumerNode, sourceSnapshot, sourceVolume, placedAt, null, null, 0);
    }

    /** This placement at another generation, everything else (the first-creation record included) kept. */
    public Placement withGeneration(long newGeneration) {
        return new Placement(schemaVersion, volume, pool, node, engine, sizeBytes, thin, newGeneration, consumerNode,
                sourceSnapshot, sourceVolume, placedAt, createdAt, recreateEmptyRequestedAt, emptySinceGeneration);
    }

    /** This placement grown to {@code newSizeBytes} at {@code newGeneration}. */
    public Placement withSize(long newSizeBytes, long newGeneration) {
        return new Placement(schemaVersion, volume, pool, node, engine, newSizeBytes, thin, newGeneration, consumerNode,
                sourceSnapshot, sourceVolume, placedAt, createdAt, recreateEmptyRequestedAt, emptySinceGeneration);
    }

    /** This placement with its first-creation record. */
    public Placement withCreatedAt(Instant at) {
        return new Placement(schemaVersion, volume, pool, node, engine, sizeBytes, thin, generation, consumerNode,
                sourceSnapshot, sourceVolume, placedAt, at, recreateEmptyRequestedAt, emptySinceGeneration);
    }

    /** This placement having acted on (or refused) the operator's request of {@code requestedAt}. */
    public Placement withRecreateEmptyHandled(Instant requestedAt) {
        return new Placement(schemaVersion, volume, pool, node, engine, sizeBytes, thin, generation, consumerNode,
                sourceSnapshot, sourceVolume, placedAt, createdAt, requestedAt, emptySinceGeneration);
    }

    /**
     * The operator's replacement of a lost volume by a new, empty one: the next generation, no
     * first-creation record (the new volume has not been created yet), and {@code emptySinceGeneration}
     * telling the agent that what it recorded before this generation no longer counts.
     */
    public Placement recreatedEmpty(Instant requestedAt) {
        long next = generation + 1;
        return new Placement(schemaVersion, volume, pool, node, engine, sizeBytes, thin, next, consumerNode,
                sourceSnapshot, sourceVolume, placedAt, null, requestedAt, next);
    }

    /** Whether the volume was first created (the agent must then never create it again). */
    public boolean mustExist() {
        return createdAt != null;
    }

    /**
     * Whether its consumer reaches the volume over the network from another node: such volumes
     * count against the serving node's cap on remote volumes.
     */
    public boolean servedRemotely() {
        return consumerNode != null && !consumerNode.equals(node);
    }

    @Override
    public List<String> keyNames() {
        return List.of(volume);
    }
}
