package io.ferry.model;

import java.util.List;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import java.time.Instant;

/**
 * A volume as its serving agent sees it, key {@code <prefix>/nodes/<node>/volumes/<vol>}, written
 * by that agent. The CSI plugin waits for {@code Ready} with {@code observedGeneration} at least
 * the placement's generation.
 *
 * @param pool               pool holding the volume, as the agent's work item named it; null in statuses
 *                           written before Ferry recorded it. With {@code sizeBytes} it is what a lost
 *                           placement is rebuilt from
 * @param devicePath         local block device or file path, null until created
 * @param sizeBytes          actual size (>= 0; 0 until created)
 * @param export             the NVMe/TCP export, null when not exported
 * @param observedGeneration the work item generation this status reflects (>= 0)
 * @param message            human-readable detail, e.g. the error for {@code Failed}
 * @param failure            why the last attempt failed (typed, with the generation it applies to);
 *                           null when it did not. Readers decide on this, never on {@code message}
 */
public record VolumeStatus(
        int schemaVersion,
        String volume,
        String node,
        String pool,
        VolumePhase phase,
        String devicePath,
        long sizeBytes,
        ExportInfo export,
        long observedGeneration,
        String message,
        Instant updatedAt,
        VolumeFailure failure) implements KeyNamed {

    public VolumeStatus {
        Schema.check(schemaVersion);
        Check.field("volume", Check.required(volume, "volume"), Names::volumeName);
        Check.field("node", Check.required(node, "node"), Names::nodeName);
        Check.nullable("pool", pool, Names::poolName);
        Check.required(phase, "phase");
        Check.absolutePath(devicePath, "devicePath");
        Check.nonNegative(sizeBytes, "sizeBytes");
        Check.nonNegative(observedGeneration, "observedGeneration");
        Check.text(message, "message", Check.MAX_MESSAGE);
        Check.required(updatedAt, "updatedAt");
    }

    @JsonCreator
    static VolumeStatus fromJson(
            @JsonProperty("schemaVersion") Integer schemaVersion,
            @JsonProperty("volume") String volume,
            @JsonProperty("node") String node,
            @JsonProperty("pool") String pool,
            @JsonProperty("phase") VolumePhase phase,
            @JsonProperty("devicePath") String devicePath,
            @JsonProperty("sizeBytes") @JsonDeserialize(using = SizeDeserializer.class) Long sizeBytes,
            @JsonProperty("export") ExportInfo export,
            @JsonProperty("observedGeneration") Long observedGeneration,
            @JsonProperty("message") String message,
            @JsonProperty("updatedAt") Instant updatedAt,
            @JsonProperty("failure") VolumeFailure failure) {
        return new VolumeStatus(Schema.orDefault(schemaVersion), volume, node, pool, phase, devicePath,
                Check.orDefault(sizeBytes, 0L), export, Check.orDefault(observedGeneration, 0L), message, updatedAt,
                failure);
    }

    public static VolumeStatus of(String volume, String node, VolumePhase phase, String devicePath, long sizeBytes,
            ExportInfo export, long observedGeneration, String message, Instant updatedAt) {
        return of(volume, node, null, phase, devicePath, sizeBytes, export, observedGeneration, message, updatedAt);
    }

    public static VolumeStatus of(String volume, String node, String pool, VolumePhase phase, String devicePath,
            long sizeBytes, ExportInfo export, long observedGeneration, String message, Instant updatedAt) {
        return new VolumeStatus(Schema.CURRENT_VERSION, volume, node, pool, phase, devicePath, sizeBytes, export,
                observedGeneration, message, updatedAt, null);
    }

    public VolumeStatus withFailure(VolumeFailure failure) {
        return new VolumeStatus(schemaVersion, volume, node, pool, phase, devicePath, sizeBytes, export,
                observedGeneration, message, updatedAt, failure);
    }

    @Override
    public List<String> keyNames() {
        return List.of(node, volume);
    }
}
