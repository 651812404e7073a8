package io.ferry.agent.engine;

import io.ferry.model.Engine;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolSource;
import io.ferry.runtime.device.TestDisks;
import io.ferry.runtime.exec.FakeCommandRunner;
import io.ferry.runtime.exec.ProcessCommandRunner;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.util.List;

import static io.ferry.runtime.device.TestDisks.MIB;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Pool preparation against devices that already hold something. The signature probe runs the real
 * wipefs on real loop devices; LVM itself is scripted, because this machine has no device-mapper
 * (the VM testbed runs real vgcreate). Needs root and the loop driver.
 */
class LvmPrepareBlanknessIT {

    static final List<String> VGS = LvmEngineTest.VGS;
    static final List<String> LVS = LvmEngineTest.LVS;

    @RegisterExtension
    final TestDisks disks = new TestDisks();

    final ProcessCommandRunner real = new ProcessCommandRunner();

    /** LVM scripted as "no such volume group yet"; wipefs for real. */
    FakeCommandRunner noVolumeGroupYet() {
        return new FakeCommandRunner()
                .fail(VGS, 5, "  Volume group \"ferry-vg\" not found\n")
                .fail(LVS, 5, "  Volume group \"ferry-vg\" not found\n")
                .on(List.of("wipefs"), real::execute)
                .on(List.of("vgcreate"), "").on(List.of("lvcreate"), "");
    }

    static PoolConfig pool(boolean force, String... devices) {
        return PoolConfig.builder("pool-a", "node-a", Engine.LVM,
                PoolSource.volumeGroup("ferry-vg").withDevices(List.of(devices))).prepare(true).force(force).build();
    }

    static LvmEngine engine(FakeCommandRunner runner) {
        LvmEngine engine = new LvmEngine(Engine.LVM, runner, "ferry", Duration.ofSeconds(30), Duration.ofHours(1));
        engine.bindCluster("ferry");
        return engine;
    }

    static List<String> vgcreates(FakeCommandRunner runner) {
        return runner.commandLines().stream().filter(l -> l.startsWith("vgcreate")).toList();
    }

    @Test
    void refusesADeviceThatHoldsOnlyAPartitionTableAndSaysWhatAndWhere() throws Exception {
        String blank = disks.blank("blank", 32 * MIB);
        String partitioned = disks.withDosPartitionTable("partitioned", 32 * MIB);
        FakeCommandRunner lvm = noVolumeGroupYet();
        assertThatThrownBy(() -> engine(lvm).preparePool(pool(false, blank, partitioned)))
                .isInstanceOfSatisfying(EngineException.class, e -> assertThat(e.permanent()).isTrue())
                .hasMessageContaining("refusing to create volume group ferry-vg")
                .hasMessageContaining(partitioned + " carries dos (partition-table) at offset 0x1fe")
                .hasMessageNotContaining(blank + " carries")
                .hasMessageContaining("\"force\": true");
        assertThat(vgcreates(lvm)).isEmpty();
    }

    @Test
    void refusesADeviceWithAFilesystem() throws Exception {
        String formatted = disks.withFilesystem("formatted", 32 * MIB, "ext4");
        FakeCommandRunner lvm = noVolumeGroupYet();
        assertThatThrownBy(() -> engine(lvm).preparePool(pool(false, formatted)))
                .hasMessageContaining(formatted + " carries ext4 (filesystem) at offset 0x438");
        assertThat(vgcreates(lvm)).isEmpty();
    }

    @Test
    void refusesAnOrphanPhysicalVolumeWhoeverLeftIt() throws Exception {
        // What a vgcreate that died after writing the PV label leaves, and also what another
        // host's half-finished LVM setup looks like: only the operator can tell them apart.
        String orphan = disks.withLvmPhysicalVolume("orphan", 32 * MIB);
        FakeCommandRunner lvm = noVolumeGroupYet();
        assertThatThrownBy(() -> engine(lvm).preparePool(pool(false, orphan)))
                .hasMessageContaining(orphan + " carries LVM2_member (raid) at offset 0x218");
        assertThat(vgcreates(lvm)).isEmpty();
    }

    @Test
    void createsTheGroupOnBlankDevicesWithoutLettingLvmWipeAnything() throws Exception {
        String a = disks.blank("a", 32 * MIB);
        String b = disks.blank("b", 32 * MIB);
        FakeCommandRunner lvm = noVolumeGroupYet();
        engine(lvm).preparePool(pool(false, a, b));
        assertThat(vgcreates(lvm)).containsExactly("vgcreate --addtag ferry.cluster=ferry ferry-vg " + a + " " + b);
    }

    @Test
    void forceSkipsTheProbeAndLetsLvmWipe() throws Exception {
        String partitioned = disks.withDosPartitionTable("partitioned", 32 * MIB);
        FakeCommandRunner lvm = noVolumeGroupYet();
        engine(lvm).preparePool(pool(true, partitioned));
        assertThat(lvm.commandLines()).noneMatch(l -> l.startsWith("wipefs"));
        assertThat(vgcreates(lvm)).containsExactly("vgcreate -y --addtag ferry.cluster=ferry ferry-vg " + partitioned);
    }

    @Test
    void anExistingGroupIsPreparedAgainWithoutProbingItsDevices() throws Exception {
        // The devices of a group Ferry made carry LVM2_member signatures: re-preparing must not
        // read that as a foreign device.
        String member = disks.withLvmPhysicalVolume("member", 32 * MIB);
        FakeCommandRunner lvm = new FakeCommandRunner().on(VGS, LvmEngineTest.VGS_OUT);
        engine(lvm).preparePool(pool(false, member));
        assertThat(lvm.commandLines()).containsExactly(String.join(" ", VGS) + " ferry-vg");
    }
}
