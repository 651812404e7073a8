package io.ferry.agent.spdk;

import io.ferry.agent.engine.Content;
import io.ferry.agent.engine.EngineException;
import io.ferry.agent.engine.LocalSnapshot;
import io.ferry.agent.engine.LocalVolume;
import io.ferry.agent.engine.PoolState;
import io.ferry.agent.engine.SpdkEngine;
import io.ferry.model.Engine;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@link SpdkEngine} against {@link FakeSpdk}: exact requests, and what the model holds afterwards. */
class SpdkEngineTest {

    static final long MIB = 1L << 20;

    @TempDir
    Path dir;
    FakeSpdk spdk;
    SpdkEngine engine;
    PoolConfig pool = PoolConfig.builder("fast", "node-1", Engine.SPDK, PoolSource.lvstore("lvs0").withBdev("Malloc0"))
            .prepare(true).build();

    @BeforeEach
    void start() throws IOException {
        Path socket = dir.resolve("spdk.sock");
        spdk = new FakeSpdk(socket);
        engine = new SpdkEngine(new SpdkClient(socket, Duration.ofSeconds(5)), socket, Duration.ZERO);
    }

    @AfterEach
    void stop() throws IOException {
        spdk.close();
    }

    @Test
    void isAvailableOnlyWhenTheSocketExistsAndAnswersGetVersion() {
        assertThat(engine.available()).isTrue();
        assertThat(spdk.methods()).containsExactly("spdk_get_version");
        assertThat(spdk.requests.get(0).has("params")).isFalse();

        Path absent = dir.resolve("absent.sock");
        assertThat(new SpdkEngine(new SpdkClient(absent, Duration.ofSeconds(1)), absent, Duration.ZERO).available())
                .isFalse();
        assertThat(new SpdkEngine(null, null, Duration.ZERO).available()).isFalse();
    }

    @Test
    void preparesTheLvstoreOnceAndMeasuresItInClusters() {
        assertThat(engine.poolState(pool).healthy()).isFalse();
        engine.preparePool(pool);
        assertThat(spdk.only("bdev_lvol_create_lvstore").toString())
                .isEqualTo("{\"bdev_name\":\"Malloc0\",\"lvs_name\":\"lvs0\"}");
        spdk.clear();
        engine.preparePool(pool);
        assertThat(spdk.mutations()).isEmpty();

        PoolState state = engine.poolState(pool);
        assertThat(state.healthy()).isTrue();
        assertThat(state.capacityBytes()).isEqualTo(255 * 4 * MIB);
        engine.createVolume(pool, "thick", 10 * MIB, false, Content.EMPTY);
        assertThat(engine.poolState(pool).freeBytes()).isEqualTo((255 - 3) * 4 * MIB);
        assertThat(spdk.requests).filteredOn(r -> r.path("method").asText().equals("bdev_lvol_get_lvstores"))
                .allMatch(r -> r.path("params").toString().equals("{\"lvs_name\":\"lvs0\"}"));
    }

    @Test
    void refusesToCreateAnLvstoreWithoutPrepare() {
        PoolConfig existingOnly = PoolConfig.builder("fast", "node-1", Engine.SPDK, PoolSource.lvstore("lvs0")).build();
        assertThatThrownBy(() -> engine.preparePool(existingOnly)).isInstanceOf(EngineException.class)
                .hasMessageContaining("does not set prepare");
        assertThat(spdk.mutations()).isEmpty();
    }

