package io.ferry.model;

import org.assertj.core.api.Assertions;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** The controller's records carry typed conditions, and readers decide on them, never on phase words or messages. */
class SchedulingConditionsTest {

    static final Instant T = Instant.parse("2026-11-30T04:00:00Z");

    static VolumeScheduling record(SchedulingPhase phase, long revision, Condition... conditions) {
        return VolumeScheduling.of("data-1", phase, Map.of(), "words nobody parses", null, null, true, revision, T)
                .withConditions(List.of(conditions));
    }

    @Test
    void recordsWrittenBeforeConditionsDecodeWithConditionsDerivedFromWhatTheySaid() {
        VolumeScheduling noFit = Json.decode("""
                {"schemaVersion":1,"volume":"data-1","phase":"NoFit","reasonCounts":{"free space":3},
                 "message":"no pool fits: free space 3","observedRevision":12,"updatedAt":"2026-11-30T04:00:00Z"}""",
                VolumeScheduling.class);
        Condition scheduled = noFit.condition(Condition.SCHEDULED).orElseThrow();
        assertThat(scheduled.status()).isFalse();
        assertThat(scheduled.failureReason()).isEqualTo(FailureReason.NO_FIT);
        assertThat(scheduled.observedGeneration()).isEqualTo(12);

        VolumeScheduling grow = Json.decode("""
                {"volume":"data-1","phase":"Placed","node":"node-a","pool":"pool-a","reachable":false,
                 "message":"cannot grow","observedRevision":4,"updatedAt":"2026-11-30T04:00:00Z","growRefusedBytes":"1Gi"}""",
                VolumeScheduling.class);
        assertThat(grow.condition(Condition.SCHEDULED).orElseThrow().status()).isTrue();
        assertThat(grow.condition(Condition.RESIZED).orElseThrow().failureReason()).isEqualTo(FailureReason.NO_SPACE);
        assertThat(grow.condition(Condition.REACHABLE).orElseThrow().failureReason()).isEqualTo(FailureReason.NODE_UNREACHABLE);

        // An older controller's Pending said why only in words: nothing typed is made up for it.
        VolumeScheduling pending = Json.decode("""
                {"volume":"data-1","phase":"Pending","message":"waiting for snapshot s to be placed",
                 "updatedAt":"2026-11-30T04:00:00Z"}""", VolumeScheduling.class);
        assertThat(pending.conditions()).isEmpty();
        assertThat(VolumeProgress.created("data-1", pending, 0, null, null)).isInstanceOf(VolumeProgress.InProgress.class);

        SnapshotScheduling oldSnap = Json.decode("""
                {"snapshot":"snap-1","phase":"NoFit","message":"pool pool-a has 0 bytes free","observedRevision":3,
                 "updatedAt":"2026-11-30T04:00:00Z"}""", SnapshotScheduling.class);
        assertThat(SnapshotScheduling.refusal(oldSnap, 3).orElseThrow().reason()).isEqualTo(FailureReason.NO_FIT);
    }

    @Test
    void aCreateIsAnsweredFromTheScheduledConditionNotFromThePhase() {
        // Pending to people, but the condition says the ledger it needs does not decode: terminal.
        VolumeScheduling input = record(SchedulingPhase.PENDING, 7, Condition.failed(Condition.SCHEDULED,
                FailureReason.INPUT_INVALID, "bad value at /ferry/ledger/pool-a", 7, 0));
        VolumeProgress.Outcome o = VolumeProgress.created("data-1", input, 7, null, null);
        assertThat(o).isEqualTo(new VolumeProgress.Failed(FailureReason.INPUT_INVALID, "bad value at /ferry/ledger/pool-a"));

        // Waiting for a source is not a refusal, whatever phase an older reader would have matched.
        VolumeScheduling waiting = record(SchedulingPhase.NO_FIT, 7, Condition.failed(Condition.SCHEDULED,
                FailureReason.SOURCE_NOT_PLACED, "waiting for snapshot s to be placed", 7, 0));
        assertThat(VolumeProgress.created("data-1", waiting, 7, null, null)).isInstanceOf(VolumeProgress.InProgress.class);

        // A held placement is terminal and says it is a precondition, not a lack of room.
        VolumeScheduling held = record(SchedulingPhase.PENDING, 7, Condition.failed(Condition.SCHEDULED,
                FailureReason.PLACEMENT_LOST, null, 7, 0));
        VolumeProgress.Failed f = (VolumeProgress.Failed) VolumeProgress.created("data-1", held, 7, null, null);
        assertThat(f.reason().category()).isEqualTo(FailureReason.Category.PRECONDITION);
        assertThat(f.message()).contains("PlacementLost");
    }

