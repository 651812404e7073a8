package io.ferry.csi;

import io.ferry.model.Names;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class CsiNamesTest {

    @Test
    void keepsValidNamesAsTheyAre() {
        assertThat(CsiNames.ferryName("pvc-0b6f1e52-2f4a-4c1e-9d0e-9a4e3c2b1a00")).isEqualTo("pvc-0b6f1e52-2f4a-4c1e-9d0e-9a4e3c2b1a00");
    }

    @Test
    void derivesAValidDeterministicNameFromAnyOther() {
        for (String csi : new String[] {"PVC_Upper", "a/b.c", "-leading", "x".repeat(200), "___", "Ü"}) {
            String name = CsiNames.ferryName(csi);
            assertThat(Names.isValidVolumeName(name)).as(csi + " -> " + name).isTrue();
            assertThat(CsiNames.ferryName(csi)).isEqualTo(name);
        }
        assertThat(CsiNames.ferryName("A_b")).isNotEqualTo(CsiNames.ferryName("A.b"));
    }

    @Test
    void recognisesItsOwnOrigin() {
        assertThat(CsiNames.sameOrigin(CsiNames.createdBy("X"), "X")).isTrue();
        assertThat(CsiNames.sameOrigin(CsiNames.createdBy("Y"), "X")).isFalse();
        assertThat(CsiNames.sameOrigin("ferryctl", "X")).isTrue();
    }
}
