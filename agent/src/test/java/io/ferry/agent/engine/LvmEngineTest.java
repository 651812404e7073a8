package io.ferry.agent.engine;

import io.ferry.model.Engine;
import io.ferry.model.OrphanOwner;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolSource;
import io.ferry.runtime.exec.CommandResult;
import io.ferry.runtime.exec.FakeCommandRunner;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Command lines and report parsing of the LVM engines, on reports shaped like lvm2 2.03's
 * {@code --reportformat json} output. Real LVM runs in the VM testbed.
 */
class LvmEngineTest {

    static final List<String> LVS = List.of("lvs", "--reportformat", "json", "--units", "b", "--nosuffix", "-o",
            LvmEngine.LV_FIELDS);
    static final List<String> VGS = List.of("vgs", "--reportformat", "json", "--units", "b", "--nosuffix", "-o",
            LvmEngine.VG_FIELDS);

    static final String THIN_LVS = """
              {
                  "report": [
                      {
                          "lv": [
                              {"lv_name":"ferry-thin", "vg_name":"ferry-vg", "lv_size":"10737418240", "lv_tags":"ferry.cluster=ferry", "lv_path":"", "data_percent":"12.50", "metadata_percent":"3.91", "pool_lv":"", "lv_attr":"twi-aotz--"},
                              {"lv_name":"mysql-0-data", "vg_name":"ferry-vg", "lv_size":"1073741824", "lv_tags":"ferry.cluster=ferry,ferry.volume=mysql-0-data", "lv_path":"/dev/ferry-vg/mysql-0-data", "data_percent":"20.00", "metadata_percent":"", "pool_lv":"ferry-thin", "lv_attr":"Vwi-a-tz--"},
                              {"lv_name":"snap.snap-1", "vg_name":"ferry-vg", "lv_size":"1073741824", "lv_tags":"ferry.cluster=ferry,ferry.snapshot=snap-1,ferry.volume=mysql-0-data", "lv_path":"/dev/ferry-vg/snap.snap-1", "data_percent":"20.00", "metadata_percent":"", "pool_lv":"ferry-thin", "lv_attr":"Vri---tz-k"},
                              {"lv_name":"old-one", "vg_name":"ferry-vg", "lv_size":"4194304", "lv_tags":"ferry.cluster=other,ferry.volume=old-one", "lv_path":"/dev/ferry-vg/old-one", "data_percent":"0.00", "metadata_percent":"", "pool_lv":"ferry-thin", "lv_attr":"Vwi-a-tz--"},
                              {"lv_name":"home", "vg_name":"ferry-vg", "lv_size":"4194304", "lv_tags":"", "lv_path":"/dev/ferry-vg/home", "data_percent":"", "metadata_percent":"", "pool_lv":"", "lv_attr":"-wi-ao----"}
                          ]
                      }
                  ]
                  ,
                  "log": [
                  ]
              }
            """;

    static final String VGS_OUT = """
              {
                  "report": [
                      {
                          "vg": [
                              {"vg_name":"ferry-vg", "vg_size":"21470642176", "vg_free":"10724835328", "vg_extent_size":"4194304", "vg_missing_pv_count":"0"}
                          ]
                      }
                  ]
              }
            """;

    PoolConfig thinPool() {
        return PoolConfig.builder("pool-nvme0", "node-a", Engine.LVM_THIN, PoolSource.thinPool("ferry-vg", "ferry-thin"))
                .build();
    }

    PoolConfig thickPool() {
        return PoolConfig.builder("pool-hdd", "node-a", Engine.LVM, PoolSource.volumeGroup("ferry-vg")).build();
    }

    /** Tests of command lines bind the id "ferry", which is also their legacy name: no re-tagging. */
    LvmEngine engine(Engine kind, FakeCommandRunner fake) {
        LvmEngine engine = new LvmEngine(kind, fake, "ferry", Duration.ofSeconds(30), Duration.ofHours(1));
        engine.bindCluster("ferry");
        return engine;
    }

    @Test
    void parsesStringValuedReportsIncludingEmptyPercentages() {
        List<LvmReport.Lv> lvs = LvmReport.lvs(THIN_LVS);
        assertThat(lvs).hasSize(5);
        LvmReport.Lv pool = lvs.get(0);
        assertThat(pool.sizeBytes()).isEqualTo(10737418240L);
        assertThat(pool.dataPercent()).isEqualTo(12.5);
        assertThat(pool.metadataPercent()).isEqualTo(3.91);
        assertThat(pool.path()).isNull();
        assertThat(pool.active()).isTrue();
        LvmReport.Lv vol = lvs.get(1);
        assertThat(vol.tag("ferry.volume")).isEqualTo("mysql-0-data");
        assertThat(vol.metadataPercent()).isNull();
        assertThat(lvs.get(2).active()).isFalse();
        assertThat(LvmReport.vgs(VGS_OUT)).containsExactly(
                new LvmReport.Vg("ferry-vg", 21470642176L, 10724835328L, 4194304, 0));
    }