    @Test
    void createsInventoriesSnapshotsClonesGrowsAndDeletes() {
        engine.preparePool(pool);
        spdk.clear();

        LocalVolume v1 = engine.createVolume(pool, "v1", 10 * MIB, true, Content.EMPTY);
        assertThat(spdk.only("bdev_lvol_create").toString()).isEqualTo(
                "{\"lvol_name\":\"v1\",\"size_in_mib\":10,\"lvs_name\":\"lvs0\",\"thin_provision\":true}");
        assertThat(v1).isEqualTo(new LocalVolume("v1", 12 * MIB, null));
        spdk.clear();
        assertThat(engine.createVolume(pool, "v1", 10 * MIB, true, Content.EMPTY)).isEqualTo(v1);
        assertThat(spdk.mutations()).as("an existing lvol is adopted, not created twice").isEmpty();
        assertThat(engine.exportSource(pool, v1)).isEqualTo("lvs0/v1");

        LocalSnapshot s1 = engine.createSnapshot(pool, "s1", "v1");
        assertThat(spdk.only("bdev_lvol_snapshot").toString())
                .isEqualTo("{\"lvol_name\":\"lvs0/v1\",\"snapshot_name\":\"s1.snap\"}");
        assertThat(s1.name()).isEqualTo("s1");
        assertThat(s1.sizeBytes()).isEqualTo(12 * MIB);

        spdk.clear();
        LocalVolume v2 = engine.createVolume(pool, "v2", 20 * MIB, true, Content.ofSnapshot("s1"));
        assertThat(spdk.only("bdev_lvol_clone").toString())
                .isEqualTo("{\"snapshot_name\":\"lvs0/s1.snap\",\"clone_name\":\"v2\"}");
        assertThat(spdk.only("bdev_lvol_resize").toString()).isEqualTo("{\"name\":\"lvs0/v2\",\"size_in_mib\":20}");
        assertThat(v2.sizeBytes()).isEqualTo(20 * MIB);

        spdk.clear();
        engine.createVolume(pool, "v3", 12 * MIB, true, Content.ofVolume("v1"));
        assertThat(spdk.mutations()).containsExactly("bdev_lvol_snapshot", "bdev_lvol_clone");
        assertThat(spdk.only("bdev_lvol_snapshot").toString())
                .isEqualTo("{\"lvol_name\":\"lvs0/v1\",\"snapshot_name\":\"v3.origin\"}");
        assertThat(spdk.only("bdev_lvol_clone").toString())
                .isEqualTo("{\"snapshot_name\":\"lvs0/v3.origin\",\"clone_name\":\"v3\"}");

        spdk.clear();
        assertThat(engine.expandVolume(pool, "v1", 100 * MIB, true).sizeBytes()).isEqualTo(100 * MIB);
        assertThat(spdk.only("bdev_lvol_resize").toString()).isEqualTo("{\"name\":\"lvs0/v1\",\"size_in_mib\":100}");
        spdk.clear();
        engine.expandVolume(pool, "v1", 50 * MIB, true);
        assertThat(spdk.mutations()).as("never shrinks").isEmpty();

        var inv = engine.inventory(pool);
        assertThat(inv.volumes()).extracting(LocalVolume::name).containsExactlyInAnyOrder("v1", "v2", "v3");
        assertThat(inv.snapshots()).extracting(LocalSnapshot::name).containsExactly("s1");
        assertThat(inv.leftovers()).isEmpty();

        spdk.clear();
        engine.deleteVolume(pool, "v3");
        assertThat(spdk.mutations()).containsExactly("bdev_lvol_delete", "bdev_lvol_delete");
        assertThat(spdk.requests.stream().filter(r -> r.path("method").asText().equals("bdev_lvol_delete"))
                .map(r -> r.path("params").path("name").asText())).containsExactly("lvs0/v3", "lvs0/v3.origin");
        spdk.clear();
        engine.deleteVolume(pool, "v3");
        assertThat(spdk.mutations()).as("deleting what is gone is done").isEmpty();

        engine.deleteVolume(pool, "v2");
        engine.deleteSnapshot(pool, "s1");
        engine.deleteSnapshot(pool, "s1");
        engine.deleteVolume(pool, "v1");
        assertThat(engine.inventory(pool)).isEqualTo(io.ferry.agent.engine.Inventory.empty());
        assertThat(spdk.lvols).isEmpty();
        assertThat(spdk.requests).allMatch(r -> SpdkClientTest.check(r) == null);
    }

    @Test
    void reportsTheOriginOfACloneWhoseVolumeIsGoneAsALeftover() {
        engine.preparePool(pool);
        engine.createVolume(pool, "v1", 4 * MIB, true, Content.EMPTY);
        engine.createVolume(pool, "v3", 4 * MIB, true, Content.ofVolume("v1"));
        // A crash between deleting the clone and its origin.
        new SpdkClient(dir.resolve("spdk.sock"), Duration.ofSeconds(5)).deleteLvol("lvs0/v3");
        assertThat(engine.inventory(pool).leftovers()).containsExactly("v3.origin");
        engine.removeLeftover(pool, "v3.origin");
        assertThat(engine.inventory(pool).leftovers()).isEmpty();
        assertThat(engine.findVolume(pool, "v1")).isPresent();
    }

    @Test
    void failsCleanlyWhenTheSourceSnapshotIsMissing() {
        engine.preparePool(pool);
        assertThatThrownBy(() -> engine.createVolume(pool, "v9", 4 * MIB, true, Content.ofSnapshot("nope")))
                .isInstanceOf(EngineException.class).hasMessageContaining("snapshot nope does not exist");
    }

    @Test
    void keepsLongNamesWithinSpdksLimitDeterministically() {
        String longName = "a".repeat(63);
        assertThat(SpdkEngine.volumeLvol(longName)).isEqualTo(longName);
        String snap = SpdkEngine.snapshotLvol(longName);
        assertThat(snap).hasSizeLessThanOrEqualTo(63).endsWith(".snap").isEqualTo(SpdkEngine.snapshotLvol(longName));
        assertThat(SpdkEngine.snapshotLvol("a".repeat(62) + "b")).isNotEqualTo(snap);
    }

    @Test
    void anLvolCarriesNoClusterMarkerYetSoAnOrphanOrderNeverRemovesIt() {
        engine.preparePool(pool);
        engine.createVolume(pool, "left", 8 * MIB, true, Content.EMPTY);
        spdk.clear();
        assertThat(engine.owner(pool, "left")).contains(io.ferry.model.OrphanOwner.UNMARKED);
        assertThat(engine.owner(pool, "absent")).isEmpty();
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> engine.removeOrphan(pool, "left"))
                .isInstanceOf(io.ferry.agent.engine.EngineException.class).hasMessageContaining("lvs0/left");
        assertThat(spdk.mutations()).isEmpty();
        assertThat(engine.findVolume(pool, "left")).isPresent();
    }
}
