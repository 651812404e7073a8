package io.ferry.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class ConditionTest {
    private static final Instant T0 = Instant.parse("2026-11-30T06:00:00Z");
    private static final Instant T1 = Instant.parse("2026-11-30T07:00:00Z");

    @Test
    void aConditionWrittenBeforeGenerationsAndTransitionTimesStillDecodes() {
        Condition c = Json.decode("{\"type\":\"Available\",\"status\":true,\"reason\":\"DirectoryReady\"}",
                Condition.class);
        assertThat(c.observedGeneration()).isZero();
        assertThat(c.lastTransitionTime()).isNull();
        assertThat(c.attempts()).isZero();
    }

    @Test
    void aFailureRoundTripsWithItsGenerationAttemptsAndTypedReason() {
        Condition c = Condition.failed(Condition.READY, FailureReason.NO_SPACE, "vg0 has 0 bytes free", 7, 3)
                .withTransitionTime(T0);
        Condition back = Json.decode(Json.encode(c), Condition.class);
        assertThat(back).isEqualTo(c);
        assertThat(back.failureReason()).isEqualTo(FailureReason.NO_SPACE);
        assertThat(back.failureReason().terminal()).isTrue();
    }

    @Test
    void aReasonFromANewerWriterReadsAsUnknownAndRetryable() {
        Condition c = Condition.of(Condition.READY, false, "SomethingNew", null, 2);
        assertThat(c.failureReason()).isEqualTo(FailureReason.UNKNOWN);
        assertThat(c.failureReason().terminal()).isFalse();
    }

    @Test
    void refusesNegativeGenerationsAndAttempts() {
        assertThatThrownBy(() -> new Condition("Ready", true, "Ready", null, -1, null, 0))
                .hasMessageContaining("observedGeneration");
        assertThatThrownBy(() -> new Condition("Ready", false, "Retrying", null, 1, null, -2))
                .hasMessageContaining("attempts");
    }

    @Test
    void rewritingAStatusKeepsTheTransitionTimeOfAConditionWhoseStatusDidNotChange() {
        List<Condition> before = List.of(
                Condition.of(Condition.AVAILABLE, true, "DirectoryReady", null).withTransitionTime(T0),
                Condition.of(Condition.SPACE_OK, true, "SpaceAvailable", null).withTransitionTime(T0));
        List<Condition> next = List.of(
                Condition.of(Condition.AVAILABLE, true, "DirectoryReady", "a new message"),
                Condition.of(Condition.SPACE_OK, false, "LowSpace", null),
                Condition.of(Condition.CONFIG_VALID, true, "Valid", null));

        List<Condition> out = Condition.carryTransitions(before, next, T1);

        assertThat(out).extracting(Condition::lastTransitionTime).containsExactly(T0, T1, T1);
        assertThat(out.get(0).message()).isEqualTo("a new message");
    }

    @Test
    void aConditionWithoutARecordedTransitionGetsOneOnItsNextWrite() {
        List<Condition> before = List.of(Condition.of(Condition.AVAILABLE, true, "DirectoryReady", null));
        List<Condition> out = Condition.carryTransitions(before,
                List.of(Condition.of(Condition.AVAILABLE, true, "DirectoryReady", null)), T1);
        assertThat(out.get(0).lastTransitionTime()).isEqualTo(T1);
        assertThat(Condition.carryTransitions(null, null, T1)).isEmpty();
    }
}
