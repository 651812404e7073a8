package io.ferry.agent.engine;

import io.ferry.model.Condition;
import io.ferry.model.Engine;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolSource;
import io.ferry.runtime.exec.Command;
import io.ferry.runtime.exec.CommandResult;
import io.ferry.runtime.exec.FakeCommandRunner;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * New LVM volumes read zeros: the argument lists, their order and the crash windows between them,
 * on a small in-memory model of one volume group that answers lvs, lvcreate, lvchange, lvrename,
 * lvremove and blkdiscard the way lvm2 does (sizes rounded up to 4 MiB extents). The bytes
 * themselves are checked on real LVM by testbed scenario 08.
 */
class LvmZeroingTest {

    static final long EXTENT = 4L << 20;

    /** One volume group's LVs, changed by the commands the engine runs. */
    static final class FakeVg {
        record Lv(String name, long size, Set<String> tags, String attr) {
        }

        final Map<String, Lv> lvs = new LinkedHashMap<>();
        final FakeCommandRunner runner = new FakeCommandRunner();
        /** The first command line starting with this fails (as if killed by a crash or its timeout). */
        String crashAt;

        FakeVg() {
            runner.on(LvmEngineTest.LVS, c -> ok(c, report()))
                    .on(List.of("lvcreate"), this::lvcreate)
                    .on(List.of("lvchange"), this::lvchange)
                    .on(List.of("lvrename"), c -> step(c, () -> {
                        Lv lv = lvs.remove(c.argv().get(2));
                        lvs.put(c.argv().get(3), new Lv(c.argv().get(3), lv.size(), lv.tags(), lv.attr()));
                    }))
                    .on(List.of("lvremove"), c -> step(c, () -> lvs.remove(lvName(last(c)))))
                    .on(List.of("lvextend"), c -> step(c, () -> {
                        Lv lv = lvs.get(lvName(last(c)));
                        lvs.put(lv.name(), new Lv(lv.name(), extents(bytes(c.argv().get(2))), lv.tags(), lv.attr()));
                    }))
                    .on(List.of("blkdiscard"), c -> step(c, () -> { }))
                    .on(List.of("dd"), c -> step(c, () -> { }));
        }

        FakeVg with(String name, long size, String... tags) {
            lvs.put(name, new Lv(name, size, new LinkedHashSet<>(List.of(tags)), "-wi-a-----"));
            return this;
        }

        private CommandResult lvcreate(Command c) {
            return step(c, () -> {
                List<String> a = c.argv();
                Set<String> tags = new LinkedHashSet<>();
                String name = null;
                long size = 0;
                for (int i = 0; i < a.size(); i++) {
                    switch (a.get(i)) {
                        case "-n" -> name = a.get(++i);
                        case "-L" -> size = extents(bytes(a.get(++i)));
                        case "--addtag" -> tags.add(a.get(++i));
                        default -> { }
                    }
                }
                lvs.put(name, new Lv(name, size, tags, "-wi-a-----"));
            });
        }

        private CommandResult lvchange(Command c) {
            return step(c, () -> {
                if (c.argv().get(1).equals("--addtag")) {
                    lvs.get(lvName(last(c))).tags().add(c.argv().get(2));
                } else if (c.argv().get(1).equals("--deltag")) {
                    lvs.get(lvName(last(c))).tags().remove(c.argv().get(2));
                }
            });
        }

        private CommandResult step(Command c, Runnable effect) {
            if (crashAt != null && c.display().startsWith(crashAt)) {
                crashAt = null;
                return new CommandResult(c, 137, "", "killed", Duration.ZERO);
            }
            effect.run();
            return ok(c, "");
        }

        private String report() {
            List<String> rows = new ArrayList<>();
            for (Lv lv : lvs.values()) {
                rows.add("{\"lv_name\":\"" + lv.name() + "\", \"vg_name\":\"ferry-vg\", \"lv_size\":\"" + lv.size()
                        + "\", \"lv_tags\":\"" + String.join(",", lv.tags()) + "\", \"lv_path\":\"/dev/ferry-vg/"
                        + lv.name() + "\", \"data_percent\":\"\", \"metadata_percent\":\"\", \"pool_lv\":\"\","
                        + " \"lv_attr\":\"" + lv.attr() + "\"}");
            }
            return "{\"report\":[{\"lv\":[" + String.join(",", rows) + "]}]}";
        }

