package io.ferry.model;

import java.util.List;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import java.time.Instant;

/**
 * The controller's view of a snapshot intent, key {@code <prefix>/controller/snapshots/<snap>},
 * written only by the controller leader. A snapshot lives where its source volume lives, so
 * {@code NoFit} here means the source volume is not placed or its pool cannot take a snapshot.
 */
public record SnapshotScheduling(int schemaVersion, String snapshot, SchedulingPhase phase, String message,
        String node, String pool, long sizeBytes, long observedRevision, Instant updatedAt) implements KeyNamed {

    public SnapshotScheduling {
        Schema.check(schemaVersion);
        Check.field("snapshot", Check.required(snapshot, "snapshot"), Names::snapshotName);
        Check.required(phase, "phase");
        Check.text(message, "message", Check.MAX_MESSAGE);
        Check.nullable("node", node, Names::nodeName);
        Check.nullable("pool", pool, Names::poolName);
        if (phase == SchedulingPhase.PLACED && (node == null || pool == null)) {
            throw new ValidationException("node", "node: phase Placed requires node and pool");
        }
        Check.nonNegative(sizeBytes, "sizeBytes");
        Check.nonNegative(observedRevision, "observedRevision");
        Check.required(updatedAt, "updatedAt");
    }

    @JsonCreator
    static SnapshotScheduling fromJson(
            @JsonProperty("schemaVersion") Integer schemaVersion,
            @JsonProperty("snapshot") String snapshot,
            @JsonProperty("phase") SchedulingPhase phase,
            @JsonProperty("message") String message,
            @JsonProperty("node") String node,
            @JsonProperty("pool") String pool,
            @JsonProperty("sizeBytes") @JsonDeserialize(using = SizeDeserializer.class) Long sizeBytes,
            @JsonProperty("observedRevision") Long observedRevision,
            @JsonProperty("updatedAt") Instant updatedAt) {
        return new SnapshotScheduling(Schema.orDefault(schemaVersion), snapshot, phase, message, node, pool,
                Check.orDefault(sizeBytes, 0L), Check.orDefault(observedRevision, 0L), updatedAt);
    }

    /**
     * @param sizeBytes bytes charged to the pool's ledger for this snapshot (released exactly once,
     *                  when the snapshot is deleted); 0 until it is placed
     */
    public static SnapshotScheduling of(String snapshot, SchedulingPhase phase, String message, String node,
            String pool, long sizeBytes, long observedRevision, Instant updatedAt) {
        return new SnapshotScheduling(Schema.CURRENT_VERSION, snapshot, phase, message, node, pool, sizeBytes,
                observedRevision, updatedAt);
    }

    @Override
    public List<String> keyNames() {
        return List.of(snapshot);
    }
}
