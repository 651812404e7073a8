package io.ferry.model;

import java.util.List;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;

/**
 * What one node must do for one snapshot, key {@code <prefix>/work/<node>/snapshots/<snap>},
 * written by the controller leader: take a snapshot of {@code sourceVolume} in {@code pool}.
 * Deletion is the explicit order {@code deletionRequested} (with a new generation), never the
 * key's absence; see {@link WorkItem}.
 *
 * @param sizeBytes size of the source volume when the snapshot was requested
 */
public record SnapshotWorkItem(int schemaVersion, String snapshot, String node, String sourceVolume, String pool,
        Engine engine, long sizeBytes, long generation, boolean deletionRequested) implements KeyNamed {

    public SnapshotWorkItem {
        Schema.check(schemaVersion);
        Check.field("snapshot", Check.required(snapshot, "snapshot"), Names::snapshotName);
        Check.field("node", Check.required(node, "node"), Names::nodeName);
        Check.field("sourceVolume", Check.required(sourceVolume, "sourceVolume"), Names::volumeName);
        Check.field("pool", Check.required(pool, "pool"), Names::poolName);
        Check.required(engine, "engine");
        Check.positive(sizeBytes, "sizeBytes");
        Check.positive(generation, "generation");
    }

    @JsonCreator
    static SnapshotWorkItem fromJson(
            @JsonProperty("schemaVersion") Integer schemaVersion,
            @JsonProperty("snapshot") String snapshot,
            @JsonProperty("node") String node,
            @JsonProperty("sourceVolume") String sourceVolume,
            @JsonProperty("pool") String pool,
            @JsonProperty("engine") Engine engine,
            @JsonProperty("sizeBytes") @JsonDeserialize(using = SizeDeserializer.class) Long sizeBytes,
            @JsonProperty("generation") Long generation,
            @JsonProperty("deletionRequested") Boolean deletionRequested) {
        return new SnapshotWorkItem(Schema.orDefault(schemaVersion), snapshot, node, sourceVolume, pool, engine,
                Check.required(sizeBytes, "sizeBytes"), Check.required(generation, "generation"),
                Check.orDefault(deletionRequested, false));
    }

    public static SnapshotWorkItem of(String snapshot, String node, String sourceVolume, String pool, Engine engine,
            long sizeBytes, long generation) {
        return new SnapshotWorkItem(Schema.CURRENT_VERSION, snapshot, node, sourceVolume, pool, engine, sizeBytes,
                generation, false);
    }

    /** The order to delete this snapshot, at {@code newGeneration}. */
    public SnapshotWorkItem deletion(long newGeneration) {
        return new SnapshotWorkItem(schemaVersion, snapshot, node, sourceVolume, pool, engine, sizeBytes, newGeneration,
                true);
    }

    @Override
    public List<String> keyNames() {
        return List.of(node, snapshot);
    }
}
