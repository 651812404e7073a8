package io.ferry.model;

import org.junit.jupiter.api.Test;

import java.time.Instant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class LifecycleEventTest {

    static final Instant T = Instant.parse("2026-11-30T10:00:00.123Z");

    @Test
    void idsSortInTheOrderEventsWereRecorded() {
        String a = LifecycleEvent.idFor(T, 999_999);
        String b = LifecycleEvent.idFor(T.plusMillis(1), 1_000_000);
        assertThat(a).isEqualTo("1796032800123-999999");
        assertThat(b).isEqualTo("1796032800124-000000");
        assertThat(a).isLessThan(b);
    }

    @Test
    void aReasonFromANewerFerryReadsAsUnknownAndWarningsAreTyped() {
        LifecycleEvent e = Json.decode(("{\"schemaVersion\":1,\"objectKind\":\"volume\",\"object\":\"v\",\"id\":\""
                + LifecycleEvent.idFor(T, 1) + "\",\"reason\":\"Teleported\",\"message\":\"m\",\"time\":\"" + T
                + "\",\"reporter\":\"c\"}").getBytes(), LifecycleEvent.class);
        assertThat(e.reason()).isEqualTo(EventReason.UNKNOWN);
        assertThat(e.type()).isEqualTo("Normal");
        assertThat(EventReason.LOST.warning()).isTrue();
        assertThat(EventReason.parse("refused")).isEqualTo(EventReason.REFUSED);
    }

    @Test
    void badFieldsAreRefusedWithTheFieldNamedAndLongMessagesAreCut() {
        String id = LifecycleEvent.idFor(T, 1);
        assertThatThrownBy(() -> LifecycleEvent.of("pool", "v", id, EventReason.READY, null, null, "m", T, "c"))
                .hasMessageContaining("objectKind");
        assertThatThrownBy(() -> LifecycleEvent.of("volume", "../etc", id, EventReason.READY, null, null, "m", T, "c"))
                .isInstanceOf(ValidationException.class);
        assertThatThrownBy(() -> LifecycleEvent.of("volume", "v", "12", EventReason.READY, null, null, "m", T, "c"))
                .hasMessageContaining("id");
        assertThatThrownBy(() -> LifecycleEvent.of("volume", "v", id, EventReason.READY, "has space", null, "m", T, "c"))
                .hasMessageContaining("detail");
        LifecycleEvent long_ = LifecycleEvent.of("volume", "v", id, EventReason.FAILED, null, null, "x".repeat(5000), T, "c");
        assertThat(long_.message()).hasSize(LifecycleEvent.MAX_MESSAGE).endsWith("…");
    }
}