    @Test
    void parsesNumberValuedReportsToo() {
        assertThat(LvmReport.vgs("{\"report\":[{\"vg\":[{\"vg_name\":\"v\",\"vg_size\":8,\"vg_free\":4,"
                + "\"vg_extent_size\":4,\"vg_missing_pv_count\":1}]}]}").get(0).missingPvs()).isEqualTo(1);
    }

    @Test
    void inventoryAdoptsOnlyLvsNamedAndTaggedForThisCluster() {
        FakeCommandRunner fake = new FakeCommandRunner().on(LVS, THIN_LVS);
        Inventory inv = engine(Engine.LVM_THIN, fake).inventory(thinPool());
        assertThat(inv.volumes()).containsExactly(new LocalVolume("mysql-0-data", 1073741824L,
                "/dev/ferry-vg/mysql-0-data"));
        // The snapshot inherited its origin's volume tag; it still counts only as a snapshot.
        assertThat(inv.snapshots()).extracting(LocalSnapshot::name).containsExactly("snap-1");
        assertThat(fake.executed().get(0).lockKey()).isEqualTo("lvm:ferry-vg");
    }

    @Test
    void createsAThinVolumeTaggedWithVolumeAndCluster() {
        String created = THIN_LVS.replace("\"lv_name\":\"home\"", "\"lv_name\":\"vol-new\"")
                .replace("\"lv_tags\":\"\", \"lv_path\":\"/dev/ferry-vg/home\"",
                        "\"lv_tags\":\"ferry.cluster=ferry,ferry.volume=vol-new\", \"lv_path\":\"/dev/ferry-vg/vol-new\"");
        int[] calls = {0};
        FakeCommandRunner fake = new FakeCommandRunner()
                .on(LVS, c -> new CommandResult(c, 0, calls[0]++ == 0 ? THIN_LVS : created, "",
                        Duration.ZERO))
                .on(List.of("lvcreate"), "");
        LocalVolume v = engine(Engine.LVM_THIN, fake).createVolume(thinPool(), "vol-new", 4194304, true, Content.EMPTY);
        assertThat(v.devicePath()).isEqualTo("/dev/ferry-vg/vol-new");
        assertThat(fake.commandLines()).contains("lvcreate -y -n vol-new -V 4194304b --thinpool ferry-vg/ferry-thin"
                + " --addtag ferry.volume=vol-new --addtag ferry.cluster=ferry");
    }

    @Test
    void createsAThickVolumeWithWipingAndZeroing() {
        FakeCommandRunner fake = new FakeCommandRunner().on(LVS, "{\"report\":[{\"lv\":[]}]}").on(List.of("lvcreate"), "");
        assertThatThrownBy(() -> engine(Engine.LVM, fake).createVolume(thickPool(), "vol-t", 8388608, false,
                Content.EMPTY)).isInstanceOf(EngineException.class);
        assertThat(fake.commandLines()).contains("lvcreate -y -n vol-t.new -L 8388608b -W y -Z y --addtag"
                + " ferry.cluster=ferry ferry-vg");
    }

    @Test
    void refusesToAdoptAnLvThatSharesTheNameButNotTheTags() {
        FakeCommandRunner fake = new FakeCommandRunner().on(LVS, THIN_LVS);
        assertThatThrownBy(() -> engine(Engine.LVM_THIN, fake).createVolume(thinPool(), "home", 4194304, true,
                Content.EMPTY)).isInstanceOf(EngineException.class).hasMessageContaining("refusing");
        assertThat(fake.commandLines()).noneMatch(l -> l.startsWith("lvcreate"));
    }

    @Test
    void clonesThinVolumesFromASnapshotWithOneActivatedThinSnapshot() {
        FakeCommandRunner fake = new FakeCommandRunner().on(LVS, THIN_LVS).on(List.of("lvcreate"), "");
        assertThatThrownBy(() -> engine(Engine.LVM_THIN, fake).createVolume(thinPool(), "clone-1", 1073741824L, true,
                Content.ofSnapshot("snap-1"))).isInstanceOf(EngineException.class);
        assertThat(fake.commandLines()).contains("lvcreate -y -s -kn -ay -n clone-1 --addtag ferry.volume=clone-1"
                + " --addtag ferry.cluster=ferry ferry-vg/snap.snap-1");
    }

