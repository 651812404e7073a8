package io.ferry.csi;

import io.ferry.csi.v1.CapacityRange;
import io.ferry.csi.v1.NodeExpandVolumeRequest;
import io.ferry.csi.v1.NodeGetVolumeStatsRequest;
import io.ferry.csi.v1.NodePublishVolumeRequest;
import io.ferry.csi.v1.NodeStageVolumeRequest;
import io.ferry.csi.v1.NodeUnpublishVolumeRequest;
import io.ferry.csi.v1.NodeUnstageVolumeRequest;
import io.ferry.etcd.testing.EtcdExtension;
import io.grpc.Status;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.file.Files;
import java.nio.file.Path;

import static io.ferry.csi.CsiConformanceIT.MI;
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
