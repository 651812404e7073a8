package io.ferry.controller;

import io.ferry.model.Condition;
import io.ferry.model.EventReason;
import io.ferry.model.FailureReason;
import io.ferry.model.ProgressReason;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumePhase;
import io.ferry.model.VolumeStatus;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The event rule on values alone; LifecycleEventsIT holds the recorder to it against etcd. */
class LifecycleEventRulesTest {

    static final Instant T = Instant.parse("2026-11-30T10:00:00Z");

    static VolumeStatus status(long size, Condition ready) {
        return VolumeStatus.of("v", "n1", VolumePhase.READY, "/dev/x", size, null, 1, null, T).withConditions(List.of(ready));
    }

    static List<EventReason> reasons(Object before, Object after) {
        return LifecycleEventRules.derive(before, after).stream().map(LifecycleEventRules.Draft::reason).toList();
    }

    @Test
    void theSameValueSeenAgainOrAnotherAttemptOfTheSameFailureIsNoEvent() {
        VolumeStatus ready = status(1 << 20, Condition.of(Condition.READY, true, "Created", null, 1));
        assertThat(reasons(ready, ready)).isEmpty();
        VolumeStatus failing = status(0, Condition.failed(Condition.READY, FailureReason.RETRYING, "busy", 1, 1));
        VolumeStatus failingAgain = status(0, Condition.failed(Condition.READY, FailureReason.RETRYING, "busy", 1, 2));
        assertThat(reasons(null, failing)).containsExactly(EventReason.FAILED);
        assertThat(reasons(failing, failingAgain)).isEmpty();
        VolumeStatus other = status(0, Condition.failed(Condition.READY, FailureReason.NO_SPACE, "full", 1, 1));
        assertThat(reasons(failingAgain, other)).containsExactly(EventReason.FAILED);
    }

    @Test
    void aGrowthIsGrownOnceReadyAgainAndNotReady() {
        VolumeStatus small = status(1 << 20, Condition.of(Condition.READY, true, "Created", null, 1));
        VolumeStatus growing = status(1 << 20, Condition.progress(Condition.READY, ProgressReason.PROGRESSING, "growing", 2));
        VolumeStatus big = status(2 << 20, Condition.of(Condition.READY, true, "Created", null, 2));
        assertThat(reasons(small, growing)).isEmpty();
        assertThat(reasons(growing, big)).containsExactly(EventReason.GROWN);
        assertThat(reasons(small, big)).containsExactly(EventReason.GROWN);
        assertThat(reasons(null, big)).containsExactly(EventReason.READY);
    }

    @Test
    void aLossIsLostNotFailedAndAStatusGoneOrAnIntentChangedIsNoEvent() {
        VolumeStatus ready = status(1 << 20, Condition.of(Condition.READY, true, "Created", null, 1));
        VolumeStatus lost = status(0, Condition.failed(Condition.READY, FailureReason.VOLUME_LOST, "gone", 1, 1));
        assertThat(reasons(ready, lost)).containsExactly(EventReason.LOST);
        assertThat(reasons(lost, lost)).isEmpty();
        assertThat(reasons(lost, ready)).containsExactly(EventReason.READY);
        assertThat(reasons(ready, null)).isEmpty();
        VolumeIntent v = VolumeIntent.builder("v", 1 << 20).build();
        assertThat(reasons(null, v)).isEmpty();
        assertThat(reasons(v, v.withSizeBytes(2 << 20))).isEmpty();
        assertThat(reasons(v, null)).containsExactly(EventReason.DELETED);
        assertThat(reasons("a registration or anything else", null)).isEmpty();
    }
}