    @Test
    void growsWithLvextendAndTakesSnapshotsWithoutSizeOnThinPools() {
        FakeCommandRunner fake = new FakeCommandRunner().on(LVS, THIN_LVS).on(List.of("lvextend"), "")
                .on(List.of("lvcreate"), "");
        LvmEngine engine = engine(Engine.LVM_THIN, fake);
        engine.expandVolume(thinPool(), "mysql-0-data", 2147483648L, true);
        engine.createSnapshot(thinPool(), "snap-2", "mysql-0-data");
        assertThat(fake.commandLines()).contains("lvextend -L 2147483648b ferry-vg/mysql-0-data",
                "lvcreate -y -s -n snap.snap-2 --addtag ferry.snapshot=snap-2 --addtag ferry.cluster=ferry"
                        + " ferry-vg/mysql-0-data");
    }

    @Test
    void deletesOnlyWhatIsTaggedAndTreatsAbsenceAsDone() {
        FakeCommandRunner fake = new FakeCommandRunner().on(LVS, THIN_LVS).on(List.of("lvremove"), "");
        LvmEngine engine = engine(Engine.LVM_THIN, fake);
        engine.deleteVolume(thinPool(), "mysql-0-data");
        engine.deleteVolume(thinPool(), "old-one");
        engine.deleteVolume(thinPool(), "not-there");
        engine.deleteSnapshot(thinPool(), "snap-1");
        assertThat(fake.commandLines().stream().filter(l -> l.startsWith("lvremove")))
                .containsExactly("lvremove -y ferry-vg/mysql-0-data", "lvremove -y ferry-vg/snap.snap-1");
    }

    @Test
    void reportsThinUsageAndAMissingVolumeGroup() {
        FakeCommandRunner fake = new FakeCommandRunner().on(VGS, VGS_OUT).on(LVS, THIN_LVS);
        PoolState state = engine(Engine.LVM_THIN, fake).poolState(thinPool());
        assertThat(state.healthy()).isTrue();
        assertThat(state.capacityBytes()).isEqualTo(10737418240L);
        assertThat(state.freeBytes()).isEqualTo((long) (10737418240L * 0.875));
        assertThat(state.thinDataPercent()).isEqualTo(12.5);

        FakeCommandRunner missing = new FakeCommandRunner().fail(VGS, 5,
                "  Volume group \"ferry-vg\" not found\n  Cannot process volume group ferry-vg\n");
        PoolState gone = engine(Engine.LVM, missing).poolState(thickPool());
        assertThat(gone.healthy()).isFalse();
        assertThat(gone.conditions().get(0).reason()).isEqualTo("VolumeGroupNotFound");

        FakeCommandRunner thick = new FakeCommandRunner().on(VGS, VGS_OUT);
        PoolState vg = engine(Engine.LVM, thick).poolState(thickPool());
        assertThat(vg.capacityBytes()).isEqualTo(21470642176L);
        assertThat(vg.freeBytes()).isEqualTo(10724835328L);
    }

    @Test
    void preparesAVolumeGroupAndThinPoolFromListedDevices() {
        PoolConfig pool = PoolConfig.builder("pool-nvme0", "node-a", Engine.LVM_THIN,
                PoolSource.thinPool("ferry-vg", "ferry-thin").withDevices(List.of("/dev/vdb", "/dev/vdc")))
                .prepare(true).build();
        FakeCommandRunner fake = new FakeCommandRunner()
                .fail(VGS, 5, "  Volume group \"ferry-vg\" not found\n")
                .fail(LVS, 5, "  Volume group \"ferry-vg\" not found\n")
                .on(List.of("wipefs"), "").on(List.of("vgcreate"), "").on(List.of("lvcreate"), "");
        engine(Engine.LVM_THIN, fake).preparePool(pool);
        assertThat(fake.commandLines()).contains(
                "wipefs --noheadings --output TYPE,OFFSET,USAGE /dev/vdb",
                "wipefs --noheadings --output TYPE,OFFSET,USAGE /dev/vdc",
                "vgcreate --addtag ferry.cluster=ferry ferry-vg /dev/vdb /dev/vdc",
                "lvcreate -y --type thin-pool --zero y -l '90%FREE' -n ferry-thin --addtag ferry.cluster=ferry ferry-vg");
    }

