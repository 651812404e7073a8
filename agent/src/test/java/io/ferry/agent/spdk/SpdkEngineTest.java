package io.ferry.agent.spdk;

import io.ferry.agent.engine.Content;
import io.ferry.agent.engine.EngineException;
import io.ferry.agent.engine.Inventory;
import io.ferry.agent.engine.LocalSnapshot;
import io.ferry.agent.engine.LocalVolume;
import io.ferry.agent.engine.PoolState;
import io.ferry.agent.engine.SpdkEngine;
import io.ferry.agent.export.SpdkExporter;
import io.ferry.model.Engine;
import io.ferry.model.ExportSpec;
import io.ferry.model.OrphanOwner;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolSource;
import java.util.Set;
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
    static final String CLUSTER = "0b6c1e2a-0000-4000-8000-000000000001";
    static final String OTHER_CLUSTER = "0b6c1e2a-0000-4000-8000-000000000002";
    /** This cluster's lvol name prefix. */
    static final String MARK = SpdkEngine.marker(CLUSTER) + "_";
    static final String OTHER_MARK = SpdkEngine.marker(OTHER_CLUSTER) + "_";

    @TempDir
    Path dir;
    FakeSpdk spdk;
    SpdkEngine engine;
    SpdkClient client;
    PoolConfig pool = PoolConfig.builder("fast", "node-1", Engine.SPDK, PoolSource.lvstore("lvs0").withBdev("Malloc0"))
            .prepare(true).build();

    @BeforeEach
    void start() throws IOException {
        Path socket = dir.resolve("spdk.sock");
        spdk = new FakeSpdk(socket);
        client = new SpdkClient(socket, Duration.ofSeconds(5));
        engine = new SpdkEngine(client, socket, Duration.ZERO);
        engine.bindCluster(CLUSTER);
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
                "{\"lvol_name\":\"" + MARK + "v1\",\"size_in_mib\":10,\"lvs_name\":\"lvs0\",\"thin_provision\":true}");
        assertThat(v1).isEqualTo(new LocalVolume("v1", 12 * MIB, null));
        spdk.clear();
        assertThat(engine.createVolume(pool, "v1", 10 * MIB, true, Content.EMPTY)).isEqualTo(v1);
        assertThat(spdk.mutations()).as("an existing lvol is adopted, not created twice").isEmpty();
        assertThat(engine.exportSource(pool, v1)).isEqualTo("lvs0/" + MARK + "v1");

        LocalSnapshot s1 = engine.createSnapshot(pool, "s1", "v1");
        assertThat(spdk.only("bdev_lvol_snapshot").toString())
                .isEqualTo("{\"lvol_name\":\"lvs0/" + MARK + "v1\",\"snapshot_name\":\"" + MARK + "s1.snap\"}");
        assertThat(s1.name()).isEqualTo("s1");
        assertThat(s1.sizeBytes()).isEqualTo(12 * MIB);

        spdk.clear();
        LocalVolume v2 = engine.createVolume(pool, "v2", 20 * MIB, true, Content.ofSnapshot("s1"));
        assertThat(spdk.only("bdev_lvol_clone").toString())
                .isEqualTo("{\"snapshot_name\":\"lvs0/" + MARK + "s1.snap\",\"clone_name\":\"" + MARK + "v2\"}");
        assertThat(spdk.only("bdev_lvol_resize").toString()).isEqualTo("{\"name\":\"lvs0/" + MARK + "v2\",\"size_in_mib\":20}");
        assertThat(v2.sizeBytes()).isEqualTo(20 * MIB);

        spdk.clear();
        engine.createVolume(pool, "v3", 12 * MIB, true, Content.ofVolume("v1"));
        assertThat(spdk.mutations()).containsExactly("bdev_lvol_snapshot", "bdev_lvol_clone");
        assertThat(spdk.only("bdev_lvol_snapshot").toString())
                .isEqualTo("{\"lvol_name\":\"lvs0/" + MARK + "v1\",\"snapshot_name\":\"" + MARK + "v3.origin\"}");
        assertThat(spdk.only("bdev_lvol_clone").toString())
                .isEqualTo("{\"snapshot_name\":\"lvs0/" + MARK + "v3.origin\",\"clone_name\":\"" + MARK + "v3\"}");

        spdk.clear();
        assertThat(engine.expandVolume(pool, "v1", 100 * MIB, true).sizeBytes()).isEqualTo(100 * MIB);
        assertThat(spdk.only("bdev_lvol_resize").toString()).isEqualTo("{\"name\":\"lvs0/" + MARK + "v1\",\"size_in_mib\":100}");
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
                .map(r -> r.path("params").path("name").asText())).containsExactly("lvs0/" + MARK + "v3", "lvs0/" + MARK + "v3.origin");
        spdk.clear();
        engine.deleteVolume(pool, "v3");
        assertThat(spdk.mutations()).as("deleting what is gone is done").isEmpty();

        engine.deleteVolume(pool, "v2");
        engine.deleteSnapshot(pool, "s1");
        engine.deleteSnapshot(pool, "s1");
        engine.deleteVolume(pool, "v1");
        assertThat(engine.inventory(pool)).isEqualTo(Inventory.empty());
        assertThat(spdk.lvols).isEmpty();
        assertThat(spdk.requests).allMatch(r -> SpdkClientTest.check(r) == null);
    }

    @Test
    void reportsTheOriginOfACloneWhoseVolumeIsGoneAsALeftover() {
        engine.preparePool(pool);
        engine.createVolume(pool, "v1", 4 * MIB, true, Content.EMPTY);
        engine.createVolume(pool, "v3", 4 * MIB, true, Content.ofVolume("v1"));
        // A crash between deleting the clone and its origin.
        client.deleteLvol("lvs0/" + MARK + "v3");
        assertThat(engine.inventory(pool).leftovers()).containsExactly(MARK + "v3.origin");
        engine.removeLeftover(pool, MARK + "v3.origin");
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
    void markedNamesStayWithinSpdksLimitAndAKubernetesSnapshotNameFitsWhole() {
        assertThat(MARK).hasSize(13).matches("[0-9a-f]{12}_");
        assertThat(SpdkEngine.marker(CLUSTER)).isNotEqualTo(SpdkEngine.marker(OTHER_CLUSTER));
        engine.preparePool(pool);
        String k8sSnapshot = "snapshot-6c1f2a64-8b8e-4d62-9d0e-0f1b5e0c1a77";
        engine.createVolume(pool, "pvc-0b6f0c1e-2f0a-4a57-8a3e-3a1c2d4e5f60", 4 * MIB, true, Content.EMPTY);
        engine.createSnapshot(pool, k8sSnapshot, "pvc-0b6f0c1e-2f0a-4a57-8a3e-3a1c2d4e5f60");
        assertThat(spdk.lvols.values()).extracting(l -> l.name).containsExactlyInAnyOrder(
                MARK + "pvc-0b6f0c1e-2f0a-4a57-8a3e-3a1c2d4e5f60", MARK + k8sSnapshot + ".snap");
        assertThat(engine.inventory(pool).snapshots()).extracting(LocalSnapshot::name).containsExactly(k8sSnapshot);

        // Longer names are shortened with a hash, marker kept, and accepted by SPDK's limit.
        String longName = "a".repeat(63);
        engine.createVolume(pool, longName, 4 * MIB, true, Content.EMPTY);
        assertThat(spdk.lvols.values()).extracting(l -> l.name)
                .anyMatch(n -> n.startsWith(MARK + "aaa") && n.length() == 63);
        assertThat(engine.findVolume(pool, longName)).isPresent();
    }

    @Test
    void nothingIsCreatedListedOrRemovedBeforeTheClusterIdIsKnown() {
        SpdkEngine unbound = new SpdkEngine(client, dir.resolve("spdk.sock"), Duration.ZERO);
        engine.preparePool(pool);
        spdk.clear();
        assertThatThrownBy(() -> unbound.createVolume(pool, "v1", 4 * MIB, true, Content.EMPTY))
                .isInstanceOf(EngineException.class).hasMessageContaining("cluster id");
        assertThatThrownBy(() -> unbound.inventory(pool)).isInstanceOf(EngineException.class);
        assertThatThrownBy(() -> unbound.removeOrphan(pool, "v1")).isInstanceOf(EngineException.class);
        assertThat(spdk.mutations()).isEmpty();
    }

    @Test
    void anLvolOfAnotherClusterIsNeverAdoptedChangedOrRemovedAndIsReportedAsItsOrphan() {
        engine.preparePool(pool);
        String theirs = client.createLvol("lvs0", OTHER_MARK + "v1", 8 * MIB, true);
        client.snapshotLvol("lvs0/" + OTHER_MARK + "v1", OTHER_MARK + "s1.snap");
        client.createLvol("lvs0", OTHER_MARK + "lone", 4 * MIB, true);
        spdk.clear();

        assertThat(engine.findVolume(pool, "v1")).as("never adopted").isEmpty();
        assertThat(engine.findSnapshot(pool, "s1")).isEmpty();
        Inventory inv = engine.inventory(pool);
        assertThat(inv.volumes()).isEmpty();
        assertThat(inv.snapshots()).isEmpty();
        assertThat(inv.leftovers()).isEmpty();
        assertThat(inv.unowned()).containsExactlyInAnyOrder(
                new Inventory.Unowned("v1", 8 * MIB, OrphanOwner.OTHER_CLUSTER, SpdkEngine.marker(OTHER_CLUSTER)),
                new Inventory.Unowned("lone", 4 * MIB, OrphanOwner.OTHER_CLUSTER, SpdkEngine.marker(OTHER_CLUSTER)));
        assertThat(engine.owner(pool, "lone")).contains(OrphanOwner.OTHER_CLUSTER);
        assertThatThrownBy(() -> engine.removeOrphan(pool, "lone")).isInstanceOf(EngineException.class)
                .hasMessageContaining("another cluster's marker");
        assertThat(spdk.mutations()).as("looking changes nothing").isEmpty();

        // A volume of the same name gets this cluster's own lvol beside theirs.
        engine.createVolume(pool, "v1", 20 * MIB, true, Content.EMPTY);
        assertThat(spdk.mutations()).containsExactly("bdev_lvol_create");
        assertThat(spdk.only("bdev_lvol_create").path("lvol_name").asText()).isEqualTo(MARK + "v1");
        assertThat(engine.owner(pool, "v1")).contains(OrphanOwner.THIS_CLUSTER);
        engine.expandVolume(pool, "v1", 40 * MIB, true);
        engine.createSnapshot(pool, "s1", "v1");
        engine.deleteSnapshot(pool, "s1");
        engine.deleteVolume(pool, "v1");
        engine.deleteVolume(pool, "lone");
        engine.deleteSnapshot(pool, "s1");
        assertThat(spdk.requests).filteredOn(r -> !r.path("method").asText().contains("_get_"))
                .allMatch(r -> !r.path("params").toString().contains(OTHER_MARK), "no call names their lvols");
        assertThat(spdk.lvols.values()).extracting(l -> l.name)
                .containsExactlyInAnyOrder(OTHER_MARK + "v1", OTHER_MARK + "s1.snap", OTHER_MARK + "lone");
        assertThat(spdk.lvols.get(theirs).size).isEqualTo(8 * MIB);
    }

    @Test
    void anLvolMadeBeforeClusterIdsIsRenamedWhenAWorkItemUsesItAndIsOtherwiseAnUnmarkedOrphanNeverRemoved() {
        engine.preparePool(pool);
        String old = client.createLvol("lvs0", "old", 8 * MIB, true);
        client.createLvol("lvs0", "kept", 4 * MIB, true);
        client.snapshotLvol("lvs0/old", "s0.snap");
        spdk.clear();

        Inventory inv = engine.inventory(pool);
        assertThat(inv.volumes()).isEmpty();
        assertThat(inv.unowned()).containsExactlyInAnyOrder(
                new Inventory.Unowned("old", 8 * MIB, OrphanOwner.UNMARKED, null),
                new Inventory.Unowned("kept", 4 * MIB, OrphanOwner.UNMARKED, null));
        assertThat(engine.owner(pool, "kept")).contains(OrphanOwner.UNMARKED);
        assertThatThrownBy(() -> engine.removeOrphan(pool, "kept")).isInstanceOf(EngineException.class)
                .hasMessageContaining("lvs0/kept carries no cluster marker");
        assertThat(spdk.mutations()).as("an unmarked lvol nobody names is left as it is").isEmpty();

        // A work item of this cluster uses it: renamed once, same bdev (UUID), same data.
        assertThat(engine.findVolume(pool, "old")).contains(new LocalVolume("old", 8 * MIB, null));
        assertThat(spdk.only("bdev_lvol_rename").toString())
                .isEqualTo("{\"old_name\":\"lvs0/old\",\"new_name\":\"" + MARK + "old\"}");
        assertThat(spdk.lvols.get(old).name).isEqualTo(MARK + "old");
        spdk.clear();
        engine.activate(pool, "old");
        assertThat(spdk.mutations()).as("renamed only once").isEmpty();
        assertThat(engine.inventory(pool).volumes()).extracting(LocalVolume::name).containsExactly("old");
        assertThat(engine.owner(pool, "old")).contains(OrphanOwner.THIS_CLUSTER);

        // Its snapshot of before cluster ids cannot be renamed (read-only) and is used by its old name.
        assertThat(engine.findSnapshot(pool, "s0")).isPresent();
        spdk.clear();
        engine.createVolume(pool, "from-s0", 8 * MIB, true, Content.ofSnapshot("s0"));
        assertThat(spdk.only("bdev_lvol_clone").toString())
                .isEqualTo("{\"snapshot_name\":\"lvs0/s0.snap\",\"clone_name\":\"" + MARK + "from-s0\"}");
        engine.deleteVolume(pool, "from-s0");
        engine.deleteSnapshot(pool, "s0");
        assertThat(spdk.lvols.values()).extracting(l -> l.name).containsExactlyInAnyOrder(MARK + "old", "kept");

        // A deletion order for a volume still named as before cluster ids removes it.
        client.createLvol("lvs0", "gone", 4 * MIB, true);
        engine.deleteVolume(pool, "gone");
        assertThat(spdk.lvols.values()).extracting(l -> l.name).containsExactlyInAnyOrder(MARK + "old", "kept");
    }

    @Test
    void anExportOfAVolumeMadeBeforeClusterIdsKeepsServingTheSameBdevAfterTheRename() {
        engine.preparePool(pool);
        String uuid = client.createLvol("lvs0", "old", 8 * MIB, true);
        SpdkExporter exporter = new SpdkExporter(client,
                "nqn.2026-11.io.ferry", CLUSTER, "10.0.1.11", 4421, () -> true);
        ExportSpec spec = ExportSpec.tcp("node-2",
                Set.of("nqn.2014-08.org.nvmexpress:uuid:6c1f2a64-8b8e-4d62-9d0e-0f1b5e0c1a77"));
        String nqn = exporter.export("old", "lvs0/old", 8 * MIB, spec).nqn();

        LocalVolume v = engine.activate(pool, "old");
        assertThat(engine.exportSource(pool, v)).isEqualTo("lvs0/" + MARK + "old");
        spdk.clear();
        exporter.export("old", engine.exportSource(pool, v), v.sizeBytes(), spec);
        assertThat(spdk.mutations()).as("the namespace already serves that bdev").isEmpty();
        assertThat(spdk.subsystems.get(nqn).namespaces).containsEntry(1, uuid);
    }

    @Test
    void anOrphanOrderRemovesOnlyThisClustersLvolAndItsOriginGoesAsALeftover() {
        engine.preparePool(pool);
        engine.createVolume(pool, "src", 8 * MIB, true, Content.EMPTY);
        engine.createVolume(pool, "left", 8 * MIB, true, Content.ofVolume("src"));
        spdk.clear();
        assertThat(engine.owner(pool, "left")).contains(OrphanOwner.THIS_CLUSTER);
        assertThat(engine.owner(pool, "absent")).isEmpty();
        engine.removeOrphan(pool, "left");
        assertThat(spdk.mutations()).containsExactly("bdev_lvol_delete");
        assertThat(spdk.only("bdev_lvol_delete").path("name").asText()).isEqualTo("lvs0/" + MARK + "left");
        assertThat(engine.inventory(pool).leftovers()).containsExactly(MARK + "left.origin");
        engine.removeLeftover(pool, MARK + "left.origin");
        assertThat(spdk.lvols.values()).extracting(l -> l.name).containsExactly(MARK + "src");
        assertThatThrownBy(() -> engine.removeLeftover(pool, "src.origin"))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> engine.removeOrphan(pool, "left")).isInstanceOf(EngineException.class)
                .hasMessageContaining("never removed by Ferry");
    }
}