        private static CommandResult ok(Command c, String out) {
            return new CommandResult(c, 0, out, "", Duration.ZERO);
        }

        private static String last(Command c) {
            return c.argv().get(c.argv().size() - 1);
        }

        private static String lvName(String vgSlashLv) {
            return vgSlashLv.substring(vgSlashLv.indexOf('/') + 1);
        }

        private static long bytes(String arg) {
            return Long.parseLong(arg.substring(0, arg.length() - 1));
        }

        private static long extents(long bytes) {
            return (bytes + EXTENT - 1) / EXTENT * EXTENT;
        }

        List<String> lines() {
            return runner.commandLines().stream().filter(l -> !l.startsWith("lvs ")).toList();
        }
    }

    PoolConfig thickPool() {
        return PoolConfig.builder("pool-hdd", "node-a", Engine.LVM, PoolSource.volumeGroup("ferry-vg")).build();
    }

    LvmEngine engine(FakeVg vg) {
        return bound(new LvmEngine(Engine.LVM, vg.runner, "ferry", Duration.ofSeconds(30), Duration.ofHours(1)));
    }

    /** Bound to the id "ferry", which is also the legacy name the LVs here are tagged with. */
    static LvmEngine bound(LvmEngine engine) {
        engine.bindCluster("ferry");
        return engine;
    }

    @Test
    void aNewThickVolumeIsZeroedWholeUnderItsLeftoverNameAndOnlyThenTaggedAndNamed() {
        FakeVg vg = new FakeVg();
        LocalVolume v = engine(vg).createVolume(thickPool(), "vol-t", 10L << 20, false, Content.EMPTY);

        assertThat(v).isEqualTo(new LocalVolume("vol-t", 12L << 20, "/dev/ferry-vg/vol-t"));
        assertThat(vg.lines()).containsExactly(
                "lvcreate -y -n vol-t.new -L 10485760b -W y -Z y --addtag ferry.cluster=ferry ferry-vg",
                "blkdiscard --zeroout /dev/ferry-vg/vol-t.new",
                "lvchange --addtag ferry.volume=vol-t ferry-vg/vol-t.new",
                "lvrename ferry-vg vol-t.new vol-t");
        assertThat(vg.lvs.keySet()).containsExactly("vol-t");
    }

    @Test
    void zeroingIsNotSerializedWithTheGroupsLvmCommandsAndItsTimeoutGrowsWithTheLv() {
        FakeVg vg = new FakeVg();
        LvmEngine engine = engine(vg);
        engine.createVolume(thickPool(), "vol-big", 1L << 30, false, Content.EMPTY);
        Command zero = vg.runner.executed().stream().filter(c -> c.argv().get(0).equals("blkdiscard")).findFirst()
                .orElseThrow();
        assertThat(zero.lockKey()).isNull();
        assertThat(zero.timeout()).isEqualTo(Duration.ofSeconds(30 + 64 + 1));
        assertThat(engine.zeroTimeout(1L << 40)).isGreaterThan(Duration.ofHours(18));
    }

