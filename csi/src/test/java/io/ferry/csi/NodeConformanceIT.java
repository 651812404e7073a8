package io.ferry.csi;

import io.ferry.csi.v1.CapacityRange;
import io.ferry.csi.v1.ControllerExpandVolumeRequest;
import io.ferry.csi.v1.CreateSnapshotRequest;
import io.ferry.csi.v1.DeleteSnapshotRequest;
import io.ferry.csi.v1.DeleteVolumeRequest;
import io.ferry.csi.v1.NodeExpandVolumeRequest;
import io.ferry.csi.v1.NodeGetInfoRequest;
import io.ferry.csi.v1.NodeGetInfoResponse;
import io.ferry.csi.v1.NodeGetVolumeStatsRequest;
import io.ferry.csi.v1.NodeGetVolumeStatsResponse;
import io.ferry.csi.v1.NodePublishVolumeRequest;
import io.ferry.csi.v1.NodeStageVolumeRequest;
import io.ferry.csi.v1.NodeUnpublishVolumeRequest;
import io.ferry.csi.v1.NodeUnstageVolumeRequest;
import io.ferry.csi.v1.VolumeCapability;
import io.ferry.csi.v1.VolumeContentSource;
import io.ferry.csi.v1.VolumeUsage;
import io.ferry.model.VolumeStatus;
import io.ferry.runtime.device.TestDisks;
import io.ferry.runtime.exec.Command;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

import static io.ferry.etcd.testing.Await.result;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;
import static io.ferry.csi.CsiRequests.MI;
import static io.ferry.csi.CsiRequests.block;
import static io.ferry.csi.CsiRequests.code;
import static io.ferry.csi.CsiRequests.create;
import static io.ferry.csi.CsiRequests.message;
import static io.ferry.csi.CsiRequests.mount;

/**
 * The node service's conformance to the CSI specification (the rows of docs/csi.md's table for
 * NodeGetInfo, NodeStage/Unstage, NodePublish/Unpublish, NodeGetVolumeStats and NodeExpandVolume)
 * on real loop devices, mkfs and mounts made through the real file-engine agent ({@link CsiHarness}).
 * Must run as root.
 */
class NodeConformanceIT extends ConformanceTest {

    /** Creates a local filesystem volume, stages and publishes it; returns the target path. */
    Path stagedAndPublished(String volume) {
        h.controller().createVolume(create(volume, 16 * MI).putParameters("positionAdvice", "MustLocal").build());
        Path staging = h.dir("staging/" + volume);
        Path target = h.dir("pods/" + volume + "/volume");
        h.node().nodeStageVolume(NodeStageVolumeRequest.newBuilder().setVolumeId(volume)
                .setStagingTargetPath(staging.toString()).setVolumeCapability(mount("ext4")).build());
        h.node().nodePublishVolume(NodePublishVolumeRequest.newBuilder().setVolumeId(volume)
                .setStagingTargetPath(staging.toString()).setTargetPath(target.toString())
                .setVolumeCapability(mount("ext4")).build());
        return target;
    }

