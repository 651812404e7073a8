package io.ferry.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class NqnTest {
    @ParameterizedTest
    @ValueSource(strings = {"nqn.2014-08.org.nvmexpress:uuid:6c1f2a64-8b8e-4d62-9d0e-0f1b5e0c1a77",
            "nqn.2026-11.io.ferry:vol:data-1", "nqn.1992-08.com.netapp:sn.0123:subsystem.x_y"})
    void acceptsRealWorldNqns(String nqn) {
        assertThat(Nqn.validate(nqn)).isEqualTo(nqn);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "iqn.2026-11.io.ferry", "nqn.io.ferry", "nqn.2026-11.io ferry", "nqn.2026-11.io/x",
            "nqn.2026-11.io;x", "nqn.2026-11.io$(x)", "nqn.2026-11.io`x`", "nqn.2026-11.io\"x", "nqn.2026-11.é"})
    void rejectsMalformedNqns(String nqn) {
        assertThat(Nqn.isValid(nqn)).isFalse();
    }

    @Test
    void limitsNqnsTo223Characters() {
        String base = "nqn.2026-11.io.ferry:";
        assertThat(Nqn.isValid(base + "a".repeat(223 - base.length()))).isTrue();
        assertThat(Nqn.isValid(base + "a".repeat(224 - base.length()))).isFalse();
    }

    @Test
    void buildsVolumeNqnsThatAlwaysFit() {
        assertThat(Nqn.forVolume("nqn.2026-11.io.ferry", "data-1")).isEqualTo("nqn.2026-11.io.ferry:vol:data-1");
        String longestPrefix = "nqn.2026-11.io." + "f".repeat(Nqn.MAX_PREFIX_LENGTH - 15);
        assertThat(Nqn.validate(Nqn.forVolume(longestPrefix, "v".repeat(63)))).hasSize(223);
        assertThatThrownBy(() -> Nqn.forVolume(longestPrefix + "f", "v")).hasMessageContaining("limit is 155");
        assertThatThrownBy(() -> Nqn.forVolume("nqn.2026-11.io.ferry", "Bad")).isInstanceOf(ValidationException.class);
    }

    @Test
    void serialIsDeterministicTwentyHexCharacters() {
        String s = Nqn.serialForVolume("data-1");
        assertThat(s).hasSize(20).matches("[0-9a-f]{20}").isEqualTo(Nqn.serialForVolume("data-1"));
        assertThat(Nqn.serialForVolume("data-2")).isNotEqualTo(s);
    }
}
