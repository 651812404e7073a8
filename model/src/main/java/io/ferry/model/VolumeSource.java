package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * What a new volume's content comes from: exactly one of a snapshot or a volume to clone, both
 * living in {@code pool} on the same node as the new volume.
 */
public record VolumeSource(String snapshot, String volume, String pool) {

    public VolumeSource {
        Check.nullable("snapshot", snapshot, Names::snapshotName);
        Check.nullable("volume", volume, Names::volumeName);
        if ((snapshot == null) == (volume == null)) {
            throw new ValidationException("snapshot", "snapshot: exactly one of snapshot and volume must be set");
        }
        Check.field("pool", Check.required(pool, "pool"), Names::poolName);
    }

    @JsonCreator
    static VolumeSource fromJson(
            @JsonProperty("snapshot") String snapshot,
            @JsonProperty("volume") String volume,
            @JsonProperty("pool") String pool) {
        return new VolumeSource(snapshot, volume, pool);
    }

    public static VolumeSource snapshot(String snapshot, String pool) {
        return new VolumeSource(snapshot, null, pool);
    }

    public static VolumeSource volume(String volume, String pool) {
        return new VolumeSource(null, volume, pool);
    }
}
