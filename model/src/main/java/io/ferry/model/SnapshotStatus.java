package io.ferry.model;

import java.util.List;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import java.time.Instant;
import java.util.Optional;

/**
 * A snapshot as its agent sees it, key {@code <prefix>/nodes/<node>/snapshots/<snap>}, written by
 * that agent.
 *
 * @param sizeBytes  restore size in bytes (>= 0)
 * @param readyToUse the snapshot can be restored from; implies phase {@code Ready}
 * @param createdAt  when the snapshot was cut (reported to CSI as its creation time); null until then
 * @param conditions {@link Condition#READY}: the typed outcome, as in a volume status (a failure's
 *                   reason a {@link FailureReason}); empty in statuses written before it.
 *                   {@link SnapshotProgress} decides on it
 */
public record SnapshotStatus(int schemaVersion, String snapshot, String sourceVolume, String node, String pool,
        long sizeBytes, boolean readyToUse, VolumePhase phase, String message, long observedGeneration,
        Instant createdAt, @JsonInclude(JsonInclude.Include.NON_EMPTY) List<Condition> conditions) implements KeyNamed {

    public SnapshotStatus {
        Schema.check(schemaVersion);
        Check.field("snapshot", Check.required(snapshot, "snapshot"), Names::snapshotName);
        Check.field("sourceVolume", Check.required(sourceVolume, "sourceVolume"), Names::volumeName);
        Check.field("node", Check.required(node, "node"), Names::nodeName);
        Check.field("pool", Check.required(pool, "pool"), Names::poolName);
        Check.nonNegative(sizeBytes, "sizeBytes");
        Check.required(phase, "phase");
        if (readyToUse && phase != VolumePhase.READY) {
            throw new ValidationException("readyToUse", "readyToUse: is true but phase is " + phase
                    + "; only a Ready snapshot can be used");
        }
        Check.text(message, "message", Check.MAX_MESSAGE);
        Check.nonNegative(observedGeneration, "observedGeneration");
        conditions = Check.list(conditions, "conditions", 16, (c, f) -> c);
    }

    @JsonCreator
    static SnapshotStatus fromJson(
            @JsonProperty("schemaVersion") Integer schemaVersion,
            @JsonProperty("snapshot") String snapshot,
            @JsonProperty("sourceVolume") String sourceVolume,
            @JsonProperty("node") String node,
            @JsonProperty("pool") String pool,
            @JsonProperty("sizeBytes") @JsonDeserialize(using = SizeDeserializer.class) Long sizeBytes,
            @JsonProperty("readyToUse") Boolean readyToUse,
            @JsonProperty("phase") VolumePhase phase,
            @JsonProperty("message") String message,
            @JsonProperty("observedGeneration") Long observedGeneration,
            @JsonProperty("createdAt") Instant createdAt,
            @JsonProperty("conditions") List<Condition> conditions) {
        return new SnapshotStatus(Schema.orDefault(schemaVersion), snapshot, sourceVolume, node, pool,
                Check.orDefault(sizeBytes, 0L), Check.orDefault(readyToUse, false), phase, message,
                Check.orDefault(observedGeneration, 0L), createdAt, conditions);
    }

    public static SnapshotStatus of(String snapshot, String sourceVolume, String node, String pool, long sizeBytes,
            boolean readyToUse, VolumePhase phase, String message, long observedGeneration, Instant createdAt) {
        return new SnapshotStatus(Schema.CURRENT_VERSION, snapshot, sourceVolume, node, pool, sizeBytes, readyToUse,
                phase, message, observedGeneration, createdAt, List.of());
    }

    public SnapshotStatus withConditions(List<Condition> conditions) {
        return new SnapshotStatus(schemaVersion, snapshot, sourceVolume, node, pool, sizeBytes, readyToUse, phase,
                message, observedGeneration, createdAt, conditions);
    }

    /** The {@code Ready} condition; empty in a status written before Ferry had conditions. */
    public Optional<Condition> ready() {
        return Condition.find(conditions, Condition.READY);
    }

    @Override
    public List<String> keyNames() {
        return List.of(node, snapshot);
    }
}
