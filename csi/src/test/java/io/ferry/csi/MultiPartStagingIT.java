package io.ferry.csi;

import io.ferry.csi.v1.NodeExpandVolumeRequest;
import io.ferry.csi.v1.NodeGetVolumeStatsRequest;
import io.ferry.csi.v1.NodeGetVolumeStatsResponse;
import io.ferry.csi.v1.VolumeUsage;
import io.ferry.csi.v1.NodeGrpc;
import io.ferry.csi.v1.NodePublishVolumeRequest;
import io.ferry.csi.v1.NodeStageVolumeRequest;
import io.ferry.csi.v1.NodeUnstageVolumeRequest;
import io.ferry.etcd.ClusterIdentities;
import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.store.Versioned;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.model.Attachment;
import io.ferry.model.Engine;
import io.ferry.model.ExportInfo;
import io.ferry.model.GlobalConfig;
import io.ferry.model.Layout;
import io.ferry.model.MirrorReport;
import io.ferry.model.NodeRegistration;
import io.ferry.model.Nqn;
import io.ferry.model.PartNames;
import io.ferry.model.Placement;
import io.ferry.model.SchedulingPhase;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeParts;
import io.ferry.model.VolumePhase;
import io.ferry.model.VolumeScheduling;
import io.ferry.model.VolumeStatus;
import io.ferry.runtime.auth.HostKeyFile;
import io.ferry.runtime.exec.Command;
import io.ferry.runtime.exec.CommandResult;
import io.ferry.runtime.exec.FakeCommandRunner;
import io.ferry.runtime.exec.ProcessCommandRunner;
import io.ferry.runtime.informer.InformerOptions;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Stream;

import static io.ferry.csi.CsiRequests.block;
import static io.ferry.csi.CsiRequests.code;
import static io.ferry.csi.CsiRequests.message;
import static io.ferry.csi.CsiRequests.mount;
import static io.ferry.etcd.testing.Await.result;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The node plugin staging a multi-part volume through its CSI calls, against a real etcd holding the
 * records the controller and the serving agents would write, with every command scripted and the
 * kernel's side (sysfs, /dev, the mount table) a directory tree the script changes: this machine's
 * kernel has neither md nor device-mapper's targets, and no nvmet. The real kernel runs the same
 * calls in the VM testbed.
 */
class MultiPartStagingIT {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    static final String CONSUMER = "node-a";
    static final String SERVER = "node-b";
    static final String VOLUME = "pvc-wide";
    static final long GI = 1L << 30;
    static final Instant T = Instant.parse("2026-12-01T00:00:00Z");
    static final String MIRROR_UUID = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9";