    @Test
    void snapshotLvNamesNeverStartWithTheWordLvmReserves() {
        // Kubernetes names snapshots snapshot-<uuid>; lvcreate refuses LV names starting with "snapshot".
        assertThat(LvmEngine.snapshotLv("snapshot-1f2e")).isEqualTo("snap.snapshot-1f2e").doesNotStartWith("snapshot");
    }

    // ---- cluster ownership ----

    static final String ID = "5f0c2a9e-7d1b-4c3e-9a8f-0123456789ab";

    /** An engine of cluster ID whose LVs were tagged "ferry" (the old --cluster name) before cluster ids. */
    LvmEngine upgraded(FakeCommandRunner fake) {
        LvmEngine engine = new LvmEngine(Engine.LVM_THIN, fake, "ferry", Duration.ofSeconds(30), Duration.ofHours(1));
        engine.bindCluster(ID);
        return engine;
    }

    @Test
    void anLvOfAnotherClusterIsNeverRemovedChangedOrAdopted() {
        FakeCommandRunner fake = new FakeCommandRunner().on(LVS, THIN_LVS).on(List.of("lvremove"), "")
                .on(List.of("lvchange"), "").on(List.of("lvcreate"), "").on(List.of("lvextend"), "");
        LvmEngine engine = engine(Engine.LVM_THIN, fake);
        assertThatThrownBy(() -> engine.removeOrphan(thinPool(), "old-one")).isInstanceOf(EngineException.class)
                .hasMessageContaining("never removed");
        engine.deleteVolume(thinPool(), "old-one");
        assertThatThrownBy(() -> engine.createVolume(thinPool(), "old-one", 4194304, true, Content.EMPTY))
                .isInstanceOf(EngineException.class).hasMessageContaining("another Ferry cluster (other)");
        assertThat(engine.findVolume(thinPool(), "old-one")).isEmpty();
        assertThat(engine.owner(thinPool(), "old-one")).contains(OrphanOwner.OTHER_CLUSTER);
        assertThat(engine.inventory(thinPool()).unowned()).containsExactly(new Inventory.Unowned("old-one", 4194304,
                OrphanOwner.OTHER_CLUSTER, "other"));
        assertThat(fake.commandLines()).noneMatch(l -> l.contains("old-one") && !l.startsWith("lvs"));
    }

    @Test
    void anOrphanOfThisClusterIsRemovedOnOrder() {
        FakeCommandRunner fake = new FakeCommandRunner().on(LVS, THIN_LVS).on(List.of("lvremove"), "");
        engine(Engine.LVM_THIN, fake).removeOrphan(thinPool(), "mysql-0-data");
        assertThat(fake.commandLines()).contains("lvremove -y ferry-vg/mysql-0-data");
    }

    @Test
    void aLegacyTaggedLvIsReTaggedWithTheIdWhenAWorkItemUsesItAndIsOtherwiseUnmarked() {
        FakeCommandRunner fake = new FakeCommandRunner().on(LVS, THIN_LVS).on(List.of("lvchange"), "")
                .on(List.of("lvremove"), "");
        LvmEngine engine = upgraded(fake);
        Inventory inv = engine.inventory(thinPool());
        assertThat(inv.volumes()).isEmpty();
        assertThat(inv.unowned()).contains(new Inventory.Unowned("mysql-0-data", 1073741824L,
                OrphanOwner.UNMARKED, "ferry"));
        assertThatThrownBy(() -> engine.removeOrphan(thinPool(), "mysql-0-data")).isInstanceOf(EngineException.class);
        assertThat(fake.commandLines()).noneMatch(l -> l.startsWith("lvremove") || l.startsWith("lvchange"));

        engine.findVolume(thinPool(), "mysql-0-data");
        assertThat(fake.commandLines()).contains("lvchange --deltag ferry.cluster=ferry --addtag ferry.cluster=" + ID
                + " ferry-vg/mysql-0-data");
    }

    @Test
    void newVolumesAreTaggedWithTheClusterId() {
        FakeCommandRunner fake = new FakeCommandRunner().on(LVS, "{\"report\":[{\"lv\":[]}]}").on(List.of("lvcreate"), "");
        assertThatThrownBy(() -> upgraded(fake).createVolume(thinPool(), "vol-n", 4194304, true, Content.EMPTY))
                .isInstanceOf(EngineException.class);
        assertThat(fake.commandLines()).anyMatch(l -> l.startsWith("lvcreate") && l.contains("--addtag ferry.cluster="
                + ID) && !l.contains("ferry.cluster=ferry"));
    }
}