    @Test
    void aCrashWhileZeroingLeavesNoVolumeOnlyALeftoverThatIsMadeAndZeroedAgain() {
        FakeVg vg = new FakeVg();
        vg.crashAt = "blkdiscard";
        LvmEngine engine = engine(vg);
        assertThatThrownBy(() -> engine.createVolume(thickPool(), "vol-c", 8L << 20, false, Content.EMPTY))
                .hasMessageContaining("blkdiscard");

        // The half-zeroed LV is nobody's volume: not found, not adopted, listed as a leftover.
        assertThat(engine.findVolume(thickPool(), "vol-c")).isEmpty();
        assertThat(engine.inventory(thickPool()).volumes()).isEmpty();
        assertThat(engine.inventory(thickPool()).leftovers()).containsExactly("vol-c.new");

        engine.createVolume(thickPool(), "vol-c", 8L << 20, false, Content.EMPTY);
        assertThat(vg.lines()).containsSubsequence(
                "lvremove -y ferry-vg/vol-c.new",
                "lvcreate -y -n vol-c.new -L 8388608b -W y -Z y --addtag ferry.cluster=ferry ferry-vg",
                "blkdiscard --zeroout /dev/ferry-vg/vol-c.new",
                "lvrename ferry-vg vol-c.new vol-c");
        assertThat(vg.lvs.keySet()).containsExactly("vol-c");
    }

    @Test
    void aCrashAfterZeroingButBeforeTheRenameStillLeavesOnlyALeftover() {
        FakeVg vg = new FakeVg();
        vg.crashAt = "lvrename";
        LvmEngine engine = engine(vg);
        assertThatThrownBy(() -> engine.createVolume(thickPool(), "vol-r", 8L << 20, false, Content.EMPTY));
        assertThat(engine.findVolume(thickPool(), "vol-r")).isEmpty();
        assertThat(engine.inventory(thickPool()).leftovers()).containsExactly("vol-r.new");
        engine.removeLeftover(thickPool(), "vol-r.new");
        assertThat(vg.lvs).isEmpty();
    }

    @Test
    void aVolumeThatExistsIsNeverZeroedAndGrowingItZeroesOnlyTheExtentsItGains() {
        FakeVg vg = new FakeVg().with("vol-x", 8L << 20, "ferry.cluster=ferry", "ferry.volume=vol-x");
        LvmEngine engine = engine(vg);
        engine.createVolume(thickPool(), "vol-x", 8L << 20, false, Content.EMPTY);
        engine.activate(thickPool(), "vol-x");
        assertThat(vg.lines()).isEmpty();

        LocalVolume grown = engine.createVolume(thickPool(), "vol-x", 14L << 20, false, Content.EMPTY);
        engine.activate(thickPool(), "vol-x");
        assertThat(grown.sizeBytes()).isEqualTo(16L << 20);
        // the offset is recorded before the extension and dropped only after the zeroing; the
        // volume may be mounted or exported meanwhile, hence --force (blkdiscard opens it exclusively otherwise)
        assertThat(vg.lines()).containsExactly(
                "lvchange --addtag ferry.zero-from=8388608 ferry-vg/vol-x",
                "lvextend -L 14680064b ferry-vg/vol-x",
                "blkdiscard --zeroout --force --offset 8388608 /dev/ferry-vg/vol-x",
                "lvchange --deltag ferry.zero-from=8388608 ferry-vg/vol-x");
        assertThat(vg.lvs.get("vol-x").tags()).containsExactly("ferry.cluster=ferry", "ferry.volume=vol-x");
    }

    @Test
    void aCrashBetweenTheExtensionAndTheZeroingIsFinishedBeforeTheVolumeIsServedAgain() {
        FakeVg vg = new FakeVg().with("vol-g", 8L << 20, "ferry.cluster=ferry", "ferry.volume=vol-g");
        vg.crashAt = "blkdiscard";
        LvmEngine engine = engine(vg);
        assertThatThrownBy(() -> engine.expandVolume(thickPool(), "vol-g", 16L << 20, false))
                .hasMessageContaining("blkdiscard");
        assertThat(vg.lvs.get("vol-g").size()).isEqualTo(16L << 20);
        assertThat(vg.lvs.get("vol-g").tags()).contains("ferry.zero-from=8388608");

        // an agent restarted after the crash only activates the volume it finds
        LocalVolume served = engine(vg).activate(thickPool(), "vol-g");
        assertThat(served.sizeBytes()).isEqualTo(16L << 20);
        assertThat(vg.lines()).endsWith(
                "blkdiscard --zeroout --force --offset 8388608 /dev/ferry-vg/vol-g",
                "lvchange --deltag ferry.zero-from=8388608 ferry-vg/vol-g");
        assertThat(vg.lvs.get("vol-g").tags()).doesNotContain("ferry.zero-from=8388608");
    }