    void unpublishAndUnstage(String volume, Path target) {
        h.node().nodeUnpublishVolume(NodeUnpublishVolumeRequest.newBuilder().setVolumeId(volume)
                .setTargetPath(target.toString()).build());
        h.node().nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder().setVolumeId(volume)
                .setStagingTargetPath(h.dir("staging/" + volume).toString()).build());
    }

    Status.Code stats(String volume, String path) {
        return code(() -> h.node().nodeGetVolumeStats(NodeGetVolumeStatsRequest.newBuilder().setVolumeId(volume)
                .setVolumePath(path).build()));
    }

    // ---- NodeGetInfo ----

    @Test
    void nodeGetInfoReportsTheNodeAndItsFailureDomains() {
        NodeGetInfoResponse info = h.node().nodeGetInfo(NodeGetInfoRequest.getDefaultInstance());
        assertThat(info.getNodeId()).isEqualTo(CsiHarness.NODE);
        assertThat(info.getAccessibleTopology().getSegmentsMap()).containsEntry(Driver.TOPOLOGY_NODE, CsiHarness.NODE)
                .containsEntry(Driver.TOPOLOGY_RACK, "r1").containsEntry(Driver.TOPOLOGY_ZONE, "z1");
    }

    // ---- NodeStageVolume, NodeUnstageVolume ----

    @Test
    void nodeStagePublishStatsExpandUnpublishUnstageOnARealDevice() throws Exception {
        h.controller().createVolume(create("pvc-fs", 64 * MI).putParameters("positionAdvice", "MustLocal").build());
        Path staging = h.dir("staging/pvc-fs");
        Path target = h.dir("pods/p1/volume");
        NodeStageVolumeRequest stage = NodeStageVolumeRequest.newBuilder().setVolumeId("pvc-fs")
                .setStagingTargetPath(staging.toString()).setVolumeCapability(mount("ext4")).build();
        h.node().nodeStageVolume(stage);
        h.node().nodeStageVolume(stage);
        String device = h.devicePath("pvc-fs");
        assertThat(h.loopDevices()).anySatisfy(loop -> {
            assertThat(loop.device()).isEqualTo(device);
            assertThat(loop.backingFile()).endsWith("/" + CsiHarness.POOL + "/pvc-fs.img");
        });
        assertThat(h.runner.run(Command.of("blkid", "-s", "TYPE", "-o", "value", device)).stdout().strip()).isEqualTo("ext4");
        assertThat(new Mounts(Path.of("/proc/self/mountinfo")).at(staging)).isPresent();
        // A thick volume stays allocated: mkfs's discard through the loop device would punch holes
        // in its file and leave it sparse (33 MB of 1 GiB was seen).
        String file = h.loopDevices().stream().filter(l -> l.device().equals(device)).findFirst().orElseThrow().backingFile();
        String[] blocks = h.runner.run(Command.of("stat", "-c", "%b %B", file)).stdout().strip().split(" ");
        assertThat(Long.parseLong(blocks[0]) * Long.parseLong(blocks[1])).as("bytes allocated to " + file)
                .isGreaterThanOrEqualTo(64 * MI);

        NodePublishVolumeRequest publish = NodePublishVolumeRequest.newBuilder().setVolumeId("pvc-fs")
                .setStagingTargetPath(staging.toString()).setTargetPath(target.toString())
                .setVolumeCapability(mount("ext4")).build();
        h.node().nodePublishVolume(publish);
        h.node().nodePublishVolume(publish);
        Files.writeString(target.resolve("hello"), "world");
        assertThat(Files.readString(staging.resolve("hello"))).isEqualTo("world");
        assertThat(code(() -> h.node().nodePublishVolume(publish.toBuilder().setReadonly(true).build())))
                .isEqualTo(Status.Code.ALREADY_EXISTS);

        Path readOnly = h.dir("pods/p2/volume");
        h.node().nodePublishVolume(publish.toBuilder().setTargetPath(readOnly.toString()).setReadonly(true).build());
        assertThat(new Mounts(Path.of("/proc/self/mountinfo")).at(readOnly).orElseThrow().readOnly()).isTrue();

        NodeGetVolumeStatsResponse stats = h.node().nodeGetVolumeStats(NodeGetVolumeStatsRequest.newBuilder()
                .setVolumeId("pvc-fs").setVolumePath(target.toString()).build());
        assertThat(stats.getUsageList()).extracting(VolumeUsage::getUnit).containsExactly(VolumeUsage.Unit.BYTES, VolumeUsage.Unit.INODES);
        assertThat(stats.getUsage(0).getTotal()).isBetween(40 * MI, 64 * MI);
        assertThat(stats.getVolumeCondition().getAbnormal()).isFalse();

        h.controller().controllerExpandVolume(ControllerExpandVolumeRequest.newBuilder().setVolumeId("pvc-fs")
                .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(128 * MI)).build());
        NodeExpandVolumeRequest expand = NodeExpandVolumeRequest.newBuilder().setVolumeId("pvc-fs")
                .setVolumePath(target.toString()).setStagingTargetPath(staging.toString()).build();
        try {
            assertThat(h.node().nodeExpandVolume(expand).getCapacityBytes()).isEqualTo(128 * MI);
            long grown = h.node().nodeGetVolumeStats(NodeGetVolumeStatsRequest.newBuilder().setVolumeId("pvc-fs")
                    .setVolumePath(target.toString()).build()).getUsage(0).getTotal();
            assertThat(grown).isGreaterThan(stats.getUsage(0).getTotal());
        } catch (StatusRuntimeException e) {
            // Some sandboxes (this build machine among them) refuse the online-resize ioctl even to
            // root; then the failure must carry resize2fs's own stderr.
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INTERNAL);
            assertThat(e.getStatus().getDescription()).contains("resize2fs").contains("Permission denied to resize filesystem");
        }
        for (Path p : List.of(target, readOnly)) {
            NodeUnpublishVolumeRequest unpublish = NodeUnpublishVolumeRequest.newBuilder().setVolumeId("pvc-fs")
                    .setTargetPath(p.toString()).build();
            h.node().nodeUnpublishVolume(unpublish);
            h.node().nodeUnpublishVolume(unpublish);
            assertThat(p).doesNotExist();
        }
        NodeUnstageVolumeRequest unstage = NodeUnstageVolumeRequest.newBuilder().setVolumeId("pvc-fs")
                .setStagingTargetPath(staging.toString()).build();
        h.node().nodeUnstageVolume(unstage);
        h.node().nodeUnstageVolume(unstage);
        assertThat(new Mounts(Path.of("/proc/self/mountinfo")).at(staging)).isEmpty();

        // The filesystem survives restaging: it is mounted again, never formatted twice.
        h.node().nodeStageVolume(stage);
        assertThat(Files.readString(staging.resolve("hello"))).isEqualTo("world");
        h.node().nodeUnstageVolume(unstage);
    }

    @Test
    void nodeCallsValidatePathsAndReportUnknownVolumes() {
        assertThat(code(() -> h.node().nodeStageVolume(NodeStageVolumeRequest.newBuilder().setVolumeId("pvc-x")
                .setStagingTargetPath("relative/path").setVolumeCapability(mount("ext4")).build())))
                .isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(code(() -> h.node().nodeStageVolume(NodeStageVolumeRequest.newBuilder().setVolumeId("pvc-x")
                .setStagingTargetPath("/tmp/../etc").setVolumeCapability(mount("ext4")).build())))
                .isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(code(() -> h.node().nodeStageVolume(NodeStageVolumeRequest.newBuilder().setVolumeId("no-such-volume")
                .setStagingTargetPath(h.dir("s").toString()).setVolumeCapability(mount("ext4")).build())))
                .isEqualTo(Status.Code.NOT_FOUND);
        assertThat(code(() -> h.node().nodeGetVolumeStats(NodeGetVolumeStatsRequest.newBuilder().setVolumeId("pvc-x")
                .setVolumePath(h.dir("missing").toString()).build()))).isEqualTo(Status.Code.NOT_FOUND);
        h.node().nodeUnpublishVolume(NodeUnpublishVolumeRequest.newBuilder().setVolumeId("no-such-volume")
                .setTargetPath(h.dir("never").toString()).build());
        h.node().nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder().setVolumeId("no-such-volume")
                .setStagingTargetPath(h.dir("never").toString()).build());
    }

    @Test
    void nodeStageAgainWithAnotherFilesystemAtTheSameStagingPathIsAlreadyExists() {
        Path target = stagedAndPublished("pvc-staged");
        try {
            NodeStageVolumeRequest stage = NodeStageVolumeRequest.newBuilder().setVolumeId("pvc-staged")
                    .setStagingTargetPath(h.dir("staging/pvc-staged").toString()).setVolumeCapability(mount("ext4")).build();
            h.node().nodeStageVolume(stage);
            h.node().nodeStageVolume(stage.toBuilder().setVolumeCapability(mount("")).build());
            assertThat(message(() -> h.node().nodeStageVolume(stage.toBuilder().setVolumeCapability(mount("xfs")).build())))
                    .contains("already staged at " + h.dir("staging/pvc-staged") + " as ext4, not xfs");
            assertThat(code(() -> h.node().nodeStageVolume(stage.toBuilder().setVolumeCapability(mount("xfs")).build())))
                    .isEqualTo(Status.Code.ALREADY_EXISTS);
        } finally {
            unpublishAndUnstage("pvc-staged", target);
        }
    }

    @Test
    void nodeStageRefusesToFormatADeviceThatHoldsOnlyAPartitionTableAndLeavesItUntouched() throws Exception {
        // A partitioned disk has no filesystem TYPE, which is all a blkid TYPE check looked at
        // before formatting; mke2fs asks before overwriting a partition table only on a terminal.
        h.controller().createVolume(create("pvc-pt", 16 * MI).putParameters("positionAdvice", "MustLocal").build());
        String device = h.devicePath("pvc-pt");
        TestDisks.writeDosPartitionTable(device, 16 * MI);
        String before = TestDisks.sha256(device);
        Path staging = h.dir("staging/pvc-pt");
        NodeStageVolumeRequest stage = NodeStageVolumeRequest.newBuilder().setVolumeId("pvc-pt")
                .setStagingTargetPath(staging.toString()).setVolumeCapability(mount("ext4")).build();
        assertThatThrownBy(() -> h.node().nodeStageVolume(stage)).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
            assertThat(e.getStatus().getDescription()).contains("volume pvc-pt is not blank")
                    .contains("dos (partition-table) at offset 0x1fe").contains(device);
        });
        assertThat(TestDisks.sha256(device)).isEqualTo(before);
        assertThat(new Mounts(Path.of("/proc/self/mountinfo")).at(staging)).isEmpty();
        assertThat(h.runner.execute(Command.of("blkid", "-p", "-s", "TYPE", "-o", "value", device)).stdout()).isBlank();
    }

    @Test
    void nodeStageRefusesAnotherFilesystemAndMountsTheRequestedOneAsItIs() throws Exception {
        h.controller().createVolume(create("pvc-xfs", 320 * MI).putParameters("positionAdvice", "MustLocal").build());
        String device = h.devicePath("pvc-xfs");
        h.runner.run(Command.of("mkfs.xfs", "-q", "-L", "theirs", device));
        String before = TestDisks.sha256(device);
        Path staging = h.dir("staging/pvc-xfs");
        NodeStageVolumeRequest asExt4 = NodeStageVolumeRequest.newBuilder().setVolumeId("pvc-xfs")
                .setStagingTargetPath(staging.toString()).setVolumeCapability(mount("ext4")).build();
        assertThat(message(() -> h.node().nodeStageVolume(asExt4))).contains("holds no ext4 filesystem")
                .contains("xfs (filesystem) at offset 0x0");
        assertThat(TestDisks.sha256(device)).isEqualTo(before);
        h.node().nodeStageVolume(asExt4.toBuilder().setVolumeCapability(mount("xfs")).build());
        assertThat(h.runner.run(Command.of("blkid", "-p", "-s", "LABEL", "-o", "value", device)).stdout().strip())
                .isEqualTo("theirs");
        h.node().nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder().setVolumeId("pvc-xfs")
                .setStagingTargetPath(staging.toString()).build());
    }

    /** Writes a status for a volume of {@link CsiHarness#NODE} and waits until the plugin has seen it. */
    void putStatus(VolumeStatus status) {
        result(h.store.put(h.keys.volumeStatus(CsiHarness.NODE, status.volume()), status));
        await().atMost(Duration.ofSeconds(10)).until(() -> h.server.view().volumeStatus(CsiHarness.NODE, status.volume())
                .filter(status::equals).isPresent());
    }

    static VolumeStatus withDevice(VolumeStatus s, String devicePath) {
        return VolumeStatus.of(s.volume(), s.node(), s.phase(), devicePath, s.sizeBytes(), s.export(),
                s.observedGeneration(), s.message(), s.updatedAt());
    }

    @Test
    void nodeStageRefusesADevicePathFromAForgedStatusAndLeavesThatDeviceUntouched() throws Exception {
        // Whoever can write a volume status in etcd must not get another device formatted and mounted:
        // a loop device of somebody else's file, another Ferry volume's device, /dev/null, a file.
        h.controller().createVolume(create("pvc-mine", 16 * MI).putParameters("positionAdvice", "MustLocal").build());
        h.controller().createVolume(create("pvc-other", 16 * MI).putParameters("positionAdvice", "MustLocal").build());
        VolumeStatus genuine = result(h.store.get(h.keys.volumeStatus(CsiHarness.NODE, "pvc-mine"), VolumeStatus.class))
                .orElseThrow().value();
        String other = h.devicePath("pvc-other");
        Path outside = Files.createDirectories(h.root.resolve("outside"));
        Path precious = outside.resolve("precious.img");
        Path regular = outside.resolve("regular.img");
        byte[] bytes = new byte[(int) (16 * MI)];
        new Random(7).nextBytes(bytes);
        Files.write(precious, bytes);
        Files.write(regular, bytes);
        String foreign = h.runner.run(Command.of("losetup", "--find", "--show", precious.toString())).stdout().strip();
        Path pool = h.poolMount.resolve(CsiHarness.POOL).toRealPath();
        Path staging = h.dir("staging/pvc-mine");
        NodeStageVolumeRequest stage = NodeStageVolumeRequest.newBuilder().setVolumeId("pvc-mine")
                .setStagingTargetPath(staging.toString()).setVolumeCapability(mount("ext4")).build();
        try {
            // The agent would rewrite its status at once; stopped, it leaves the forged one in place.
            h.stopAgent();
            Map<String, String> before = new LinkedHashMap<>();
            for (String path : List.of(foreign, other, regular.toString())) {
                before.put(path, TestDisks.sha256(path));
            }
            Map<String, String> mismatch = Map.of(
                    foreign, "its backing file is " + precious.toRealPath() + ", not " + pool.resolve("pvc-mine.img"),
                    other, "its backing file is " + pool.resolve("pvc-other.img"),
                    "/dev/null", "whose devices are loop devices /dev/loopN",
                    regular.toString(), "whose devices are loop devices /dev/loopN");
            for (Map.Entry<String, String> forged : mismatch.entrySet()) {
                putStatus(withDevice(genuine, forged.getKey()));
                for (NodeStageVolumeRequest request : List.of(stage, stage.toBuilder().setVolumeCapability(block()).build())) {
                    assertThatThrownBy(() -> h.node().nodeStageVolume(request)).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
                        assertThat(e.getStatus().getDescription()).contains("volume pvc-mine")
                                .contains("refusing device " + forged.getKey()).contains(forged.getValue());
                    });
                }
                Path target = h.dir("pods/p4/dev/pvc-mine");
                assertThat(code(() -> h.node().nodePublishVolume(NodePublishVolumeRequest.newBuilder().setVolumeId("pvc-mine")
                        .setStagingTargetPath(staging.toString()).setTargetPath(target.toString())
                        .setVolumeCapability(block()).build()))).isEqualTo(Status.Code.FAILED_PRECONDITION);
                assertThat(new Mounts(Path.of("/proc/self/mountinfo")).at(staging)).isEmpty();
                assertThat(new Mounts(Path.of("/proc/self/mountinfo")).at(target)).isEmpty();
            }
            for (Map.Entry<String, String> e : before.entrySet()) {
                assertThat(TestDisks.sha256(e.getKey())).as(e.getKey()).isEqualTo(e.getValue());
            }

            // The genuine status still works; a status forged after staging makes the volume abnormal
            // and NodeExpandVolume refuses to grow what is mounted.
            putStatus(genuine);
            h.node().nodeStageVolume(stage);
            assertThat(new Mounts(Path.of("/proc/self/mountinfo")).at(staging).orElseThrow().source())
                    .isEqualTo(genuine.devicePath());
            putStatus(withDevice(genuine, foreign));
            NodeGetVolumeStatsResponse stats = h.node().nodeGetVolumeStats(NodeGetVolumeStatsRequest.newBuilder()
                    .setVolumeId("pvc-mine").setVolumePath(staging.toString()).build());
            assertThat(stats.getVolumeCondition().getAbnormal()).isTrue();
            assertThat(stats.getVolumeCondition().getMessage()).contains("refusing device " + foreign);
            assertThat(message(() -> h.node().nodeExpandVolume(NodeExpandVolumeRequest.newBuilder().setVolumeId("pvc-mine")
                    .setVolumePath(staging.toString()).build()))).contains("volume pvc-mine").contains(foreign);
            putStatus(genuine);
            h.node().nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder().setVolumeId("pvc-mine")
                    .setStagingTargetPath(staging.toString()).build());
            assertThat(TestDisks.sha256(foreign)).isEqualTo(before.get(foreign));
        } finally {
            result(h.store.put(h.keys.volumeStatus(CsiHarness.NODE, "pvc-mine"), genuine));
            h.runner.execute(Command.of("losetup", "-d", foreign));
            h.startAgent();
        }
    }

    @Test
    void aVolumeRestoredFromASnapshotIntoALargerSizeIsStagedWithItsFilesystemGrownToTheDevice() throws Exception {
        h.controller().createVolume(create("pvc-small", 32 * MI).putParameters("positionAdvice", "MustLocal").build());
        Path staging = h.dir("staging/pvc-small");
        NodeStageVolumeRequest stage = NodeStageVolumeRequest.newBuilder().setVolumeId("pvc-small")
                .setStagingTargetPath(staging.toString()).setVolumeCapability(mount("ext4")).build();
        h.node().nodeStageVolume(stage);
        long smallBytes = Files.getFileStore(staging).getTotalSpace();
        Files.writeString(staging.resolve("kept.txt"), "from the snapshot point");
        h.node().nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder().setVolumeId("pvc-small")
                .setStagingTargetPath(staging.toString()).build());
        h.controller().createSnapshot(CreateSnapshotRequest.newBuilder().setName("snap-grow").setSourceVolumeId("pvc-small")
                .build());
        h.controller().createVolume(create("pvc-bigger", 128 * MI).putParameters("positionAdvice", "MustLocal")
                .setVolumeContentSource(VolumeContentSource.newBuilder().setSnapshot(VolumeContentSource.SnapshotSource
                        .newBuilder().setSnapshotId("snap-grow"))).build());

        // Kubernetes never calls NodeExpandVolume for a volume made larger than its snapshot:
        // staging must leave the filesystem the size of the device, with the snapshot's data.
        Path bigger = h.dir("staging/pvc-bigger");
        h.node().nodeStageVolume(stage.toBuilder().setVolumeId("pvc-bigger").setStagingTargetPath(bigger.toString()).build());
        assertThat(Files.readString(bigger.resolve("kept.txt"))).isEqualTo("from the snapshot point");
        assertThat(smallBytes).isLessThan(32 * MI);
        assertThat(Files.getFileStore(bigger).getTotalSpace()).as("the filesystem's size after staging")
                .isGreaterThan(96 * MI);
        h.node().nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder().setVolumeId("pvc-bigger")
                .setStagingTargetPath(bigger.toString()).build());
        h.controller().deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId("pvc-bigger").build());
        h.controller().deleteSnapshot(DeleteSnapshotRequest.newBuilder().setSnapshotId("snap-grow").build());
    }

    // ---- NodePublishVolume, NodeUnpublishVolume ----

    @Test
    void nodePublishesARawBlockVolumeAsADeviceFile() {
        h.controller().createVolume(create("pvc-blk", 16 * MI).clearVolumeCapabilities().addVolumeCapabilities(block())
                .putParameters("positionAdvice", "MustLocal").build());
        Path staging = h.dir("staging/pvc-blk");
        Path target = h.dir("pods/p3/dev/pvc-blk");
        h.node().nodeStageVolume(NodeStageVolumeRequest.newBuilder().setVolumeId("pvc-blk")
                .setStagingTargetPath(staging.toString()).setVolumeCapability(block()).build());
        h.node().nodePublishVolume(NodePublishVolumeRequest.newBuilder().setVolumeId("pvc-blk")
                .setStagingTargetPath(staging.toString()).setTargetPath(target.toString()).setVolumeCapability(block()).build());
        long bytes = Long.parseLong(h.runner.run(Command.of("blockdev", "--getsize64", target.toString())).stdout().strip());
        assertThat(bytes).isEqualTo(16 * MI);
        h.node().nodeUnpublishVolume(NodeUnpublishVolumeRequest.newBuilder().setVolumeId("pvc-blk")
                .setTargetPath(target.toString()).build());
        assertThat(target).doesNotExist();
        h.node().nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder().setVolumeId("pvc-blk")
                .setStagingTargetPath(staging.toString()).build());
    }

    static VolumeCapability withMode(VolumeCapability cap, VolumeCapability.AccessMode.Mode mode) {
        return cap.toBuilder().setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(mode)).build();
    }

    @Test
    void aSingleNodeSingleWriterVolumeIsPublishedAtOneTargetPathOnly() {
        Path first = stagedAndPublished("pvc-one");
        Path second = h.dir("pods/second/volume");
        NodePublishVolumeRequest single = NodePublishVolumeRequest.newBuilder().setVolumeId("pvc-one")
                .setStagingTargetPath(h.dir("staging/pvc-one").toString()).setTargetPath(second.toString())
                .setVolumeCapability(withMode(mount("ext4"), VolumeCapability.AccessMode.Mode.SINGLE_NODE_SINGLE_WRITER))
                .build();
        h.controller().createVolume(create("pvc-blk", 16 * MI).clearVolumeCapabilities().addVolumeCapabilities(block())
                .putParameters("positionAdvice", "MustLocal").build());
        VolumeCapability singleBlock = withMode(block(), VolumeCapability.AccessMode.Mode.SINGLE_NODE_SINGLE_WRITER);
        NodePublishVolumeRequest blockPublish = NodePublishVolumeRequest.newBuilder().setVolumeId("pvc-blk")
                .setStagingTargetPath(h.dir("staging/pvc-blk").toString()).setTargetPath(h.dir("pods/b1/dev").toString())
                .setVolumeCapability(singleBlock).build();
        try {
            assertThat(message(() -> h.node().nodePublishVolume(single)))
                    .contains("volume pvc-one is SINGLE_NODE_SINGLE_WRITER and already published at [" + first + "]");
            assertThat(code(() -> h.node().nodePublishVolume(single))).isEqualTo(Status.Code.FAILED_PRECONDITION);
            assertThat(new Mounts(Path.of("/proc/self/mountinfo")).at(second)).isEmpty();
            // The same target again, or another capability at it.
            NodePublishVolumeRequest again = single.toBuilder().setTargetPath(first.toString()).build();
            h.node().nodePublishVolume(again);
            assertThat(code(() -> h.node().nodePublishVolume(again.toBuilder().setVolumeCapability(block()).build())))
                    .isEqualTo(Status.Code.ALREADY_EXISTS);
            // SINGLE_NODE_MULTI_WRITER (and the older SINGLE_NODE_WRITER) may be published at several paths.
            h.node().nodePublishVolume(single.toBuilder().setVolumeCapability(
                    withMode(mount("ext4"), VolumeCapability.AccessMode.Mode.SINGLE_NODE_MULTI_WRITER)).build());
            h.node().nodeUnpublishVolume(NodeUnpublishVolumeRequest.newBuilder().setVolumeId("pvc-one")
                    .setTargetPath(second.toString()).build());

            h.node().nodeStageVolume(NodeStageVolumeRequest.newBuilder().setVolumeId("pvc-blk")
                    .setStagingTargetPath(h.dir("staging/pvc-blk").toString()).setVolumeCapability(singleBlock).build());
            h.node().nodePublishVolume(blockPublish);
            h.node().nodePublishVolume(blockPublish);
            assertThat(code(() -> h.node().nodePublishVolume(blockPublish.toBuilder()
                    .setTargetPath(h.dir("pods/b2/dev").toString()).build()))).isEqualTo(Status.Code.FAILED_PRECONDITION);
        } finally {
            unpublishAndUnstage("pvc-one", first);
            h.node().nodeUnpublishVolume(NodeUnpublishVolumeRequest.newBuilder().setVolumeId("pvc-blk")
                    .setTargetPath(blockPublish.getTargetPath()).build());
            h.node().nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder().setVolumeId("pvc-blk")
                    .setStagingTargetPath(h.dir("staging/pvc-blk").toString()).build());
        }
    }

    @Test
    void nodePublishRefusesAVolumeThatIsNotStagedOrDoesNotExist() {
        h.controller().createVolume(create("pvc-unstaged", 16 * MI).putParameters("positionAdvice", "MustLocal").build());
        NodePublishVolumeRequest publish = NodePublishVolumeRequest.newBuilder().setVolumeId("pvc-unstaged")
                .setStagingTargetPath(h.dir("staging/pvc-unstaged").toString())
                .setTargetPath(h.dir("pods/unstaged/volume").toString()).setVolumeCapability(mount("ext4")).build();
        assertThat(code(() -> h.node().nodePublishVolume(publish))).isEqualTo(Status.Code.FAILED_PRECONDITION);
        assertThat(code(() -> h.node().nodePublishVolume(publish.toBuilder().setVolumeId("no-such-volume").build())))
                .isEqualTo(Status.Code.NOT_FOUND);
        assertThat(h.dir("pods/unstaged/volume")).doesNotExist();
    }

    // ---- NodeGetVolumeStats, NodeExpandVolume ----

    @Test
    void nodeGetVolumeStatsAnswersNotFoundForAnUnknownVolumeAndForAPathWhereTheVolumeIsNot() throws Exception {
        Path mine = stagedAndPublished("pvc-mine");
        Path other = stagedAndPublished("pvc-other");
        Path empty = Files.createDirectories(h.dir("pods/empty/volume"));
        try {
            assertThat(stats("pvc-mine", mine.toString())).isEqualTo(Status.Code.OK);
            assertThat(stats("no-such-volume", mine.toString())).isEqualTo(Status.Code.NOT_FOUND);
            assertThat(stats("Not A Ferry Name", mine.toString())).isEqualTo(Status.Code.NOT_FOUND);
            // csi-sanity asks with "some/path": a relative path is where no volume is.
            assertThat(stats("pvc-mine", "some/path")).isEqualTo(Status.Code.NOT_FOUND);
            assertThat(stats("pvc-mine", h.dir("pods/nowhere").toString())).isEqualTo(Status.Code.NOT_FOUND);
            assertThat(stats("pvc-mine", mine + "/../volume")).isEqualTo(Status.Code.NOT_FOUND);
            assertThat(stats("pvc-mine", empty.toString())).isEqualTo(Status.Code.NOT_FOUND);
            assertThat(message(() -> h.node().nodeGetVolumeStats(NodeGetVolumeStatsRequest.newBuilder()
                    .setVolumeId("pvc-mine").setVolumePath(other.toString()).build())))
                    .contains("volume pvc-mine is not at " + other).contains(h.devicePath("pvc-other"));
            assertThat(stats("pvc-mine", other.toString())).isEqualTo(Status.Code.NOT_FOUND);
            assertThat(stats("pvc-mine", "")).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(stats("", mine.toString())).isEqualTo(Status.Code.INVALID_ARGUMENT);
        } finally {
            unpublishAndUnstage("pvc-mine", mine);
            unpublishAndUnstage("pvc-other", other);
        }
    }

    @Test
    void nodeExpandVolumeAnswersNotFoundForAnUnknownVolumeAndSucceedsOnAPublishedFilesystem() {
        Path target = stagedAndPublished("pvc-grow");
        try {
            for (String path : new String[] {target.toString(), "some/path", h.dir("pods/nowhere").toString()}) {
                assertThat(code(() -> h.node().nodeExpandVolume(NodeExpandVolumeRequest.newBuilder()
                        .setVolumeId("no-such-volume").setVolumePath(path).build()))).as(path).isEqualTo(Status.Code.NOT_FOUND);
            }
            // As csi-sanity does it: right after NodePublish, the staging path and the capability given.
            NodeExpandVolumeRequest expand = NodeExpandVolumeRequest.newBuilder().setVolumeId("pvc-grow")
                    .setVolumePath(target.toString()).setStagingTargetPath(h.dir("staging/pvc-grow").toString())
                    .setVolumeCapability(mount("ext4"))
                    .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(16 * MI)).build();
            assertThat(h.node().nodeExpandVolume(expand).getCapacityBytes()).isEqualTo(16 * MI);
            assertThat(h.node().nodeExpandVolume(expand).getCapacityBytes()).isEqualTo(16 * MI);
            assertThat(code(() -> h.node().nodeExpandVolume(expand.toBuilder().setVolumePath("some/path").build())))
                    .isEqualTo(Status.Code.NOT_FOUND);
        } finally {
            unpublishAndUnstage("pvc-grow", target);
        }
    }
}
