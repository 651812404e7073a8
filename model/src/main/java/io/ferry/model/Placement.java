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
        Instant placedAt) implements KeyNamed {

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
            @JsonProperty("placedAt") Instant placedAt) {
        return new Placement(Schema.orDefault(schemaVersion), volume, pool, node, engine,
                Check.required(sizeBytes, "sizeBytes"), Check.orDefault(thin, false),
                Check.required(generation, "generation"), consumerNode, sourceSnapshot, sourceVolume, placedAt);
    }

    public static Placement of(String volume, String pool, String node, Engine engine, long sizeBytes, boolean thin,
            long generation, String consumerNode, String sourceSnapshot, String sourceVolume, Instant placedAt) {
        return new Placement(Schema.CURRENT_VERSION, volume, pool, node, engine, sizeBytes, thin, generation,
                consumerNode, sourceSnapshot, sourceVolume, placedAt);
    }

    @Override
    public List<String> keyNames() {
        return List.of(volume);
    }
}
