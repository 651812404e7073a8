package io.ferry.model;

import org.junit.jupiter.api.Test;

import java.time.Instant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The checks removal and adoption orders, and their answers, share. */
class OrphanOrdersTest {

    private static final Instant AT = Instant.parse("2026-11-30T12:00:00Z");

    @Test
    void anOrderNamingNoOrphanSaysWhatItWouldHaveDone() {
        assertThatThrownBy(() -> OrphanRemoval.of("o-1", "node-1", " ", "ops", AT))
                .isInstanceOf(ValidationException.class).hasMessageContaining("must name the orphan to remove");
        assertThatThrownBy(() -> OrphanAdoption.of("o-1", "node-1", " ", "ops", AT))
                .isInstanceOf(ValidationException.class).hasMessageContaining("must name the orphan to adopt");
    }

    @Test
    void ordersAndAnswersRefuseAnIdThatCannotBeAKeySegment() {
        assertThatThrownBy(() -> OrphanAdoption.of("Bad/Id", "node-1", "ferry-v1", "ops", AT))
                .isInstanceOf(ValidationException.class).hasMessageContaining("is not an order id");
        assertThatThrownBy(() -> OrphanRemovalResult.of("Bad/Id", "node-1", "ferry-v1", OrphanRemovalOutcome.DONE,
                "removed", AT)).isInstanceOf(ValidationException.class).hasMessageContaining("is not an order id");
    }

    @Test
    void anAnswerNeedsAnOutcomeAndAMessage() {
        assertThatThrownBy(() -> OrphanRemovalResult.of("o-1", "node-1", "ferry-v1", null, "removed", AT))
                .isInstanceOf(ValidationException.class).hasMessageContaining("outcome");
        assertThatThrownBy(() -> OrphanAdoptionResult.refused("o-1", "node-1", "ferry-v1", OrphanRefusal.values()[0],
                null, AT)).isInstanceOf(ValidationException.class).hasMessageContaining("message");
        assertThat(OrphanRemovalResult.of("o-1", "node-1", "ferry-v1", OrphanRemovalOutcome.DONE, "removed", AT)
                .keyNames()).containsExactly("node-1", "o-1");
    }
}
