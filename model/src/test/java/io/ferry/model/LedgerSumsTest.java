package io.ferry.model;

import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class LedgerSumsTest {

    static final Instant T = Instant.parse("2026-11-30T10:00:00Z");

    @Test
    void aPoolOwesTheSizesOfItsPlacementsAndOfItsChargedSnapshotsOnly() {
        List<Placement> placements = List.of(
                Placement.of("a", "p1", "n1", Engine.FILE, 100, true, 1, null, null, null, T),
                Placement.of("b", "p1", "n1", Engine.FILE, 50, true, 1, null, null, null, T),
                Placement.of("c", "p2", "n2", Engine.FILE, 10, true, 1, null, null, null, T));
        List<SnapshotScheduling> snapshots = List.of(
                SnapshotScheduling.of("s1", SchedulingPhase.PLACED, null, "n1", "p1", 100, 1, T),
                SnapshotScheduling.of("s2", SchedulingPhase.DELETING, null, "n2", "p2", 10, 1, T),
                SnapshotScheduling.of("s3", SchedulingPhase.NO_FIT, "no room", null, null, 0, 1, T));

        var expected = LedgerSums.expected(placements, snapshots);

        assertThat(expected.get("p1")).isEqualTo(new Ledger(Schema.CURRENT_VERSION, "p1", 250, 3));
        assertThat(expected.get("p2")).isEqualTo(new Ledger(Schema.CURRENT_VERSION, "p2", 20, 2));
        assertThat(expected).doesNotContainKey("p3");
    }

    @Test
    void anAbsentLedgerAgreesOnlyWithNothingPlacedAndAnyDifferenceDisagrees() {
        assertThat(LedgerSums.agrees(null, null)).isTrue();
        assertThat(LedgerSums.agrees(Ledger.empty("p1"), null)).isTrue();
        assertThat(LedgerSums.agrees(null, Ledger.empty("p1").add(1))).isFalse();
        assertThat(LedgerSums.agrees(Ledger.empty("p1").add(5), Ledger.empty("p1").add(5))).isTrue();
        assertThat(LedgerSums.agrees(Ledger.empty("p1").add(5), Ledger.empty("p1").add(6))).isFalse();
        assertThat(LedgerSums.agrees(Ledger.empty("p1").add(5).add(5), Ledger.empty("p1").add(10))).isFalse();
    }
}
