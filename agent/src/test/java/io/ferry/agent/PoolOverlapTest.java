package io.ferry.agent;

import static org.assertj.core.api.Assertions.assertThat;

import io.ferry.model.Engine;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolSource;
import java.util.List;
import org.junit.jupiter.api.Test;

class PoolOverlapTest {

    private static PoolConfig pool(String name, String node, Engine engine, PoolSource source) {
        return PoolConfig.builder(name, node, engine, source).build();
    }

    @Test
    void twoPoolsOfOneNodeOnTheSameStorageAreBothRefused() {
        PoolConfig vg1 = pool("a", "n1", Engine.LVM, PoolSource.volumeGroup("vg0"));
        PoolConfig vg2 = pool("b", "n1", Engine.LVM, PoolSource.volumeGroup("vg0"));
        assertThat(PoolOverlap.find(vg1, List.of(vg1, vg2))).hasValueSatisfying(r -> assertThat(r).contains("vg0", "b"));
        assertThat(PoolOverlap.find(vg2, List.of(vg1, vg2))).hasValueSatisfying(r -> assertThat(r).contains("a"));

        PoolConfig thin1 = pool("t1", "n1", Engine.LVM_THIN, PoolSource.thinPool("vg0", "tp"));
        PoolConfig thin2 = pool("t2", "n1", Engine.LVM_THIN, PoolSource.thinPool("vg0", "tp"));
        assertThat(PoolOverlap.find(thin1, List.of(thin1, thin2))).isPresent();

        PoolConfig lvs1 = pool("s1", "n1", Engine.SPDK, PoolSource.lvstore("lvs"));
        PoolConfig lvs2 = pool("s2", "n1", Engine.SPDK, PoolSource.lvstore("lvs"));
        assertThat(PoolOverlap.find(lvs1, List.of(lvs1, lvs2))).isPresent();

        PoolConfig outer = pool("f1", "n1", Engine.FILE, PoolSource.directory("/srv/ferry"));
        PoolConfig inner = pool("f2", "n1", Engine.FILE, PoolSource.directory("/srv/ferry/inner/"));
        assertThat(PoolOverlap.find(inner, List.of(outer, inner))).hasValueSatisfying(r ->
                assertThat(r).contains("/srv/ferry", "f1"));
    }

    @Test
    void distinctStorageOrAnotherNodeIsNoOverlap() {
        PoolConfig thick = pool("a", "n1", Engine.LVM, PoolSource.volumeGroup("vg0"));
        PoolConfig thin = pool("t", "n1", Engine.LVM_THIN, PoolSource.thinPool("vg0", "tp"));
        PoolConfig otherThin = pool("t2", "n1", Engine.LVM_THIN, PoolSource.thinPool("vg0", "tp2"));
        PoolConfig elsewhere = pool("c", "n2", Engine.LVM, PoolSource.volumeGroup("vg0"));
        PoolConfig sibling = pool("f1", "n1", Engine.FILE, PoolSource.directory("/srv/ferry-a"));
        PoolConfig sibling2 = pool("f2", "n1", Engine.FILE, PoolSource.directory("/srv/ferry-ab"));
        List<PoolConfig> all = List.of(thick, thin, otherThin, elsewhere, sibling, sibling2);
        for (PoolConfig p : all) {
            assertThat(PoolOverlap.find(p, all)).as(p.name()).isEmpty();
        }
    }
}
