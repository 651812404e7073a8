package io.ferry.csi;

import io.ferry.csi.v1.CapacityRange;
import io.ferry.csi.v1.NodeExpandVolumeRequest;
import io.ferry.csi.v1.NodeGetVolumeStatsRequest;
import io.ferry.csi.v1.NodePublishVolumeRequest;
import io.ferry.csi.v1.NodeStageVolumeRequest;
import io.ferry.csi.v1.NodeUnpublishVolumeRequest;
import io.ferry.csi.v1.NodeUnstageVolumeRequest;
import io.ferry.csi.v1.VolumeCapability;
import io.ferry.etcd.testing.EtcdExtension;
import io.grpc.Status;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.file.Files;
import java.nio.file.Path;

import static io.ferry.csi.CsiConformanceIT.MI;
import static io.ferry.csi.CsiConformanceIT.block;
import static io.ferry.csi.CsiConformanceIT.code;
import static io.ferry.csi.CsiConformanceIT.create;
import static io.ferry.csi.CsiConformanceIT.message;
import static io.ferry.csi.CsiConformanceIT.mount;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The node service's answers the CSI specification prescribes for the volume paths of
 * NodeGetVolumeStats and NodeExpandVolume, on real loop devices and mounts ({@link CsiHarness}).
 */
class NodeConformanceIT {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    CsiHarness h;

    @BeforeEach
    void setUp() throws Exception {
        h = new CsiHarness(etcd.options(EtcdExtension.uniquePrefix()));
    }

    @AfterEach
    void tearDown() throws Exception {
        h.close();
    }

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
}
