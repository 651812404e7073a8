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

    static final String CLUSTER = "3f2c9a1e-5b7d-4c2a-9e61-0d8f4b2a7c10";

    @Test
    void buildsVolumeNqnsThatAlwaysFitAndCarryTheClusterId() {
        assertThat(Nqn.forVolume("nqn.2026-11.io.ferry", CLUSTER, "data-1"))
                .isEqualTo("nqn.2026-11.io.ferry:" + CLUSTER + ":vol:data-1");
        String longestPrefix = "nqn.2026-11.io." + "f".repeat(Nqn.MAX_PREFIX_LENGTH - 15);
        String longestCluster = "c".repeat(64);
        assertThat(Nqn.validate(Nqn.forVolume(longestPrefix, longestCluster, "v".repeat(63)))).hasSize(223);
        assertThatThrownBy(() -> Nqn.forVolume(longestPrefix + "f", CLUSTER, "v")).hasMessageContaining("limit is 90");
        assertThatThrownBy(() -> Nqn.forVolume("nqn.2026-11.io.ferry", CLUSTER, "Bad"))
                .isInstanceOf(ValidationException.class);
        assertThatThrownBy(() -> Nqn.forVolume("nqn.2026-11.io.ferry", "x:vol:y", "data-1"))
                .isInstanceOf(ValidationException.class);
        assertThat(Nqn.legacyForVolume("nqn.2026-11.io.ferry", "data-1")).isEqualTo("nqn.2026-11.io.ferry:vol:data-1");
    }

    @Test
    void parsesBothFormsAndNothingElse() {
        String p = "nqn.2026-11.io.ferry";
        assertThat(Nqn.parse(p, Nqn.forVolume(p, CLUSTER, "data-1"))).contains(new Nqn.VolumeNqn(CLUSTER, "data-1"));
        assertThat(Nqn.parse(p, Nqn.legacyForVolume(p, "data-1"))).contains(new Nqn.VolumeNqn(null, "data-1"));
        for (String other : new String[] {"nqn.2026-11.io.ferryx:vol:data-1", "nqn.2014-08.org.nvmexpress:uuid:1",
                p + ":vol:Bad", p + ":" + CLUSTER + ":vol:", p + "::vol:data-1", p + ":UPPER-CASE-ID:vol:data-1",
                p + ":" + CLUSTER + ":data-1", p, null}) {
            assertThat(Nqn.parse(p, other)).as(String.valueOf(other)).isEmpty();
        }
    }

    @Test
    void serialIsDeterministicTwentyHexCharacters() {
        String s = Nqn.serialForVolume("data-1");
        assertThat(s).hasSize(20).matches("[0-9a-f]{20}").isEqualTo(Nqn.serialForVolume("data-1"));
        assertThat(Nqn.serialForVolume("data-2")).isNotEqualTo(s);
    }
}
