package io.ferry.csi;

import io.ferry.model.Engine;
import io.ferry.model.ExportInfo;
import io.ferry.model.Nqn;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolSource;
import io.ferry.runtime.exec.FakeCommandRunner;
import io.ferry.runtime.pool.PoolMarker;
import io.ferry.runtime.pool.VolumeFileMarker;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.charset.StandardCharsets;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * What the node plugin accepts as a volume's device, from the side of someone who can write a
 * volume status: a fake {@code /dev} and sysfs tree and scripted {@code lvs} output. The file
 * engine's checks also run against real loop devices in {@code NodeConformanceIT}; the LVM ones
 * against real LVM in the VM testbed.
 */
class DeviceVerifierTest {

    static final String VOLUME = "data-1";
    static final String CLUSTER = "0b6c1e2a-0000-4000-8000-000000000001";
    static final PoolConfig LVM = PoolConfig.builder("fast", "node-a", Engine.LVM, PoolSource.volumeGroup("vg-0")).build();
    static final PoolConfig THIN = PoolConfig.builder("thin", "node-a", Engine.LVM_THIN,
            PoolSource.thinPool("vg-0", "tp")).build();
    static final PoolConfig SPDK = PoolConfig.builder("lvs", "node-a", Engine.SPDK, PoolSource.lvstore("lvs0")).build();
    static final String LVS = "lvs --noheadings -o lv_tags vg-0/" + VOLUME;

    @TempDir
    Path tmp;
    Path dev;
    Path sys;
    final Set<String> blockDevices = new HashSet<>();
    FakeCommandRunner runner;

    @BeforeEach
    void setUp() throws Exception {
        dev = Files.createDirectories(tmp.resolve("dev"));
        sys = Files.createDirectories(tmp.resolve("sys"));
        runner = new FakeCommandRunner();
    }

    DeviceVerifier verifier() {
        return new DeviceVerifier(runner, sys, dev, p -> Files.isRegularFile(p) && blockDevices.contains(p.getFileName().toString()));
    }

    Path node(String name) throws Exception {
        Path p = dev.resolve(name);
        Files.createDirectories(p.getParent());
        Files.createFile(p);
        blockDevices.add(p.getFileName().toString());
        return p;
    }

    /** /dev/dm-N with its device-mapper name in sysfs, and /dev/vg-0/data-1 linked to it as udev does. */
    void lv(String dm, String dmName) throws Exception {
        node(dm);
        Files.writeString(Files.createDirectories(sys.resolve("block").resolve(dm).resolve("dm")).resolve("name"),
                dmName + "\n");
        Files.createDirectories(dev.resolve("vg-0"));
        Files.createSymbolicLink(dev.resolve("vg-0").resolve(VOLUME), Path.of("../" + dm));
    }

