package io.ferry.model;

import java.util.List;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.time.Instant;

/**
 * A request for a snapshot of a volume, key {@code <prefix>/snapshots/<snap>}, written by the CSI
 * controller or {@code ferryctl}. Deletion is requested with the flag, as for volumes.
 */
public record SnapshotIntent(int schemaVersion, String name, String sourceVolume, boolean deletionRequested,
        String createdBy, Instant createdAt) implements KeyNamed {

    public SnapshotIntent {
        Schema.check(schemaVersion);
        Check.field("name", Check.required(name, "name"), Names::snapshotName);
        Check.field("sourceVolume", Check.required(sourceVolume, "sourceVolume"), Names::volumeName);
        Check.text(createdBy, "createdBy", 253);
    }

    @JsonCreator
    static SnapshotIntent fromJson(
            @JsonProperty("schemaVersion") Integer schemaVersion,
            @JsonProperty("name") String name,
            @JsonProperty("sourceVolume") String sourceVolume,
            @JsonProperty("deletionRequested") Boolean deletionRequested,
            @JsonProperty("createdBy") String createdBy,
            @JsonProperty("createdAt") Instant createdAt) {
        return new SnapshotIntent(Schema.orDefault(schemaVersion), name, sourceVolume,
                Check.orDefault(deletionRequested, false), createdBy, createdAt);
    }

    public static SnapshotIntent of(String name, String sourceVolume, String createdBy, Instant createdAt) {
        return new SnapshotIntent(Schema.CURRENT_VERSION, name, sourceVolume, false, createdBy, createdAt);
    }

    public SnapshotIntent withDeletionRequested() {
        return new SnapshotIntent(Schema.CURRENT_VERSION, name, sourceVolume, true, createdBy, createdAt);
    }

    @Override
    public List<String> keyNames() {
        return List.of(name);
    }
}