    @TempDir
    Path tmp;
    Path sys;
    Path dev;
    Path mountInfo;
    Path staging;
    Path authKeys;
    EtcdStore store;
    FerryKeys keys;
    String prefix;
    String cluster;
    FakeCommandRunner runner;
    CsiServer plugin;
    ManagedChannel channel;
    private final EventLoopGroup clientGroup = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());

    @BeforeEach
    void setUp() throws Exception {
        sys = Files.createDirectories(tmp.resolve("sys"));
        dev = Files.createDirectories(tmp.resolve("dev"));
        mountInfo = Files.createFile(tmp.resolve("mountinfo"));
        staging = tmp.resolve("staging/" + VOLUME);
        prefix = EtcdExtension.uniquePrefix();
        store = EtcdStore.connect(etcd.options(prefix));
        keys = store.keys();
        cluster = result(ClusterIdentities.ensure(store, T)).id();
        for (String node : List.of(CONSUMER, SERVER)) {
            result(store.put(keys.registration(node), NodeRegistration.of(node, "10.0.0." + (node.equals(CONSUMER) ? 1 : 2),
                    null, hostNqn(node), EnumSet.of(Engine.FILE), Map.of(), "test", T)));
        }
        // The cluster's default is bidirectional in-band authentication: this host's own pair, not the machine's.
        authKeys = tmp.resolve(HostKeyFile.FILE_NAME);
        HostKeyFile.ensure(authKeys, T);
        runner = new FakeCommandRunner();
        scriptTheKernel();
    }

    @AfterEach
    void tearDown() {
        stopPlugin();
        store.close();
        clientGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }

    static String hostNqn(String node) {
        return "nqn.2014-08.org.nvmexpress:uuid:" + node;
    }

    /** How often the plugin's keeper looks at mirrors: never, unless a test is about it. */
    Duration mirrorCheck = Duration.ZERO;

    void startPlugin() throws IOException {
        NodeService.Options options = new NodeService.Options(CONSUMER, 0, Map.of(), mountInfo, sys, dev,
                new NvmeConnector.Options(2, 600, Duration.ofSeconds(2), authKeys), mirrorCheck);
        plugin = new CsiServer(new CsiServer.Options(CsiServer.Mode.NODE, new CsiEndpoint.Tcp("127.0.0.1", 0), options,
                InformerOptions.defaults()), EtcdStore.connect(etcd.options(prefix)), true, runner).start();
        channel = plugin.endpoint().channelBuilder(clientGroup).build();
    }

    void stopPlugin() {
        if (channel != null) {
            channel.shutdownNow();
            channel = null;
        }
        if (plugin != null) {
            plugin.close();
            plugin = null;
        }
    }

    NodeGrpc.NodeBlockingStub node() {
        return NodeGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    // ---- what the controller and the serving agent write ----

    /** The volume, its parts record, and each part served by node-b and exported to node-a, as the contract has it. */
    VolumeParts writeVolume(Layout layout, List<Long> partBytes) {
        List<VolumeParts.Part> parts = new ArrayList<>();
        for (int i = 0; i < partBytes.size(); i++) {
            parts.add(new VolumeParts.Part(PartNames.of(VOLUME, i), i, partBytes.get(i)));
        }
        VolumeParts record = VolumeParts.of(VOLUME, layout, parts, layout == Layout.MIRROR ? MIRROR_UUID : null, T);
        result(store.put(keys.volume(VOLUME), VolumeIntent.builder(VOLUME, record.assembledBytes()).layout(layout)
                .parts(parts.size()).consumerNode(CONSUMER).fsType("ext4").createdBy("test").createdAt(T).build()));
        result(store.put(keys.attachment(VOLUME, CONSUMER), Attachment.of(VOLUME, CONSUMER, hostNqn(CONSUMER), false, T)));
        for (VolumeParts.Part part : parts) {
            String name = part.name();
            result(store.put(keys.volume(name), VolumeIntent.builder(name, part.sizeBytes()).partOf(VOLUME)
                    .consumerNode(CONSUMER).createdBy("controller").createdAt(T).build()));
            result(store.put(keys.placement(name), Placement.of(name, "pool-b", SERVER, Engine.FILE, part.sizeBytes(),
                    true, 1, CONSUMER, null, null, T)));
            result(store.put(keys.volumeScheduling(name), VolumeScheduling.of(name, SchedulingPhase.PLACED, Map.of(),
                    null, SERVER, "pool-b", true, 1, T)));
            result(store.put(keys.volumeStatus(SERVER, name), VolumeStatus.of(name, SERVER, VolumePhase.READY,
                    "/dev/loop" + part.index(), part.sizeBytes(), export(name), 1, null, T)));
        }
        result(store.put(keys.volumeParts(VOLUME), record));
        return record;
    }

    ExportInfo export(String part) {
        return ExportInfo.tcp(nqn(part), "10.0.0.2", 4420, Nqn.serialForVolume(part), Set.of(hostNqn(CONSUMER)));
    }

    String nqn(String part) {
        return Nqn.forVolume(GlobalConfig.DEFAULT_NQN_PREFIX, cluster, part);
    }

    // ---- the kernel, scripted ----

    /**
     * nvme connect makes controller nvme<i+1> with namespace nvme<i+1>n1 for part i; dmsetup and
     * mdadm make dm-0 and md127; mount and umount edit the mount table. Everything else a test
     * expects is scripted by the test.
     */
    void scriptTheKernel() {
        runner.on(List.of("nvme", "connect"), c -> {
            String nqn = c.argv().get(c.argv().indexOf("-n") + 1);
            int index = PartNames.parse(nqn.substring(nqn.lastIndexOf(':') + 1)).orElseThrow().index();
            String ctrl = "nvme" + (index + 1);
            write(sys.resolve("class/nvme").resolve(ctrl).resolve("subsysnqn"), nqn);
            write(sys.resolve("class/nvme").resolve(ctrl).resolve("serial"), Nqn.serialForVolume(PartNames.of(VOLUME, index)));
            mkdirs(sys.resolve("class/nvme").resolve(ctrl).resolve(ctrl + "n1"));
            write(sys.resolve("class/nvme").resolve(ctrl).resolve("fast_io_fail_tmo"), "off");
            write(sys.resolve("class/block").resolve(ctrl + "n1").resolve("dev"), "259:" + (index + 1));
            write(sys.resolve("block").resolve(ctrl + "n1").resolve("device/subsysnqn"), nqn);
            write(dev.resolve(ctrl + "n1"), "");
            return ok(c);
        });
        runner.on(List.of("nvme", "disconnect"), c -> {
            String nqn = c.argv().get(c.argv().indexOf("-n") + 1);
            int index = PartNames.parse(nqn.substring(nqn.lastIndexOf(':') + 1)).orElseThrow().index();
            delete(sys.resolve("class/nvme").resolve("nvme" + (index + 1)));
            delete(sys.resolve("block").resolve("nvme" + (index + 1) + "n1"));
            return ok(c);
        });
        runner.on(List.of("dmsetup", "--noudevsync", "create"), c -> {
            write(sys.resolve("block/dm-0/dm/name"), c.argv().get(3));
            write(sys.resolve("block/dm-0/dm/uuid"), c.argv().get(c.argv().indexOf("--uuid") + 1));
            // A real device node (never opened): stats compare the mount's source with it by device number.
            if (!Files.exists(dev.resolve("dm-0"))) {
                new ProcessCommandRunner().run(Command.of("mknod", dev.resolve("dm-0").toString(), "b", "253", "0"));
            }
            return ok(c);
        });
        runner.on(List.of("dmsetup", "--noudevsync", "remove"), c -> {
            delete(sys.resolve("block/dm-0"));
            return ok(c);
        });
        runner.on(List.of("mdadm", "--create"), this::mdStarted);
        runner.on(List.of("mdadm", "--assemble"), this::mdStarted);
        runner.on(List.of("mdadm", "--stop"), c -> {
            delete(sys.resolve("block/md127"));
            return ok(c);
        });
        runner.on(List.of("mount", "-t"), c -> {
            List<String> argv = c.argv();
            append("36 29 253:0 / " + argv.get(argv.size() - 1) + " rw,relatime - " + argv.get(2) + " "
                    + argv.get(argv.size() - 2) + " rw\n");
            return ok(c);
        });
        runner.on(List.of("umount"), c -> {
            String target = c.argv().get(1);
            try {
                List<String> kept = Files.readAllLines(mountInfo).stream().filter(l -> !l.contains(" " + target + " "))
                        .toList();
                Files.write(mountInfo, kept);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return ok(c);
        });
    }

    CommandResult mdStarted(Command c) {
        write(sys.resolve("block/md127/md/array_state"), "clean");
        // A real device node (never opened): stats compare the mount's source with it by device number.
        if (!Files.exists(dev.resolve("md127"))) {
            new ProcessCommandRunner().run(Command.of("mknod", dev.resolve("md127").toString(), "b", "9", "127"));
        }
        runner.on(List.of("mdadm", "--detail", "--export", dev.resolve("md127").toString()),
                "MD_LEVEL=raid1\nMD_UUID=0f1e2d3c:4b5a4978:8695a4b3:c2d1e0f9\n");
        return ok(c);
    }

    static CommandResult ok(Command c) {
        return new CommandResult(c, 0, "", "", Duration.ZERO);
    }

    static void write(Path file, String content) {
        try {
            Files.createDirectories(file.getParent());
            Files.writeString(file, content + (content.isEmpty() ? "" : "\n"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static void mkdirs(Path dir) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static void delete(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> all = Files.walk(dir)) {
            all.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    void append(String line) {
        try {
            Files.writeString(mountInfo, line, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    void stage() {
        node().nodeStageVolume(NodeStageVolumeRequest.newBuilder().setVolumeId(VOLUME)
                .setStagingTargetPath(staging.toString()).setVolumeCapability(mount("ext4")).build());
    }

    NodeGetVolumeStatsResponse stats() {
        return node().nodeGetVolumeStats(NodeGetVolumeStatsRequest.newBuilder().setVolumeId(VOLUME)
                .setVolumePath(staging.toString()).build());
    }

    void unstage() {
        node().nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder().setVolumeId(VOLUME)
                .setStagingTargetPath(staging.toString()).build());
    }

    String connect(int index) {
        String part = PartNames.of(VOLUME, index);
        return "nvme connect -t tcp -a 10.0.0.2 -s 4420 -n " + nqn(part) + " --hostnqn " + hostNqn(CONSUMER)
                + " --reconnect-delay 2 --ctrl-loss-tmo 600 --dhchap-secret " + Command.MASK + " --dhchap-ctrl-secret "
                + Command.MASK;
    }

    List<String> since(int from) {
        List<String> all = runner.commandLines();
        return all.subList(from, all.size());
    }

    /** What is left of the kernel's side: connected controllers, dm and md devices, mounts. */
    List<String> leftOver() throws IOException {
        List<String> left = new ArrayList<>();
        for (Path dir : List.of(sys.resolve("class/nvme"), sys.resolve("block"))) {
            if (Files.isDirectory(dir)) {
                try (Stream<Path> s = Files.list(dir)) {
                    s.map(p -> p.getFileName().toString()).forEach(left::add);
                }
            }
        }
        left.addAll(Files.readAllLines(mountInfo));
        return left;
    }

    // ---- the tests ----

    @Test
    void stagesALinearVolumeFromItsPartsInOrderAgainIdempotentlyAndTakesItApartAfterARestart() throws Exception {
        writeVolume(Layout.LINEAR, List.of(GI, GI / 2));
        runner.on(List.of("wipefs"), "").on(List.of("mkfs.ext4"), "");
        startPlugin();

        stage();
        assertThat(runner.commandLines()).containsExactly(
                connect(0),
                connect(1),
                "dmsetup --noudevsync create ferry-" + VOLUME + " --uuid FERRY-" + VOLUME,
                "wipefs --noheadings --output TYPE,OFFSET,USAGE " + dev.resolve("dm-0"),
                "mkfs.ext4 -E nodiscard " + dev.resolve("dm-0"),
                "mount -t ext4 " + dev.resolve("dm-0") + " " + staging);
        assertThat(new String(runner.executed().get(2).stdin())).isEqualTo(
                "0 2097152 linear 259:1 0\n2097152 1048576 linear 259:2 0\n");
        // A segment's I/O waits for its node like a single volume's: nothing else holds that data.
        assertThat(sys.resolve("class/nvme/nvme1/fast_io_fail_tmo")).hasContent("off");
        int before;

        // Stats are the assembled device's filesystem's; the volume is abnormal when one part is, by name.
        runner.on(List.of("stat", "-f"), "393216 262144 245760 4096 98304 98000\n");
        before = runner.commandLines().size();
        NodeGetVolumeStatsResponse stats = stats();
        assertThat(since(before)).containsExactly("stat -f -c '%b %f %a %S %c %d' " + staging);
        assertThat(stats.getUsageList()).filteredOn(u -> u.getUnit() == VolumeUsage.Unit.BYTES)
                .singleElement().satisfies(u -> assertThat(u.getTotal()).isEqualTo(393216L * 4096));
        assertThat(stats.getVolumeCondition().getAbnormal()).isFalse();
        String part1 = PartNames.of(VOLUME, 1);
        result(store.put(keys.volumeStatus(SERVER, part1), VolumeStatus.of(part1, SERVER, VolumePhase.FAILED, null, GI / 2,
                export(part1), 1, "the LV is gone", T)));
        await().atMost(Duration.ofSeconds(10)).until(() -> stats().getVolumeCondition().getAbnormal());
        assertThat(stats().getVolumeCondition().getMessage()).isEqualTo("part " + part1 + ": the agent reports: the LV is gone");
        result(store.put(keys.volumeStatus(SERVER, part1), VolumeStatus.of(part1, SERVER, VolumePhase.READY,
                "/dev/loop1", GI / 2, export(part1), 1, null, T)));
        await().atMost(Duration.ofSeconds(10)).until(() -> !stats().getVolumeCondition().getAbnormal());

        // Repeated (the CO retries after a timeout): the same table is found and nothing is made again.
        runner.on(List.of("dmsetup", "table"), "0 2097152 linear 259:1 0\n2097152 1048576 linear 259:2 0\n");
        before = runner.commandLines().size();
        stage();
        assertThat(since(before)).containsExactly("dmsetup table ferry-" + VOLUME);

        // Nothing of the staging is kept in memory: a new plugin takes it apart from etcd and sysfs alone,
        // unmounting first, then removing the table, then disconnecting each part.
        stopPlugin();
        startPlugin();
        before = runner.commandLines().size();
        unstage();
        assertThat(since(before)).containsExactly(
                "umount " + staging,
                "dmsetup --noudevsync remove ferry-" + VOLUME,
                "nvme disconnect -n " + nqn(PartNames.of(VOLUME, 0)),
                "nvme disconnect -n " + nqn(PartNames.of(VOLUME, 1)));
        assertThat(leftOver()).isEmpty();

        // And once more, with nothing left to do.
        before = runner.commandLines().size();
        unstage();
        assertThat(since(before)).isEmpty();
    }

    @Test
    void stagesAMirrorCreatedOverBlankLegsAndStopsItOnUnstage() throws Exception {
        writeVolume(Layout.MIRROR, List.of(GI, GI));
        Function<Command, CommandResult> noSuperblock = c -> new CommandResult(c, 1, "",
                "mdadm: No md superblock detected on " + c.argv().get(3) + ".\n", Duration.ZERO);
        runner.on(List.of("mdadm", "--examine"), noSuperblock).on(List.of("wipefs"), "").on(List.of("mkfs.ext4"), "");
        startPlugin();

        stage();
        Path leg0 = dev.resolve("nvme1n1");
        Path leg1 = dev.resolve("nvme2n1");
        assertThat(runner.commandLines()).containsExactly(
                connect(0),
                connect(1),
                "mdadm --examine --export " + leg0,
                "wipefs --noheadings --output TYPE,OFFSET,USAGE " + leg0,
                "mdadm --examine --export " + leg1,
                "wipefs --noheadings --output TYPE,OFFSET,USAGE " + leg1,
                "mdadm --create /dev/md/ferry-0f1e2d3c4b5a --run --level=1 --raid-devices=2 --metadata=1.2"
                        + " --bitmap=internal --data-offset=4096K --uuid=" + MIRROR_UUID + " --name=ferry-0f1e2d3c4b5a " + leg0 + " " + leg1,
                "mdadm --detail --export " + dev.resolve("md127"),
                "wipefs --noheadings --output TYPE,OFFSET,USAGE " + dev.resolve("md127"),
                "mkfs.ext4 -E nodiscard " + dev.resolve("md127"),
                "mount -t ext4 " + dev.resolve("md127") + " " + staging);
        // A leg's I/O fails soon without a path, so md drops a lost leg instead of waiting with it.
        assertThat(sys.resolve("class/nvme/nvme1/fast_io_fail_tmo")).hasContent(Integer.toString(NvmeConnector.LEG_FAST_IO_FAIL_SECONDS));
        assertThat(sys.resolve("class/nvme/nvme2/fast_io_fail_tmo")).hasContent(Integer.toString(NvmeConnector.LEG_FAST_IO_FAIL_SECONDS));

        int before = runner.commandLines().size();
        unstage();
        assertThat(since(before)).containsExactly(
                "umount " + staging,
                "mdadm --detail --export " + dev.resolve("md127"),
                "mdadm --stop " + dev.resolve("md127"),
                "nvme disconnect -n " + nqn(PartNames.of(VOLUME, 0)),
                "nvme disconnect -n " + nqn(PartNames.of(VOLUME, 1)));
        assertThat(leftOver()).isEmpty();
    }

    @Test
    void refusesToStageAMirrorOneOfWhoseLegsHoldsSomethingElseAndWritesNothing() throws Exception {
        writeVolume(Layout.MIRROR, List.of(GI, GI));
        Function<Command, CommandResult> noSuperblock = c -> new CommandResult(c, 1, "",
                "mdadm: No md superblock detected on " + c.argv().get(3) + ".\n", Duration.ZERO);
        runner.on(List.of("mdadm", "--examine"), noSuperblock).on(List.of("wipefs"), "")
                .on(List.of("wipefs", "--noheadings", "--output", "TYPE,OFFSET,USAGE", dev.resolve("nvme2n1").toString()),
                        "xfs 0x0 filesystem\n");
        startPlugin();

        assertThat(code(this::stage)).isEqualTo(Status.Code.FAILED_PRECONDITION);
        assertThat(message(this::stage)).contains("leg " + PartNames.of(VOLUME, 1) + " (" + dev.resolve("nvme2n1")
                + ") holds xfs (filesystem) at offset 0x0").contains("nothing is written to any leg");
        assertThat(runner.commandLines()).noneMatch(c -> c.startsWith("mdadm --create") || c.startsWith("mdadm --assemble")
                || c.startsWith("mkfs") || c.startsWith("mount"));
    }

    @Test
    void publishesTheAssembledDeviceOfABlockVolume() throws Exception {
        writeVolume(Layout.LINEAR, List.of(GI, GI));
        runner.on(List.of("dmsetup", "table"), "0 2097152 linear 259:1 0\n2097152 2097152 linear 259:2 0\n")
                .on(List.of("mount", "--bind"), "");
        startPlugin();
        Path target = tmp.resolve("pods/p1/" + VOLUME);

        node().nodeStageVolume(NodeStageVolumeRequest.newBuilder().setVolumeId(VOLUME)
                .setStagingTargetPath(staging.toString()).setVolumeCapability(block()).build());
        node().nodePublishVolume(NodePublishVolumeRequest.newBuilder().setVolumeId(VOLUME)
                .setStagingTargetPath(staging.toString()).setTargetPath(target.toString())
                .setVolumeCapability(block()).build());

        assertThat(runner.commandLines()).containsExactly(connect(0), connect(1),
                "dmsetup --noudevsync create ferry-" + VOLUME + " --uuid FERRY-" + VOLUME,
                "dmsetup table ferry-" + VOLUME,
                "mount --bind " + dev.resolve("dm-0") + " " + target);
    }

    @Test
    void expandingAMultiPartVolumeNotStagedAtThePathGrowsNothing() throws Exception {
        writeVolume(Layout.LINEAR, List.of(GI, GI));
        startPlugin();

        // The assembly and the filesystem grow only where the volume's own device is mounted.
        Runnable expand = () -> node().nodeExpandVolume(NodeExpandVolumeRequest.newBuilder().setVolumeId(VOLUME)
                .setVolumePath(staging.toString()).build());
        assertThat(code(expand)).isEqualTo(Status.Code.NOT_FOUND);
        assertThat(message(expand)).contains("volume " + VOLUME + " is not at " + staging);
        assertThat(runner.commandLines()).noneMatch(c -> c.startsWith("mdadm") || c.startsWith("dmsetup")
                || c.startsWith("resize2fs") || c.startsWith("xfs_growfs"));
    }

    @Test
    void theNodePluginReportsALostLegAndGivesItBackWhenItsDeviceIsHereAgain() throws Exception {
        writeVolume(Layout.MIRROR, List.of(GI, GI));
        Function<Command, CommandResult> noSuperblock = c -> new CommandResult(c, 1, "",
                "mdadm: No md superblock detected on " + c.argv().get(3) + ".\n", Duration.ZERO);
        runner.on(List.of("mdadm", "--examine"), noSuperblock).on(List.of("wipefs"), "").on(List.of("mkfs.ext4"), "")
                .on(List.of("stat", "-f"), "393216 262144 245760 4096 98304 98000\n");
        startPlugin();
        stage();
        Path md = sys.resolve("block/md127/md");
        write(md.resolve("dev-nvme1n1/state"), "in_sync");
        write(md.resolve("dev-nvme2n1/state"), "in_sync");
        write(md.resolve("sync_action"), "idle");
        assertThat(stats().getVolumeCondition().getAbnormal()).isFalse();
        assertThat(stats().getVolumeCondition().getMessage()).isEqualTo("mirror healthy (md127): 2 of 2 legs in sync");

        // node-b's leg fails its I/O (its node went away): md marks it faulty and runs on the other leg.
        write(md.resolve("dev-nvme2n1/state"), "faulty");
        assertThat(stats().getVolumeCondition().getAbnormal()).isTrue();
        assertThat(stats().getVolumeCondition().getMessage()).isEqualTo("mirror degraded (md127): 1 of 2 legs in sync;"
                + " leg " + PartNames.of(VOLUME, 1) + " (nvme2n1) faulty");

        // Its controller reconnected: the leg reads again, with the array's superblock; the keeper takes it back.
        runner.on(List.of("mdadm", "--examine", "--export", dev.resolve("nvme2n1").toString()),
                "MD_LEVEL=raid1\nMD_UUID=0f1e2d3c:4b5a4978:8695a4b3:c2d1e0f9\n");
        runner.on(List.of("mdadm", "--manage"), c -> {
            if (c.argv().contains("--re-add")) {
                write(md.resolve("dev-nvme2n1/state"), "in_sync");
            }
            return ok(c);
        });
        int before = runner.commandLines().size();
        stopPlugin();
        mirrorCheck = Duration.ofMillis(200);
        startPlugin();
        // A restarted plugin knows its mirrors again from the CO's next stats call.
        stats();
        await().atMost(Duration.ofSeconds(20)).until(() -> since(before).contains("mdadm --manage "
                + dev.resolve("md127") + " --re-add " + dev.resolve("nvme2n1")));
        assertThat(since(before)).containsSubsequence("mdadm --manage " + dev.resolve("md127") + " --remove failed",
                "mdadm --examine --export " + dev.resolve("nvme2n1"),
                "mdadm --manage " + dev.resolve("md127") + " --re-add " + dev.resolve("nvme2n1"));
        assertThat(stats().getVolumeCondition().getAbnormal()).isFalse();
        // In sync again: nothing more is done to it.
        int after = runner.commandLines().size();
        Thread.sleep(600);
        assertThat(since(after)).noneMatch(c -> c.startsWith("mdadm --manage"));
    }

    @Test
    void aLegDeclaredLostIsTakenOutAndItsBlankReplacementAddedWithoutACsiCall() throws Exception {
        VolumeParts placed = writeVolume(Layout.MIRROR, List.of(GI, GI));
        Function<Command, CommandResult> noSuperblock = c -> new CommandResult(c, 1, "",
                "mdadm: No md superblock detected on " + c.argv().get(3) + ".\n", Duration.ZERO);
        runner.on(List.of("mdadm", "--examine"), noSuperblock).on(List.of("wipefs"), "").on(List.of("mkfs.ext4"), "")
                .on(List.of("stat", "-f"), "393216 262144 245760 4096 98304 98000\n");
        Path md = sys.resolve("block/md127/md");
        runner.on(List.of("mdadm", "--manage"), c -> {
            List<String> argv = c.argv();
            if (argv.contains("--fail")) {
                delete(md.resolve("dev-" + Path.of(argv.get(argv.indexOf("--fail") + 1)).getFileName()));
            }
            if (argv.contains("--add")) {
                write(md.resolve("dev-" + Path.of(argv.get(argv.indexOf("--add") + 1)).getFileName() + "/state"), "spare");
            }
            return ok(c);
        });
        mirrorCheck = Duration.ofMillis(200);
        startPlugin();
        stage();
        write(md.resolve("dev-nvme1n1/state"), "in_sync");
        write(md.resolve("dev-nvme2n1/state"), "in_sync");
        write(md.resolve("sync_action"), "idle");
        assertThat(stats().getVolumeCondition().getMessage()).isEqualTo("mirror healthy (md127): 2 of 2 legs in sync");
        int before = runner.commandLines().size();

        // The controller's replacement of leg 1 (declared lost while its node is up): leg 2, blank, on
        // another pool of node-b, served here; leg 1 retired and no longer exported here.
        String lost = PartNames.of(VOLUME, 1);
        String replacement = PartNames.of(VOLUME, 2);
        result(store.put(keys.volume(replacement), VolumeIntent.builder(replacement, GI).partOf(VOLUME)
                .consumerNode(CONSUMER).createdBy("controller").createdAt(T).build()));
        result(store.put(keys.placement(replacement), Placement.of(replacement, "pool-c", SERVER, Engine.FILE, GI,
                true, 1, CONSUMER, null, null, T)));
        result(store.put(keys.volumeScheduling(replacement), VolumeScheduling.of(replacement, SchedulingPhase.PLACED,
                Map.of(), null, SERVER, "pool-c", true, 1, T)));
        result(store.put(keys.volumeStatus(SERVER, replacement), VolumeStatus.of(replacement, SERVER, VolumePhase.READY,
                "/dev/loop2", GI, export(replacement), 1, null, T)));
        result(store.put(keys.volumeParts(VOLUME), placed.withReplacement(lost,
                new VolumeParts.Part(replacement, 2, GI, lost))));

        String fail = "mdadm --manage " + dev.resolve("md127") + " --fail " + dev.resolve("nvme2n1") + " --remove "
                + dev.resolve("nvme2n1");
        String add = "mdadm --manage " + dev.resolve("md127") + " --add " + dev.resolve("nvme3n1");
        await().atMost(Duration.ofSeconds(20)).until(() -> since(before).contains(add)
                && since(before).contains("nvme disconnect -n " + nqn(lost)));
        assertThat(since(before)).containsSubsequence(fail, "nvme disconnect -n " + nqn(lost));
        assertThat(since(before)).containsSubsequence(connect(2), "mdadm --examine --export " + dev.resolve("nvme3n1"),
                "wipefs --noheadings --output TYPE,OFFSET,USAGE " + dev.resolve("nvme3n1"), add);
        assertThat(since(before)).filteredOn(c -> c.contains("--add")).hasSize(1);
        // md rebuilds the new leg: reported with its progress, then healthy once in sync.
        write(md.resolve("sync_action"), "recover");
        write(md.resolve("sync_completed"), "1048576 / 2097152");
        write(md.resolve("sync_speed"), "20480");
        await().atMost(Duration.ofSeconds(10)).until(() -> stats().getVolumeCondition().getMessage().equals(
                "mirror rebuilding (md127): 1 of 2 legs in sync; leg " + replacement + " (nvme3n1) rebuilding;"
                        + " recover 50.0% at 20.0 MiB/s"));
        write(md.resolve("dev-nvme3n1/state"), "in_sync");
        write(md.resolve("sync_action"), "idle");
        write(md.resolve("sync_completed"), "none");
        assertThat(stats().getVolumeCondition().getMessage()).isEqualTo("mirror healthy (md127): 2 of 2 legs in sync");
        assertThat(stats().getVolumeCondition().getAbnormal()).isFalse();

        unstage();
        assertThat(leftOver()).isEmpty();
    }

    Optional<MirrorReport> report() {
        return result(store.get(keys.mirrorReport(VOLUME, CONSUMER), MirrorReport.class)).map(Versioned::value);
    }

    static List<String> legs(MirrorReport report) {
        return report.legs().stream().map(l -> l.part() + " " + l.state().value()).toList();
    }

    @Test
    void aLegMovingJoinsTheArrayInASlotOfItsOwnIsReportedAndTheLegItReplacesGivesItsSlotBack() throws Exception {
        VolumeParts placed = writeVolume(Layout.MIRROR, List.of(GI, GI));
        Function<Command, CommandResult> noSuperblock = c -> new CommandResult(c, 1, "",
                "mdadm: No md superblock detected on " + c.argv().get(3) + ".\n", Duration.ZERO);
        runner.on(List.of("mdadm", "--examine"), noSuperblock).on(List.of("wipefs"), "").on(List.of("mkfs.ext4"), "")
                .on(List.of("stat", "-f"), "393216 262144 245760 4096 98304 98000\n");
        Path md = sys.resolve("block/md127/md");
        runner.on(List.of("mdadm", "--manage"), c -> {
            List<String> argv = c.argv();
            if (argv.contains("--fail")) {
                delete(md.resolve("dev-" + Path.of(argv.get(argv.indexOf("--fail") + 1)).getFileName()));
            }
            if (argv.contains("--add")) {
                // No free slot: md keeps the new leg a spare.
                write(md.resolve("dev-" + Path.of(argv.get(argv.indexOf("--add") + 1)).getFileName() + "/state"), "spare");
            }
            return ok(c);
        });
        runner.on(List.of("mdadm", "--grow"), c -> {
            String slots = c.argv().get(3).substring("--raid-devices=".length());
            write(md.resolve("raid_disks"), slots);
            if (slots.equals("3")) {
                write(md.resolve("dev-nvme3n1/state"), "");
                write(md.resolve("sync_action"), "recover");
                write(md.resolve("sync_completed"), "524288 / 2097152");
            }
            return ok(c);
        });
        mirrorCheck = Duration.ofMillis(200);
        startPlugin();
        stage();
        write(md.resolve("dev-nvme1n1/state"), "in_sync");
        write(md.resolve("dev-nvme2n1/state"), "in_sync");
        write(md.resolve("sync_action"), "idle");
        write(md.resolve("raid_disks"), "2");
        String from = PartNames.of(VOLUME, 0);
        String stays = PartNames.of(VOLUME, 1);
        String joining = PartNames.of(VOLUME, 2);
        await().atMost(Duration.ofSeconds(10)).until(() -> report().map(r -> legs(r).equals(List.of(from + " in-sync",
                stays + " in-sync"))).orElse(false));
        assertThat(report().orElseThrow().arrayUuid()).isEqualTo(MIRROR_UUID);
        assertThat(report().orElseThrow().node()).isEqualTo(CONSUMER);
        int before = runner.commandLines().size();

        // The controller moves leg 0: leg 2, blank, on another pool, served here, joins as a third member.
        result(store.put(keys.volume(joining), VolumeIntent.builder(joining, GI).partOf(VOLUME)
                .consumerNode(CONSUMER).createdBy("controller").createdAt(T).build()));
        result(store.put(keys.placement(joining), Placement.of(joining, "pool-c", SERVER, Engine.FILE, GI,
                true, 1, CONSUMER, null, null, T)));
        result(store.put(keys.volumeScheduling(joining), VolumeScheduling.of(joining, SchedulingPhase.PLACED,
                Map.of(), null, SERVER, "pool-c", true, 1, T)));
        result(store.put(keys.volumeStatus(SERVER, joining), VolumeStatus.of(joining, SERVER, VolumePhase.READY,
                "/dev/loop2", GI, export(joining), 1, null, T)));
        VolumeParts moving = placed.withJoining(new VolumeParts.Part(joining, 2, GI, null, from));
        result(store.put(keys.volumeParts(VOLUME), moving));

        String add = "mdadm --manage " + dev.resolve("md127") + " --add " + dev.resolve("nvme3n1");
        String grow = "mdadm --grow " + dev.resolve("md127") + " --raid-devices=3";
        await().atMost(Duration.ofSeconds(20)).until(() -> since(before).contains(grow));
        assertThat(since(before)).containsSubsequence(connect(2), "mdadm --examine --export " + dev.resolve("nvme3n1"),
                "wipefs --noheadings --output TYPE,OFFSET,USAGE " + dev.resolve("nvme3n1"), add, grow);
        await().atMost(Duration.ofSeconds(10)).until(() -> report().map(r -> legs(r).equals(List.of(from + " in-sync",
                stays + " in-sync", joining + " rebuilding")) && r.syncAction().equals("recover")
                && r.syncPercent() == 25.0).orElse(false));
        // Both legs that hold the data are in sync: a move is no degraded mirror.
        assertThat(stats().getVolumeCondition()).satisfies(c -> {
            assertThat(c.getAbnormal()).isFalse();
            assertThat(c.getMessage()).isEqualTo("mirror moving (md127): 2 of 3 legs in sync; leg " + joining
                    + " (nvme3n1) rebuilding; recover 25.0% at 0.0 MiB/s");
        });
        // A restage while the leg joins finds the running array as it is.
        stage();

        write(md.resolve("dev-nvme3n1/state"), "in_sync");
        write(md.resolve("sync_action"), "idle");
        write(md.resolve("sync_completed"), "none");
        await().atMost(Duration.ofSeconds(10)).until(() -> report().map(r -> r.inSync(joining) && r.syncPercent() == -1)
                .orElse(false));

        // The controller sees it in sync and commits the move: leg 0 retired, leg 2 in its place.
        int moved = runner.commandLines().size();
        result(store.put(keys.volumeParts(VOLUME), moving.withMoveDone()));
        String fail = "mdadm --manage " + dev.resolve("md127") + " --fail " + dev.resolve("nvme1n1") + " --remove "
                + dev.resolve("nvme1n1");
        String shrink = "mdadm --grow " + dev.resolve("md127") + " --raid-devices=2";
        await().atMost(Duration.ofSeconds(20)).until(() -> since(moved).contains(shrink)
                && since(moved).contains("nvme disconnect -n " + nqn(from)));
        assertThat(since(moved)).containsSubsequence(fail, shrink);
        await().atMost(Duration.ofSeconds(10)).until(() -> report().map(r -> legs(r).equals(List.of(joining + " in-sync",
                stays + " in-sync"))).orElse(false));
        assertThat(since(moved)).filteredOn(c -> c.startsWith("mdadm --grow")).containsExactly(shrink);

        unstage();
        assertThat(report()).as("withdrawn with the array").isEmpty();
        assertThat(leftOver()).isEmpty();
    }
}
