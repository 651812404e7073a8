package io.ferry.csi;

import io.ferry.model.Engine;
import io.ferry.model.FailureDomainLevel;
import io.ferry.model.Layout;
import io.ferry.model.PositionAdvice;
import io.ferry.model.ValidationException;
import java.util.HashMap;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class StorageClassParametersTest {

    @Test
    void parsesEveryParameter() {
        StorageClassParameters p = StorageClassParameters.parse(Map.of("poolSelector", "media=nvme, zone=z1",
                "nodeSelector", "rack=r7", "thin", "true", "engine", "lvm-thin", "positionAdvice", "MustLocal",
                "spreadGroup", "mysql-a", "failureDomainLevel", "rack", "fsType", "XFS", "mkfsOptions", "-m reflink=0",
                "csi.storage.k8s.io/pvc/name", "data-0"));
        assertThat(p.poolSelector()).isEqualTo(Map.of("media", "nvme", "zone", "z1"));
        assertThat(p.nodeSelector()).isEqualTo(Map.of("rack", "r7"));
        assertThat(p.thin()).isTrue();
        assertThat(p.engine()).isEqualTo(Engine.LVM_THIN);
        assertThat(p.positionAdvice()).isEqualTo(PositionAdvice.MUST_LOCAL);
        assertThat(p.spreadGroup()).isEqualTo("mysql-a");
        assertThat(p.failureDomainLevel()).isEqualTo(FailureDomainLevel.RACK);
        assertThat(p.fsType()).isEqualTo("xfs");
        assertThat(p.mkfsOptions()).containsExactly("-m", "reflink=0");
    }

    @Test
    void derivesTheSpreadGroupOfAStatefulSetClaimTemplate() {
        Map<String, String> base = Map.of("spreadGroup", "statefulset", "csi.storage.k8s.io/pvc/namespace", "db");
        String a = StorageClassParameters.parse(with(base, "csi.storage.k8s.io/pvc/name", "data-mysql-0")).spreadGroup();
        String b = StorageClassParameters.parse(with(base, "csi.storage.k8s.io/pvc/name", "data-mysql-1")).spreadGroup();
        assertThat(a).isEqualTo(b).isEqualTo("db-data-mysql");
        assertThatThrownBy(() -> StorageClassParameters.parse(Map.of("spreadGroup", "statefulset")))
                .isInstanceOf(ValidationException.class).hasMessageContaining("extra-create-metadata");
    }

    @Test
    void refusesUnknownKeysAndBadValues() {
        assertThatThrownBy(() -> StorageClassParameters.parse(Map.of("thinn", "true"))).hasMessageContaining("thinn");
        assertThatThrownBy(() -> StorageClassParameters.parse(Map.of("thin", "yes"))).hasMessageContaining("thin");
        assertThatThrownBy(() -> StorageClassParameters.parse(Map.of("poolSelector", "novalue"))).hasMessageContaining("key=value");
        assertThatThrownBy(() -> StorageClassParameters.parse(Map.of("engine", "zfs"))).isInstanceOf(ValidationException.class);
    }

    @Test
    void readsTheLayoutAndItsPartCountIntoTheIntent() {
        StorageClassParameters single = StorageClassParameters.parse(Map.of());
        assertThat(single.layout()).isEqualTo(Layout.SINGLE);
        assertThat(single.parts()).isEqualTo(1);
        StorageClassParameters mirror = StorageClassParameters.parse(Map.of("layout", "Mirror"));
        assertThat(mirror.layout()).isEqualTo(Layout.MIRROR);
        assertThat(mirror.parts()).as("the layout's default count").isEqualTo(2);
        assertThat(StorageClassParameters.parse(Map.of("layout", "linear")).parts())
                .as("a linear class without a count may still span two pools, as the intent's default").isEqualTo(2);
        StorageClassParameters linear = StorageClassParameters.parse(Map.of("layout", "linear", "parts", " 4 "));
        assertThat(linear.intent("v", 1L << 30).build()).satisfies(i -> {
            assertThat(i.layout()).isEqualTo(Layout.LINEAR);
            assertThat(i.parts()).isEqualTo(4);
        });
    }

    @Test
    void refusesALayoutOrPartCountItCannotMakeNamingTheParameter() {
        assertThatThrownBy(() -> StorageClassParameters.parse(Map.of("layout", "raid5")))
                .isInstanceOf(ValidationException.class).hasMessageContaining("layout");
        assertThatThrownBy(() -> StorageClassParameters.parse(Map.of("layout", "striped", "parts", "5")))
                .isInstanceOf(ValidationException.class)
                .hasMessage("parts: a striped volume has 2 to 4 parts, not 5");
        assertThatThrownBy(() -> StorageClassParameters.parse(Map.of("layout", "mirror", "parts", "4")))
                .isInstanceOf(ValidationException.class)
                .hasMessage("parts: a mirror volume has 2 to 3 parts, not 4");
        assertThatThrownBy(() -> StorageClassParameters.parse(Map.of("parts", "2")))
                .isInstanceOf(ValidationException.class)
                .hasMessage("parts: a single volume has exactly 1 part (set layout to linear, striped or mirror for more), not 2");
        assertThatThrownBy(() -> StorageClassParameters.parse(Map.of("layout", "linear", "parts", "two")))
                .isInstanceOf(ValidationException.class).hasMessage("parts: 'two' is not a whole number");
    }

    private static Map<String, String> with(Map<String, String> base, String k, String v) {
        var m = new HashMap<>(base);
        m.put(k, v);
        return m;
    }
}
