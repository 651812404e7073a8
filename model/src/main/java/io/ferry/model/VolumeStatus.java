package io.ferry.model;

import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import java.time.Instant;
import java.util.Optional;

/**
 * A volume as its serving agent sees it, key {@code <prefix>/nodes/<node>/volumes/<vol>}, written
 * by that agent. Its {@code Ready} condition is the typed outcome readers decide on (through
 * {@link VolumeProgress}): true at the generation carried out; false with a {@link ProgressReason}
 * while the agent works, or with a {@link FailureReason} (the generation it applies to, the attempts
 * of a failure being retried). {@code phase} and {@code message} are for people.
 *
 * @param pool               pool holding the volume, as the agent's work item named it; null in statuses
 *                           written before Ferry recorded it. With {@code sizeBytes} it is what a lost
 *                           placement is rebuilt from
 * @param devicePath         local block device or file path, null until created
 * @param sizeBytes          actual size (>= 0; 0 until created)
 * @param export             the NVMe/TCP export, null when not exported
 * @param observedGeneration the work item generation this status reflects (>= 0)
 * @param message            human-readable detail, e.g. the error for {@code Failed}
 * @param conditions         observations, {@link Condition#READY} above all; empty in statuses written
 *                           before Ferry had them (readers then fall back on {@code phase})
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
        @JsonInclude(JsonInclude.Include.NON_EMPTY) List<Condition> conditions) implements KeyNamed {

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
        conditions = Check.list(conditions, "conditions", 16, (c, f) -> c);
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
            @JsonProperty("conditions") List<Condition> conditions,
            @JsonProperty("failure") LegacyFailure failure) {
        List<Condition> all = conditions == null ? List.of() : conditions;
        if (failure != null && Condition.find(all, Condition.READY).isEmpty()) {
            // Written by an agent that kept its typed failure in a field of its own: the same
            // outcome, read as the Ready condition it now is.
            all = new ArrayList<>(all);
            all.add(Condition.failed(Condition.READY, FailureReason.parse(failure.reason), message,
                    Check.orDefault(failure.generation, 0L), Math.max(1, Check.orDefault(failure.attempts, 1))));
        }
        return new VolumeStatus(Schema.orDefault(schemaVersion), volume, node, pool, phase, devicePath,
                Check.orDefault(sizeBytes, 0L), export, Check.orDefault(observedGeneration, 0L), message, updatedAt,
                all);
    }

    /** The {@code failure} field of statuses written before the Ready condition: read, never written. */
    record LegacyFailure(String reason, Long generation, Integer attempts) {
        @JsonCreator
        LegacyFailure(@JsonProperty("reason") String reason, @JsonProperty("generation") Long generation,
                @JsonProperty("attempts") Integer attempts) {
            this.reason = Check.required(reason, "failure.reason");
            this.generation = Check.nonNegative(Check.orDefault(generation, 0L), "failure.generation");
            this.attempts = Check.orDefault(attempts, 1);
        }
    }

    public static VolumeStatus of(String volume, String node, VolumePhase phase, String devicePath, long sizeBytes,
            ExportInfo export, long observedGeneration, String message, Instant updatedAt) {
        return of(volume, node, null, phase, devicePath, sizeBytes, export, observedGeneration, message, updatedAt);
    }

    public static VolumeStatus of(String volume, String node, String pool, VolumePhase phase, String devicePath,
            long sizeBytes, ExportInfo export, long observedGeneration, String message, Instant updatedAt) {
        return new VolumeStatus(Schema.CURRENT_VERSION, volume, node, pool, phase, devicePath, sizeBytes, export,
                observedGeneration, message, updatedAt, List.of());
    }

    public VolumeStatus withConditions(List<Condition> conditions) {
        return new VolumeStatus(schemaVersion, volume, node, pool, phase, devicePath, sizeBytes, export,
                observedGeneration, message, updatedAt, conditions);
    }

    /** This status with its {@code Ready} condition set (any other conditions kept). */
    public VolumeStatus withReady(Condition ready) {
        List<Condition> next = new ArrayList<>(conditions.stream()
                .filter(c -> !c.type().equals(Condition.READY)).toList());
        next.add(0, ready);
        return withConditions(next);
    }

    /** The {@code Ready} condition; empty in a status written before Ferry had conditions. */
    public Optional<Condition> ready() {
        return Condition.find(conditions, Condition.READY);
    }

    /**
     * Whether the volume is as its last carried-out request left it and nothing is under way (Ready
     * true, at whatever generation); for a status written before conditions, phase {@code Ready}.
     */
    public boolean settled() {
        return ready().map(Condition::status).orElse(phase == VolumePhase.READY);
    }

    /**
     * Whether the agent reports a failure (Ready false with a failure reason, terminal or being
     * retried); for a status written before conditions, phase {@code Failed} or {@code Lost}.
     */
    public boolean failing() {
        return ready().map(Condition::isFailure).orElse(phase.isFailure());
    }

    /** Whether the volume is lost on its node (never re-created empty; see {@link FailureReason#VOLUME_LOST}). */
    public boolean lost() {
        return ready().map(c -> c.isFailure() && c.failureReason() == FailureReason.VOLUME_LOST)
                .orElse(phase == VolumePhase.LOST);
    }

    @Override
    public List<String> keyNames() {
        return List.of(node, volume);
    }
}