    @Test
    void aCrashBeforeTheExtensionLeavesAnOffsetThatZeroesNothingAndIsReplacedByTheRetry() {
        FakeVg vg = new FakeVg().with("vol-h", 8L << 20, "ferry.cluster=ferry", "ferry.volume=vol-h");
        vg.crashAt = "lvextend";
        LvmEngine engine = engine(vg);
        assertThatThrownBy(() -> engine.expandVolume(thickPool(), "vol-h", 16L << 20, false));
        assertThat(vg.lvs.get("vol-h").tags()).contains("ferry.zero-from=8388608");

        engine.expandVolume(thickPool(), "vol-h", 16L << 20, false);
        List<String> retry = vg.lines().subList(vg.lines().indexOf("lvextend -L 16777216b ferry-vg/vol-h") + 1,
                vg.lines().size());
        assertThat(retry).containsExactly(
                "lvchange --deltag ferry.zero-from=8388608 ferry-vg/vol-h",
                "lvchange --addtag ferry.zero-from=8388608 ferry-vg/vol-h",
                "lvextend -L 16777216b ferry-vg/vol-h",
                "blkdiscard --zeroout --force --offset 8388608 /dev/ferry-vg/vol-h",
                "lvchange --deltag ferry.zero-from=8388608 ferry-vg/vol-h");
    }

    @Test
    void anOffsetTagFerryDidNotWriteStopsTheVolumeFromBeingServedAndNothingIsZeroed() {
        for (String bad : List.of("ferry.zero-from=0", "ferry.zero-from=abc", "ferry.zero-from=-4096")) {
            FakeVg vg = new FakeVg().with("vol-b", 16L << 20, "ferry.cluster=ferry", "ferry.volume=vol-b", bad);
            assertThatThrownBy(() -> engine(vg).activate(thickPool(), "vol-b"))
                    .isInstanceOf(EngineException.class).hasMessageContaining(bad).hasMessageContaining("not served");
            assertThat(vg.lines()).isEmpty();
        }
    }

    @Test
    void growingAThinVolumeZeroesNothing() {
        FakeVg vg = new FakeVg().with("vol-n", 8L << 20, "ferry.cluster=ferry", "ferry.volume=vol-n");
        LvmEngine thin = bound(new LvmEngine(Engine.LVM_THIN, vg.runner, "ferry", Duration.ofSeconds(30),
                Duration.ofHours(1)));
        thin.expandVolume(PoolConfig.builder("pool-nvme0", "node-a", Engine.LVM_THIN,
                PoolSource.thinPool("ferry-vg", "ferry-thin")).build(), "vol-n", 16L << 20, true);
        assertThat(vg.lines()).containsExactly("lvextend -L 16777216b ferry-vg/vol-n");
    }

    @Test
    void aLeftoverNameHeldByAnLvWithoutOurClusterTagIsRefusedAndNothingIsZeroed() {
        FakeVg vg = new FakeVg().with("vol-f.new", 8L << 20);
        assertThatThrownBy(() -> engine(vg).createVolume(thickPool(), "vol-f", 8L << 20, false, Content.EMPTY))
                .isInstanceOf(EngineException.class).hasMessageContaining("refusing to remove it");
        assertThat(vg.lines()).isEmpty();
        assertThat(vg.lvs).containsKey("vol-f.new");
    }

    @Test
    void aThickCloneKeepsItsSourcesBytesAndOnlyTheTailBeyondThemIsZeroed() {
        FakeVg vg = new FakeVg().with("src", 8L << 20, "ferry.cluster=ferry", "ferry.volume=src");
        LvmEngine engine = engine(vg);
        engine.createVolume(thickPool(), "bigger", 12L << 20, false, Content.ofVolume("src"));
        engine.createVolume(thickPool(), "same", 8L << 20, false, Content.ofVolume("src"));

        assertThat(vg.lines()).containsSubsequence(
                "dd if=/dev/ferry-vg/src of=/dev/ferry-vg/bigger.new bs=4M oflag=direct conv=fsync status=none",
                "blkdiscard --zeroout --offset 8388608 /dev/ferry-vg/bigger.new",
                "lvrename ferry-vg bigger.new bigger");
        assertThat(vg.lines()).filteredOn(l -> l.startsWith("blkdiscard")).hasSize(1);
    }

