package io.ferry.model;

import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The one rule for "cut, failed or in progress" of a snapshot that CSI CreateSnapshot and ferryctl follow. */
class SnapshotProgressTest {

    static final Instant T = Instant.parse("2026-11-30T04:00:00Z");
    static final SnapshotScheduling PLACED = SnapshotScheduling.of("snap-1", SchedulingPhase.PLACED, null, "node-a",
            "pool-a", 16L << 20, 5, T);

    static SnapshotStatus status(boolean ready, VolumePhase phase, Condition condition) {
        SnapshotStatus s = SnapshotStatus.of("snap-1", "data-1", "node-a", "pool-a", 16L << 20, ready, phase,
                condition == null ? null : condition.message(), 1, ready ? T : null);
        return condition == null ? s : s.withConditions(List.of(condition));
    }

    @Test
    void aTerminalFailureAnswersAtOnceWithItsReasonAndARetryableOneKeepsWaitingWithTheAttempts() {
        SnapshotStatus lost = status(false, VolumePhase.FAILED, Condition.failed(Condition.READY,
                FailureReason.SOURCE_LOST, "source volume data-1 is gone", 1, 1));
        VolumeProgress.Outcome o = SnapshotProgress.cut("snap-1", PLACED, 5, lost);
        assertThat(o).isEqualTo(new VolumeProgress.Failed(FailureReason.SOURCE_LOST,
                "the agent on node-a cannot cut snapshot snap-1: source volume data-1 is gone"));
        assertThat(((VolumeProgress.Failed) o).reason().category()).isEqualTo(FailureReason.Category.PRECONDITION);

        SnapshotStatus retrying = status(false, VolumePhase.FAILED, Condition.failed(Condition.READY,
                FailureReason.RETRYING, "lvcreate timed out", 1, 4));
        assertThat(SnapshotProgress.cut("snap-1", PLACED, 5, retrying)).isInstanceOf(VolumeProgress.InProgress.class)
                .extracting(p -> ((VolumeProgress.InProgress) p).waitingFor()).asString()
                .contains("attempt 4 failed: lvcreate timed out");
    }

    @Test
    void cutWhenReadyToUseAndTheControllersRefusalsAnswerForTheirRevisionOnly() {
        SnapshotStatus ready = status(true, VolumePhase.READY, Condition.progress(Condition.READY,
                ProgressReason.CARRIED_OUT, null, 1));
        assertThat(SnapshotProgress.cut("snap-1", PLACED, 5, ready)).isEqualTo(new SnapshotProgress.Cut(PLACED, ready));
        assertThat(SnapshotProgress.cut("snap-1", PLACED, 6, ready)).isInstanceOf(VolumeProgress.InProgress.class);
        SnapshotScheduling noFit = SnapshotScheduling.of("snap-1", SchedulingPhase.NO_FIT, "source not placed", null,
                null, 0, 5, T);
        assertThat(SnapshotProgress.cut("snap-1", noFit, 5, null)).extracting(p -> ((VolumeProgress.Failed) p).reason())
                .isEqualTo(FailureReason.NO_FIT);
        assertThat(SnapshotProgress.cut("snap-1", PLACED, 5, null)).isInstanceOf(VolumeProgress.InProgress.class);
    }

    @Test
    void aFailedStatusFromAnAgentBeforeConditionsStillEndsTheWaitAsBefore() {
        SnapshotStatus old = SnapshotStatus.of("snap-1", "data-1", "node-a", "pool-a", 0, false, VolumePhase.FAILED,
                "cp failed", 0, null);
        assertThat(SnapshotProgress.cut("snap-1", PLACED, 5, old)).extracting(p -> ((VolumeProgress.Failed) p).reason())
                .isEqualTo(FailureReason.UNKNOWN);
        SnapshotStatus creating = SnapshotStatus.of("snap-1", "data-1", "node-a", "pool-a", 0, false,
                VolumePhase.CREATING, null, 0, null);
        assertThat(SnapshotProgress.cut("snap-1", PLACED, 5, creating)).isInstanceOf(VolumeProgress.InProgress.class);
    }
}
