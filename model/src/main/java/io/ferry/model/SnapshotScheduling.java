package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonIgnore;
import java.util.List;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import java.time.Instant;
import java.util.Optional;

/**
 * The controller's view of a snapshot intent, key {@code <prefix>/controller/snapshots/<snap>},
 * written only by the controller leader. A snapshot lives where its source volume lives, so
 * {@code NoFit} here means the source volume is not placed or its pool cannot take a snapshot; the
 * {@code Scheduled} condition says which, typed: {@link FailureReason#SOURCE_NOT_PLACED} (waited for),
 * {@link FailureReason#POOL_CANNOT_SNAPSHOT}, {@link FailureReason#NO_SPACE} or
 * {@link FailureReason#INVALID_INTENT}. A record written before conditions existed gets its
 * {@code Scheduled} condition derived from {@code phase} (a NoFit then reads as {@link FailureReason#NO_FIT}).
 */
public record SnapshotScheduling(int schemaVersion, String snapshot, SchedulingPhase phase, String message,
        String node, String pool, long sizeBytes, long observedRevision, Instant updatedAt,
        List<Condition> conditions) implements KeyNamed {

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
        conditions = conditions == null ? derived(phase, node, observedRevision, message) : Condition.checkList(conditions);
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
            @JsonProperty("updatedAt") Instant updatedAt,
            @JsonProperty("conditions") List<Condition> conditions) {
        return new SnapshotScheduling(Schema.orDefault(schemaVersion), snapshot, phase, message, node, pool,
                Check.orDefault(sizeBytes, 0L), Check.orDefault(observedRevision, 0L), updatedAt, conditions);
    }

    /**
     * @param sizeBytes bytes charged to the pool's ledger for this snapshot (released exactly once,
     *                  when the snapshot is deleted); 0 until it is placed
     */
    public static SnapshotScheduling of(String snapshot, SchedulingPhase phase, String message, String node,
            String pool, long sizeBytes, long observedRevision, Instant updatedAt) {
        return new SnapshotScheduling(Schema.CURRENT_VERSION, snapshot, phase, message, node, pool, sizeBytes,
                observedRevision, updatedAt, null);
    }

    public SnapshotScheduling withConditions(List<Condition> next) {
        return new SnapshotScheduling(schemaVersion, snapshot, phase, message, node, pool, sizeBytes, observedRevision,
                updatedAt, next);
    }

    /** The condition of {@code type}, if the record has one. */
    public Optional<Condition> condition(String type) {
        return Condition.find(conditions, type);
    }

    /**
     * Why the snapshot asked for at {@code intentCreateRevision} (an older snapshot of the same name
     * does not count) will not be placed, when the controller has said so for good: the failure to
     * answer with, or empty while it is placed or still being worked on (a source not placed yet is
     * waited for). The one reading of this record for every caller that waits for a snapshot.
     */
    public static Optional<VolumeProgress.Failed> refusal(SnapshotScheduling scheduling, long intentCreateRevision) {
        if (scheduling == null || scheduling.observedRevision() < intentCreateRevision) {
            return Optional.empty();
        }
        return scheduling.condition(Condition.SCHEDULED)
                .filter(c -> !c.status() && c.failureReason().terminal())
                .map(c -> new VolumeProgress.Failed(c.failureReason(), "snapshot " + scheduling.snapshot()
                        + " cannot be taken: " + (c.message() != null ? c.message() : c.reason())));
    }

    /** The first false condition ({@code Scheduled}, then {@code Reconciled}), as for volumes. */
    @JsonIgnore
    public Optional<Condition> problem() {
        return VolumeScheduling.firstFalse(conditions, Condition.SCHEDULED, Condition.RECONCILED);
    }

    /** The {@code Scheduled} condition of a record written before the controller wrote conditions. */
    static List<Condition> derived(SchedulingPhase phase, String node, long revision, String message) {
        return switch (phase) {
            case NO_FIT -> List.of(Condition.failed(Condition.SCHEDULED, FailureReason.NO_FIT, message, revision, 0));
            case INVALID -> List.of(Condition.failed(Condition.SCHEDULED, FailureReason.INVALID_INTENT, message, revision, 0));
            case PLACED, DELETING -> node == null ? List.of()
                    : List.of(Condition.of(Condition.SCHEDULED, true, Condition.REASON_PLACED, null, revision));
            default -> List.of();
        };
    }

    @Override
    public List<String> keyNames() {
        return List.of(snapshot);
    }
}