    @Test
    void thinVolumesAreNotZeroedAndAThinPoolThatDoesNotZeroItsChunksSaysSo() {
        String vgs = LvmEngineTest.VGS_OUT;
        PoolConfig thin = PoolConfig.builder("pool-nvme0", "node-a", Engine.LVM_THIN,
                PoolSource.thinPool("ferry-vg", "ferry-thin")).build();

        FakeCommandRunner zeroing = new FakeCommandRunner().on(LvmEngineTest.VGS, vgs)
                .on(LvmEngineTest.LVS, LvmEngineTest.THIN_LVS);
        PoolState on = bound(new LvmEngine(Engine.LVM_THIN, zeroing, "ferry", Duration.ofSeconds(30),
                Duration.ofHours(1))).poolState(thin);
        assertThat(on.conditions()).contains(Condition.of(Condition.ZEROES_NEW_BLOCKS, true, "ThinPoolZeroes", null));

        FakeCommandRunner notZeroing = new FakeCommandRunner().on(LvmEngineTest.VGS, vgs)
                .on(LvmEngineTest.LVS, LvmEngineTest.THIN_LVS.replace("twi-aotz--", "twi-aot---"))
                .on(List.of("lvcreate"), "");
        LvmEngine engine = bound(new LvmEngine(Engine.LVM_THIN, notZeroing, "ferry", Duration.ofSeconds(30),
                Duration.ofHours(1)));
        PoolState off = engine.poolState(thin);
        Condition c = off.conditions().stream().filter(x -> x.type().equals(Condition.ZEROES_NEW_BLOCKS))
                .findFirst().orElseThrow();
        assertThat(c.status()).isFalse();
        assertThat(c.reason()).isEqualTo("ThinPoolZeroingOff");
        assertThat(c.message()).contains("lvchange --zero y ferry-vg/ferry-thin");
        assertThat(off.healthy()).isTrue();

        assertThatThrownBy(() -> engine.createVolume(thin, "vol-n", 4194304, true, Content.EMPTY));
        assertThat(notZeroing.commandLines()).noneMatch(l -> l.startsWith("blkdiscard"));
    }

    @Test
    void aMissingGroupOfAPoolThatHoldsVolumesIsNotCreatedAgainOnItsDevices() {
        PoolConfig pool = PoolConfig.builder("pool-hdd", "node-a", Engine.LVM,
                PoolSource.volumeGroup("ferry-vg").withDevices(List.of("/dev/vdb"))).prepare(true).build();
        FakeCommandRunner fake = new FakeCommandRunner()
                .fail(LvmEngineTest.VGS, 5, "  Volume group \"ferry-vg\" not found\n")
                .on(List.of("wipefs"), "").on(List.of("vgcreate"), "");
        LvmEngine engine = bound(new LvmEngine(Engine.LVM, fake, "ferry", Duration.ofSeconds(30), Duration.ofHours(1)));
        engine.preparePool(pool, true);
        PoolState state = engine.poolState(pool);

        assertThat(fake.commandLines()).noneMatch(l -> l.startsWith("vgcreate") || l.startsWith("wipefs"));
        assertThat(state.healthy()).isFalse();
        assertThat(state.conditions().get(0).reason()).isEqualTo("VolumeGroupNotFound");
        assertThat(state.conditions().get(0).message()).contains("not created again: bring its disk back");

        engine.preparePool(pool, false);
        assertThat(fake.commandLines()).contains("vgcreate --addtag ferry.cluster=ferry ferry-vg /dev/vdb");
    }
}