    @Test
    void aGrowthIsRefusedByTheResizedConditionForThatVerySize() {
        Placement placed = Placement.of("data-1", "pool-a", "node-a", Engine.FILE, 16L << 20, false, 3, null, null, null, T);
        VolumeScheduling refused = VolumeScheduling.of("data-1", SchedulingPhase.PLACED, Map.of(), "pool-a has no room",
                "node-a", "pool-a", true, 9, T).withGrowRefused(64L << 20);
        assertThat(VolumeProgress.grown("data-1", refused, placed, null, 64L << 20))
                .isEqualTo(new VolumeProgress.Failed(FailureReason.NO_SPACE, "pool-a has no room"));
        // The size alone, without the condition, refuses nothing: readers decide on the condition.
        VolumeScheduling sizeOnly = refused.withConditions(Condition.without(refused.conditions(), Condition.RESIZED));
        assertThat(VolumeProgress.grown("data-1", sizeOnly, placed, null, 64L << 20)).isInstanceOf(VolumeProgress.InProgress.class);
        assertThat(refused.withGrowRefused(0).condition(Condition.RESIZED)).isEmpty();
    }

    @Test
    void aSnapshotRefusalIsReadFromItsConditionForThisSnapshotOnly() {
        SnapshotScheduling noRoom = SnapshotScheduling.of("snap-1", SchedulingPhase.NO_FIT, "pool-a has 0 bytes free",
                null, null, 0, 5, T).withConditions(List.of(Condition.failed(Condition.SCHEDULED, FailureReason.NO_SPACE,
                "pool-a has 0 bytes free", 5, 0)));
        assertThat(SnapshotScheduling.refusal(noRoom, 5).orElseThrow().reason().category())
                .isEqualTo(FailureReason.Category.NO_CAPACITY);
        assertThat(SnapshotScheduling.refusal(noRoom, 6)).as("written for an older snapshot of that name").isEmpty();
        SnapshotScheduling waiting = noRoom.withConditions(List.of(Condition.failed(Condition.SCHEDULED,
                FailureReason.SOURCE_NOT_PLACED, "source volume v is not placed", 5, 0)));
        assertThat(SnapshotScheduling.refusal(waiting, 5)).isEmpty();
        SnapshotScheduling noPool = noRoom.withConditions(List.of(Condition.failed(Condition.SCHEDULED,
                FailureReason.POOL_CANNOT_SNAPSHOT, null, 5, 0)));
        assertThat(SnapshotScheduling.refusal(noPool, 5).orElseThrow().reason()).isEqualTo(FailureReason.POOL_CANNOT_SNAPSHOT);
        assertThat(SnapshotScheduling.refusal(null, 5)).isEmpty();
    }

    @Test
    void aRecordHoldsOneConditionPerTypeAndRoundTripsThemWithTheirTimes() {
        Condition a = Condition.of(Condition.SCHEDULED, true, Condition.REASON_PLACED, null, 3).withTransitionTime(T);
        VolumeScheduling r = VolumeScheduling.of("data-1", SchedulingPhase.PLACED, Map.of(), null, "node-a", "pool-a",
                true, 3, T).withConditions(List.of(a, new Condition(Condition.RECONCILED, false, "Retrying", "etcd down", 3, T, 4)));
        assertThat(Json.decode(Json.encodeToString(r), VolumeScheduling.class)).isEqualTo(r);
        Assertions.assertThatThrownBy(() -> r.withConditions(List.of(a, a)))
                .isInstanceOf(ValidationException.class).hasMessageContaining("twice");
    }
}