    static Consumer<Throwable> refused(String... parts) {
        return e -> {
            assertThat(e).isInstanceOf(StatusRuntimeException.class);
            assertThat(((StatusRuntimeException) e).getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
            assertThat(((StatusRuntimeException) e).getStatus().getDescription()).contains("volume " + VOLUME).contains(parts);
        };
    }

    // ---- LVM ----

    @Test
    void acceptsTheLogicalVolumeOfThePoolsVolumeGroupTaggedForTheVolume() throws Exception {
        lv("dm-3", "vg--0-data--1");
        runner.on(List.of("lvs"), "  ferry.volume=data-1,ferry.cluster=" + CLUSTER + "\n");
        assertThat(verifier().local(VOLUME, LVM, "/dev/vg-0/data-1", CLUSTER)).isEqualTo(dev.resolve("vg-0/data-1"));
        assertThat(verifier().local(VOLUME, THIN, "/dev/vg-0/data-1", CLUSTER)).isEqualTo(dev.resolve("vg-0/data-1"));
        assertThat(runner.commandLines()).containsOnly(LVS);
        assertThat(runner.executed().get(0).timeout()).isEqualTo(DeviceVerifier.LVS_TIMEOUT);
    }

    @Test
    void acceptsTheMapperNodeLvmMakesWithoutUdev() throws Exception {
        node("mapper/vg--0-data--1");
        Files.createDirectories(dev.resolve("vg-0"));
        Files.createSymbolicLink(dev.resolve("vg-0").resolve(VOLUME), Path.of("../mapper/vg--0-data--1"));
        // a thin clone also carries the tags of the snapshot it was cut from
        runner.on(List.of("lvs"), "  ferry.cluster=" + CLUSTER + ",ferry.snapshot=s1,ferry.volume=data-0,ferry.volume=data-1\n");
        assertThat(verifier().local(VOLUME, LVM, "/dev/vg-0/data-1", CLUSTER)).isEqualTo(dev.resolve("vg-0/data-1"));
    }

    @Test
    void refusesALogicalVolumeWithoutTheVolumesTag() throws Exception {
        lv("dm-3", "vg--0-data--1");
        runner.on(List.of("lvs"), "  ferry.cluster=ferry\n");
        assertThatThrownBy(() -> verifier().local(VOLUME, LVM, "/dev/vg-0/data-1", CLUSTER))
                .satisfies(refused("/dev/vg-0/data-1", "does not carry the tag ferry.volume=data-1", "ferry.cluster=ferry"));
        runner.on(List.of("lvs"), "  \n");
        assertThatThrownBy(() -> verifier().local(VOLUME, LVM, "/dev/vg-0/data-1", CLUSTER)).satisfies(refused("its tags: none"));
        // a tag is matched whole: another volume's tag, or one that merely starts alike, is not this volume's
        runner.on(List.of("lvs"), "  ferry.volume=data-10,ferry.volume=data-2\n");
        assertThatThrownBy(() -> verifier().local(VOLUME, LVM, "/dev/vg-0/data-1", CLUSTER)).satisfies(refused("ferry.volume=data-1"));
    }

    @Test
    void refusesALogicalVolumeOfAnotherClusterOrOfNoneAndWhileThisClustersIdIsUnknown() throws Exception {
        lv("dm-3", "vg--0-data--1");
        // a second Ferry cluster sharing the volume group, with a volume of the same name
        runner.on(List.of("lvs"), "  ferry.volume=data-1,ferry.cluster=0b6c1e2a-0000-4000-8000-000000000002\n");
        assertThatThrownBy(() -> verifier().local(VOLUME, LVM, "/dev/vg-0/data-1", CLUSTER))
                .satisfies(refused("does not carry the tag ferry.cluster=" + CLUSTER, "000000000002"));
        // the tag of the days before cluster ids (the agent re-tags it when a work item uses the LV)
        runner.on(List.of("lvs"), "  ferry.volume=data-1,ferry.cluster=ferry\n");
        assertThatThrownBy(() -> verifier().local(VOLUME, THIN, "/dev/vg-0/data-1", CLUSTER))
                .satisfies(refused("does not carry the tag ferry.cluster=" + CLUSTER));
        runner.on(List.of("lvs"), "  ferry.volume=data-1\n");
        assertThatThrownBy(() -> verifier().local(VOLUME, LVM, "/dev/vg-0/data-1", CLUSTER))
                .satisfies(refused("does not carry the tag ferry.cluster=" + CLUSTER, "its tags: ferry.volume=data-1"));
        runner.on(List.of("lvs"), "  ferry.volume=data-1,ferry.cluster=" + CLUSTER + "\n");
        assertThatThrownBy(() -> verifier().local(VOLUME, LVM, "/dev/vg-0/data-1", null))
                .satisfies(refused("this cluster's id is not known yet"));
    }

    @Test
    void refusesWhenLvsCannotShowTheVolumeAndCarriesItsStderr() throws Exception {
        lv("dm-3", "vg--0-data--1");
        runner.fail(List.of("lvs"), 5, "  Failed to find logical volume \"vg-0/data-1\"\n");
        assertThatThrownBy(() -> verifier().local(VOLUME, LVM, "/dev/vg-0/data-1", CLUSTER))
                .satisfies(refused(LVS, "exit 5", "Failed to find logical volume"));
    }

    @Test
    void refusesPathsOutsideThePoolsVolumeGroupWithoutAskingLvm() throws Exception {
        node("sda");
        lv("dm-3", "vg--0-data--1");
        for (String path : List.of("/dev/sda", "/dev/vg-1/data-1", "/dev/vg-0/data-2", "/dev/vg-0/../sda",
                "/dev/mapper/vg--0-data--1", "/dev/dm-3", "/dev/vg-0/data-1/")) {
            assertThatThrownBy(() -> verifier().local(VOLUME, LVM, path, CLUSTER))
                    .satisfies(refused(path, "pool fast makes it /dev/vg-0/data-1 (volume group vg-0)"));
        }
        assertThat(runner.commandLines()).isEmpty();
    }

    @Test
    void refusesAVolumeGroupPathThatLinksToADiskOrAnotherLogicalVolume() throws Exception {
        node("sda");
        Files.createDirectories(dev.resolve("vg-0"));
        Files.createSymbolicLink(dev.resolve("vg-0").resolve(VOLUME), Path.of("../sda"));
        assertThatThrownBy(() -> verifier().local(VOLUME, LVM, "/dev/vg-0/data-1", CLUSTER))
                .satisfies(refused("resolves to " + dev.toRealPath().resolve("sda"), "not to a device-mapper device"));

        Files.delete(dev.resolve("vg-0").resolve(VOLUME));
        lv("dm-4", "vg--0-other");
        assertThatThrownBy(() -> verifier().local(VOLUME, LVM, "/dev/vg-0/data-1", CLUSTER))
                .satisfies(refused("dm-4 is device-mapper device \"vg--0-other\"", "not vg--0-data--1"));

        Files.delete(dev.resolve("vg-0").resolve(VOLUME));
        Files.createFile(dev.resolve("dm-5"));
        Files.createSymbolicLink(dev.resolve("vg-0").resolve(VOLUME), Path.of("../dm-5"));
        assertThatThrownBy(() -> verifier().local(VOLUME, LVM, "/dev/vg-0/data-1", CLUSTER)).satisfies(refused("is not a block device"));

        Files.delete(dev.resolve("vg-0").resolve(VOLUME));
        assertThatThrownBy(() -> verifier().local(VOLUME, LVM, "/dev/vg-0/data-1", CLUSTER)).satisfies(refused("cannot be resolved"));
        assertThat(runner.commandLines()).isEmpty();
    }

    // ---- file engine ----

    PoolConfig filePool(String name) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("pools").resolve(name));
        return PoolConfig.builder(name, "node-a", Engine.FILE, PoolSource.directory(dir.toString())).build();
    }

    /** The volume's file as the agent leaves it: there, and marked with its cluster's attribute. */
    static Path volumeFile(Path file, String cluster) throws Exception {
        Files.write(file, new byte[4096]);
        if (cluster != null) {
            Files.getFileAttributeView(file, UserDefinedFileAttributeView.class)
                    .write(VolumeFileMarker.ATTRIBUTE, StandardCharsets.UTF_8.encode(cluster));
        }
        return file;
    }

    void loop(String name, Path backing) throws Exception {
        node(name);
        Files.writeString(Files.createDirectories(sys.resolve("block").resolve(name).resolve("loop")).resolve("backing_file"),
                backing + "\n");
    }

    @Test
    void acceptsALoopDeviceBackedByTheVolumesFileInAMarkedPoolDirectory() throws Exception {
        PoolConfig pool = filePool("pool-a");
        Path dir = Path.of(pool.source().directory());
        Files.writeString(dir.resolve(PoolMarker.FILE_NAME), "# Ferry\npool=pool-a\nnode=node-a\ncluster=" + CLUSTER + "\n");
        loop("loop7", volumeFile(dir.resolve("data-1.img"), CLUSTER));
        assertThat(verifier().local(VOLUME, pool, "/dev/loop7", CLUSTER)).isEqualTo(dev.resolve("loop7"));
    }

    @Test
    void refusesAVolumeFileOrPoolDirectoryOfAnotherClusterOrOfNobody() throws Exception {
        PoolConfig pool = filePool("pool-a");
        Path dir = Path.of(pool.source().directory());
        String other = "9e9e9e9e-0000-4000-8000-000000000002";
        Path file = volumeFile(dir.resolve("data-1.img"), CLUSTER);
        loop("loop7", file);

        Files.writeString(dir.resolve(PoolMarker.FILE_NAME), PoolMarker.text("pool-a", "node-a", other));
        assertThatThrownBy(() -> verifier().local(VOLUME, pool, "/dev/loop7", CLUSTER))
                .satisfies(refused("claimed by cluster " + other, "not by this one (" + CLUSTER + ")"));
        Files.writeString(dir.resolve(PoolMarker.FILE_NAME), "pool=pool-a\nnode=node-a\n");
        assertThatThrownBy(() -> verifier().local(VOLUME, pool, "/dev/loop7", CLUSTER))
                .satisfies(refused("without a cluster id"));

        Files.writeString(dir.resolve(PoolMarker.FILE_NAME), PoolMarker.text("pool-a", "node-a", CLUSTER));
        volumeFile(file, other);
        assertThatThrownBy(() -> verifier().local(VOLUME, pool, "/dev/loop7", CLUSTER))
                .satisfies(refused("marked as cluster " + other + "'s", "user.ferry.cluster"));
        Files.delete(file);
        volumeFile(file, null);
        assertThatThrownBy(() -> verifier().local(VOLUME, pool, "/dev/loop7", CLUSTER)).satisfies(refused("as nobody's"));
        assertThatThrownBy(() -> verifier().local(VOLUME, pool, "/dev/loop7", null)).satisfies(refused("not known yet"));
    }

    @Test
    void refusesLoopDevicesBackedByAnythingElseAndPoolDirectoriesWithoutTheirMarker() throws Exception {
        PoolConfig pool = filePool("pool-a");
        Path dir = Path.of(pool.source().directory());
        loop("loop1", tmp.resolve("precious.img"));
        loop("loop2", dir.resolve("data-2.img"));
        loop("loop3", dir.resolve("data-1.img"));
        Files.createFile(dev.resolve("loop4"));
        node("sda");
        assertThatThrownBy(() -> verifier().local(VOLUME, pool, "/dev/loop1", CLUSTER))
                .satisfies(refused("/dev/loop1", "its backing file is " + tmp.resolve("precious.img"), "not " + dir.resolve("data-1.img")));
        assertThatThrownBy(() -> verifier().local(VOLUME, pool, "/dev/loop2", CLUSTER)).satisfies(refused("data-2.img"));
        assertThatThrownBy(() -> verifier().local(VOLUME, pool, "/dev/loop4", CLUSTER)).satisfies(refused("is not a block device"));
        assertThatThrownBy(() -> verifier().local(VOLUME, pool, "/dev/loop9", CLUSTER)).satisfies(refused("is not a block device"));
        for (String path : List.of("/dev/sda", "/dev/null", dir.resolve("data-1.img").toString(), "/dev/loop3/", "/dev/loop-control")) {
            assertThatThrownBy(() -> verifier().local(VOLUME, pool, path, CLUSTER)).satisfies(refused(path, "loop devices /dev/loopN"));
        }
        assertThatThrownBy(() -> verifier().local(VOLUME, pool, "/dev/loop3", CLUSTER)).satisfies(refused("carries no pool marker"));
        Files.writeString(dir.resolve(PoolMarker.FILE_NAME), "pool=pool-b\nnode=node-a\n");
        assertThatThrownBy(() -> verifier().local(VOLUME, pool, "/dev/loop3", CLUSTER))
                .satisfies(refused("carries the marker of pool \"pool-b\", not of pool pool-a"));
    }

    @Test
    void theMarkerIsTheOneTheAgentWrites() throws Exception {
        PoolConfig pool = filePool("pool-a");
        Path dir = Path.of(pool.source().directory());
        Files.writeString(dir.resolve(PoolMarker.FILE_NAME), PoolMarker.text("pool-a", "node-a", CLUSTER));
        loop("loop7", volumeFile(dir.resolve("data-1.img"), CLUSTER));
        assertThat(verifier().local(VOLUME, pool, "/dev/loop7", CLUSTER)).isEqualTo(dev.resolve("loop7"));
    }

    @Test
    void anSpdkVolumeHasNoLocalDevice() {
        assertThatThrownBy(() -> verifier().local(VOLUME, SPDK, "/dev/nvme0n1", CLUSTER))
                .satisfies(refused("/dev/nvme0n1", "spdk pool", "only over NVMe/TCP"));
        assertThatThrownBy(() -> verifier().local(VOLUME, LVM, null, CLUSTER)).satisfies(refused("names no device"));
    }

    // ---- NVMe/TCP ----

    static final String PREFIX = "nqn.2026-11.io.ferry";
    static final String HOST = "nqn.2014-08.org.nvmexpress:uuid:6c1f2a64-8b8e-4d62-9d0e-0f1b5e0c1a77";

    static ExportInfo export(String nqn, String serial) {
        return ExportInfo.tcp(nqn, "10.0.1.11", 4420, serial, Set.of(HOST));
    }

    void controller(String name, String nqn, String serial, String namespace) throws Exception {
        Path ctrl = Files.createDirectories(sys.resolve("class/nvme").resolve(name));
        Files.writeString(ctrl.resolve("subsysnqn"), nqn + "\n");
        Files.writeString(ctrl.resolve("serial"), serial + "  \n");
        Files.createDirectories(ctrl.resolve(namespace));
    }

    @Test
    void acceptsOnlyTheExportFerryDerivesForTheVolume() {
        String nqn = Nqn.forVolume(PREFIX, CLUSTER, VOLUME);
        String serial = Nqn.serialForVolume(VOLUME);
        verifier().export(VOLUME, PREFIX, CLUSTER, export(nqn, serial));
        assertThatThrownBy(() -> verifier().export(VOLUME, PREFIX, CLUSTER,
                export(Nqn.forVolume(PREFIX, CLUSTER, "data-2"), serial)))
                .satisfies(refused("its NQN is " + PREFIX + ":" + CLUSTER + ":vol:data-2, not " + nqn));
        assertThatThrownBy(() -> verifier().export(VOLUME, PREFIX, CLUSTER, export("nqn.2014-08.org.evil:disk", serial)))
                .satisfies(refused("nqn.2014-08.org.evil:disk"));
        assertThatThrownBy(() -> verifier().export(VOLUME, PREFIX, CLUSTER, export(nqn, Nqn.serialForVolume("data-2"))))
                .satisfies(refused("its serial is " + Nqn.serialForVolume("data-2") + ", not " + serial));
        assertThatThrownBy(() -> verifier().export(VOLUME, PREFIX, CLUSTER, null)).satisfies(refused("no export"));
    }

    @Test
    void refusesTheSameVolumesExportOfAnotherClusterAcceptsOneOfBeforeClusterIdsAndNeedsTheId() {
        String serial = Nqn.serialForVolume(VOLUME);
        String other = "0b6c1e2a-0000-4000-8000-000000000002";
        // a second Ferry cluster exporting a volume of the same name from the same storage host
        assertThatThrownBy(() -> verifier().export(VOLUME, PREFIX, CLUSTER, export(Nqn.forVolume(PREFIX, other, VOLUME),
                serial))).satisfies(refused(other, "not " + Nqn.forVolume(PREFIX, CLUSTER, VOLUME)));
        // an export made before cluster ids is served under its old name until it is unexported
        verifier().export(VOLUME, PREFIX, CLUSTER, export(Nqn.legacyForVolume(PREFIX, VOLUME), serial));
        assertThatThrownBy(() -> verifier().export(VOLUME, PREFIX, null, export(Nqn.forVolume(PREFIX, CLUSTER, VOLUME),
                serial))).satisfies(refused("this cluster's id is not known yet"));
    }

    @Test
    void findsTheNamespaceOnlyUnderAControllerOfTheExportsSubsystemWithItsSerial() throws Exception {
        String nqn = Nqn.forVolume(PREFIX, CLUSTER, VOLUME);
        String serial = Nqn.serialForVolume(VOLUME);
        controller("nvme0", "nqn.2014-08.org.evil:disk", serial, "nvme0n1");
        controller("nvme1", nqn, "ffffffffffffffffffff", "nvme1n1");
        assertThat(verifier().nvmeNamespace(export(nqn, serial))).isEmpty();
        assertThat(verifier().impostors(export(nqn, serial))).containsExactly("nvme0 (subsystem nqn.2014-08.org.evil:disk)");
        controller("nvme2", nqn, serial, "nvme2n1");
        assertThat(verifier().nvmeNamespace(export(nqn, serial))).contains(dev.resolve("nvme2n1"));
    }
}
