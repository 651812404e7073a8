package io.ferry.csi;

import io.ferry.csi.v1.CapacityRange;
import io.ferry.csi.v1.ControllerExpandVolumeRequest;
import io.ferry.csi.v1.ControllerGetVolumeRequest;
import io.ferry.csi.v1.ControllerGetVolumeResponse;
import io.ferry.csi.v1.ControllerPublishVolumeRequest;
import io.ferry.csi.v1.ControllerPublishVolumeResponse;
import io.ferry.csi.v1.ControllerUnpublishVolumeRequest;
import io.ferry.csi.v1.CreateSnapshotRequest;
import io.ferry.csi.v1.CreateVolumeRequest;
import io.ferry.csi.v1.DeleteSnapshotRequest;
import io.ferry.csi.v1.DeleteVolumeRequest;
import io.ferry.csi.v1.GetCapacityRequest;
import io.ferry.csi.v1.GetPluginCapabilitiesRequest;
import io.ferry.csi.v1.GetPluginInfoRequest;
import io.ferry.csi.v1.ListSnapshotsRequest;
import io.ferry.csi.v1.ListVolumesRequest;
import io.ferry.csi.v1.ListVolumesResponse;
import io.ferry.csi.v1.NodeExpandVolumeRequest;
import io.ferry.csi.v1.NodeGetInfoRequest;
import io.ferry.csi.v1.NodeGetInfoResponse;
import io.ferry.csi.v1.NodeGetVolumeStatsRequest;
import io.ferry.csi.v1.NodeGetVolumeStatsResponse;
import io.ferry.csi.v1.NodePublishVolumeRequest;
import io.ferry.csi.v1.NodeStageVolumeRequest;
import io.ferry.csi.v1.NodeUnpublishVolumeRequest;
import io.ferry.csi.v1.NodeUnstageVolumeRequest;
import io.ferry.csi.v1.PluginCapability;
import io.ferry.csi.v1.ProbeRequest;
import io.ferry.csi.v1.Snapshot;
import io.ferry.csi.v1.Topology;
import io.ferry.csi.v1.TopologyRequirement;
import io.ferry.csi.v1.ValidateVolumeCapabilitiesRequest;
import io.ferry.csi.v1.Volume;
import io.ferry.csi.v1.VolumeCapability;
import io.ferry.csi.v1.VolumeContentSource;
import io.ferry.csi.v1.VolumeUsage;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.model.Attachment;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeStatus;
import io.ferry.runtime.device.TestDisks;
import io.ferry.runtime.exec.Command;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static io.ferry.etcd.testing.Await.result;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * The plugin's conformance to the CSI specification, one test per requirement, with the real plugin
 * on a Unix socket, a real etcd, a real controller and the real file-engine agent of the plugin's
 * node: volumes placed there are sparse files on real loop devices that the node service formats
 * and mounts for real. Volumes placed on the other node are answered by {@link RemoteAgentStandIn}
 * (their export would need kernel nvmet). Must run as root (tmpfs, loop devices, mounts).
 */
class CsiConformanceIT {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    static final long MI = 1L << 20;
    static final long GI = 1L << 30;

    CsiHarness h;

    @BeforeEach
    void setUp() throws Exception {
        h = new CsiHarness(etcd.options(EtcdExtension.uniquePrefix()));
    }

    @AfterEach
    void tearDown() throws Exception {
        h.close();
    }

    static VolumeCapability mount(String fs) {
        return VolumeCapability.newBuilder().setMount(VolumeCapability.MountVolume.newBuilder().setFsType(fs))
                .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER))
                .build();
    }

    static VolumeCapability block() {
        return VolumeCapability.newBuilder().setBlock(VolumeCapability.BlockVolume.getDefaultInstance())
                .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER))
                .build();
    }

    static CreateVolumeRequest.Builder create(String name, long bytes) {
        return CreateVolumeRequest.newBuilder().setName(name).addVolumeCapabilities(mount("ext4"))
                .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(bytes))
                .setAccessibilityRequirements(TopologyRequirement.newBuilder().addPreferred(
                        Topology.newBuilder().putSegments(Driver.TOPOLOGY_NODE, CsiHarness.NODE)));
    }

    static Status.Code code(Runnable call) {
        try {
            call.run();
        } catch (StatusRuntimeException e) {
            return e.getStatus().getCode();
        }
        return Status.Code.OK;
    }

    static String message(Runnable call) {
        try {
            call.run();
        } catch (StatusRuntimeException e) {
            return e.getStatus().getDescription();
        }
        return "";
    }

    // ---- identity ----

    @Test
    void identityReportsNameCapabilitiesAndReadiness() {
        assertThat(h.identity().getPluginInfo(GetPluginInfoRequest.getDefaultInstance()).getName()).isEqualTo("ferry.csi.io");
        List<PluginCapability> caps = h.identity().getPluginCapabilities(GetPluginCapabilitiesRequest.getDefaultInstance())
                .getCapabilitiesList();
        assertThat(caps).extracting(c -> c.getService().getType()).contains(
                PluginCapability.Service.Type.CONTROLLER_SERVICE, PluginCapability.Service.Type.VOLUME_ACCESSIBILITY_CONSTRAINTS);
        assertThat(caps).extracting(c -> c.getVolumeExpansion().getType()).contains(PluginCapability.VolumeExpansion.Type.ONLINE);
        assertThat(h.identity().probe(ProbeRequest.getDefaultInstance()).getReady().getValue()).isTrue();
    }

    // ---- CreateVolume ----

    @Test
    void createVolumeIsIdempotentByNameAndRefusesADifferentSize() {
        Volume first = h.controller().createVolume(create("pvc-1", 100 * MI).build()).getVolume();
        Volume again = h.controller().createVolume(create("pvc-1", 100 * MI).build()).getVolume();
        assertThat(again.getVolumeId()).isEqualTo(first.getVolumeId()).isEqualTo("pvc-1");
        assertThat(first.getCapacityBytes()).isEqualTo(100 * MI);
        assertThat(code(() -> h.controller().createVolume(create("pvc-1", 200 * MI).build())))
                .isEqualTo(Status.Code.ALREADY_EXISTS);
        assertThat(result(h.store.count(h.keys.volumes()))).isEqualTo(1);
    }

    @Test
    void concurrentCreateVolumeCallsMakeOneVolume() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<String>> calls = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                calls.add(pool.submit(() -> h.controller().createVolume(create("pvc-race", 64 * MI).build())
                        .getVolume().getVolumeId()));
            }
            for (Future<String> call : calls) {
                assertThat(call.get()).isEqualTo("pvc-race");
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(result(h.store.count(h.keys.volumes()))).isEqualTo(1);
    }

    @Test
    void createVolumeMapsAnInvalidCsiNameToAStableFerryName() {
        Volume v = h.controller().createVolume(create("PVC_Data.Mixed/Case", 8 * MI).build()).getVolume();
        assertThat(v.getVolumeId()).startsWith("pvc-data-mixed-case-").isEqualTo(CsiNames.ferryName("PVC_Data.Mixed/Case"));
        assertThat(h.controller().createVolume(create("PVC_Data.Mixed/Case", 8 * MI).build()).getVolume().getVolumeId())
                .isEqualTo(v.getVolumeId());
        VolumeIntent intent = result(h.store.get(h.keys.volume(v.getVolumeId()), VolumeIntent.class)).orElseThrow().value();
        assertThat(intent.createdBy()).isEqualTo("csi:PVC_Data.Mixed/Case");
    }

    @Test
    void createVolumeRoundsUpTo4MiAndHonoursTheLimit() {
        Volume v = h.controller().createVolume(create("pvc-round", 5 * MI).build()).getVolume();
        assertThat(v.getCapacityBytes()).isEqualTo(8 * MI);
        assertThat(code(() -> h.controller().createVolume(create("pvc-limit", 5 * MI)
                .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(5 * MI).setLimitBytes(6 * MI)).build())))
                .isEqualTo(Status.Code.OUT_OF_RANGE);
    }

    @Test
    void createVolumeRefusesMissingFieldsAndUnknownParameters() {
        assertThat(code(() -> h.controller().createVolume(create("", MI).build()))).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(code(() -> h.controller().createVolume(create("pvc-x", MI).clearVolumeCapabilities().build())))
                .isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(code(() -> h.controller().createVolume(create("pvc-x", MI).putParameters("thinn", "true").build())))
                .isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(code(() -> h.controller().createVolume(create("pvc-x", MI).putParameters("thin", "maybe").build())))
                .isEqualTo(Status.Code.INVALID_ARGUMENT);
    }

    @Test
    void createVolumeRefusesMkfsOptionsOffTheAllowListAndWritesNoIntent() {
        for (String[] fsAndOptions : List.of(new String[] {"ext4", "-F"}, new String[] {"ext4", "-d /etc"},
                new String[] {"ext4", "-E root_owner=0:0"}, new String[] {"ext4", "-L data /dev/sda"},
                new String[] {"xfs", "-l logdev=/dev/sdb"}, new String[] {"xfs", "-f"})) {
            CreateVolumeRequest request = create("pvc-mkfs", 16 * MI).putParameters("fsType", fsAndOptions[0])
                    .clearVolumeCapabilities().addVolumeCapabilities(mount(fsAndOptions[0]))
                    .putParameters("mkfsOptions", fsAndOptions[1]).build();
            assertThat(code(() -> h.controller().createVolume(request))).as(fsAndOptions[1])
                    .isEqualTo(Status.Code.INVALID_ARGUMENT);
            String refused = fsAndOptions[1].contains("root_owner") ? "root_owner"
                    : fsAndOptions[1].contains("/dev/sda") ? "/dev/sda" : fsAndOptions[1].split(" ")[0];
            assertThat(message(() -> h.controller().createVolume(request))).startsWith("mkfsOptions")
                    .contains("\"" + refused + "\"").contains(fsAndOptions[0]);
        }
        assertThat(result(h.store.getRaw(h.store.keys().volume("pvc-mkfs")))).isEmpty();
    }

    @Test
    void createVolumeReportsNoFitAsResourceExhaustedWithReasonCounts() {
        String why = message(() -> h.controller().createVolume(create("pvc-huge", 50 * GI).build()));
        assertThat(code(() -> h.controller().createVolume(create("pvc-huge", 50 * GI).build())))
                .isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
        assertThat(why).contains("free space 2");
    }

    @Test
    void createVolumeHonoursParametersAndTopology() {
        h.controller().createVolume(create("pvc-sel", 8 * MI).clearVolumeCapabilities().addVolumeCapabilities(mount(""))
                .putParameters("poolSelector", "media=ssd")
                .putParameters("nodeSelector", "rack=r2").putParameters("positionAdvice", "PreferRemote")
                .putParameters("fsType", "xfs").putParameters("mkfsOptions", "-m reflink=0").build());
        VolumeIntent intent = result(h.store.get(h.keys.volume("pvc-sel"), VolumeIntent.class)).orElseThrow().value();
        assertThat(intent.consumerNode()).isEqualTo(CsiHarness.NODE);
        assertThat(intent.nodeSelector()).isEqualTo(Map.of("rack", "r2"));
        assertThat(intent.mkfsOptions()).containsExactly("-m", "reflink=0");
        assertThat(h.controller().controllerGetVolume(ControllerGetVolumeRequest.newBuilder().setVolumeId("pvc-sel").build())
                .getVolume().getVolumeContextMap()).containsEntry(Driver.CONTEXT_FS_TYPE, "xfs");
    }

    // ---- DeleteVolume ----

    @Test
    void deleteVolumeIsIdempotentAndTreatsUnknownVolumesAsDeleted() {
        h.controller().createVolume(create("pvc-del", 8 * MI).build());
        h.controller().deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId("pvc-del").build());
        h.controller().deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId("pvc-del").build());
        h.controller().deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId("never-existed").build());
        h.controller().deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId("Not A Ferry Name").build());
        assertThat(code(() -> h.controller().deleteVolume(DeleteVolumeRequest.getDefaultInstance())))
                .isEqualTo(Status.Code.INVALID_ARGUMENT);
        await().atMost(Duration.ofSeconds(20)).until(() -> result(h.store.get(h.keys.volume("pvc-del"), VolumeIntent.class)).isEmpty());
    }

    // ---- publish ----

    @Test
    void controllerPublishWritesTheAttachmentAndWaitsForTheExport() {
        h.controller().createVolume(create("pvc-pub", 8 * MI).putParameters("nodeSelector", "rack=r2").build());
        ControllerPublishVolumeResponse published = h.controller().controllerPublishVolume(ControllerPublishVolumeRequest
                .newBuilder().setVolumeId("pvc-pub").setNodeId(CsiHarness.NODE).setVolumeCapability(mount("ext4")).build());
        assertThat(published.getPublishContextMap()).containsEntry(Driver.PUBLISH_NODE, CsiHarness.REMOTE)
                .containsKey(Driver.PUBLISH_NQN);
        Attachment attachment = result(h.store.get(h.keys.attachment("pvc-pub", CsiHarness.NODE), Attachment.class))
                .orElseThrow().value();
        assertThat(attachment.hostNqn()).isEqualTo(h.agent.hostNqn());
        // again: same answer
        h.controller().controllerPublishVolume(ControllerPublishVolumeRequest.newBuilder().setVolumeId("pvc-pub")
                .setNodeId(CsiHarness.NODE).setVolumeCapability(mount("ext4")).build());
        assertThat(code(() -> h.controller().controllerPublishVolume(ControllerPublishVolumeRequest.newBuilder()
                .setVolumeId("pvc-pub").setNodeId(CsiHarness.NODE).setReadonly(true).setVolumeCapability(mount("ext4")).build())))
                .isEqualTo(Status.Code.ALREADY_EXISTS);
        assertThat(code(() -> h.controller().deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId("pvc-pub").build())))
                .isEqualTo(Status.Code.FAILED_PRECONDITION);
        h.controller().controllerUnpublishVolume(ControllerUnpublishVolumeRequest.newBuilder().setVolumeId("pvc-pub")
                .setNodeId(CsiHarness.NODE).build());
        h.controller().controllerUnpublishVolume(ControllerUnpublishVolumeRequest.newBuilder().setVolumeId("pvc-pub")
                .setNodeId(CsiHarness.NODE).build());
        assertThat(result(h.store.count(h.keys.attachmentsOf("pvc-pub")))).isZero();
    }

    @Test
    void controllerPublishReturnsNotFoundForUnknownVolumesAndNodes() {
        h.controller().createVolume(create("pvc-nf", 8 * MI).build());
        assertThat(code(() -> h.controller().controllerPublishVolume(ControllerPublishVolumeRequest.newBuilder()
                .setVolumeId("no-such-volume").setNodeId(CsiHarness.NODE).setVolumeCapability(mount("ext4")).build())))
                .isEqualTo(Status.Code.NOT_FOUND);
        assertThat(code(() -> h.controller().controllerPublishVolume(ControllerPublishVolumeRequest.newBuilder()
                .setVolumeId("pvc-nf").setNodeId("no-such-node").setVolumeCapability(mount("ext4")).build())))
                .isEqualTo(Status.Code.NOT_FOUND);
        h.controller().controllerUnpublishVolume(ControllerUnpublishVolumeRequest.newBuilder().setVolumeId("no-such-volume")
                .setNodeId("no-such-node").build());
    }

    @Test
    void validateVolumeCapabilitiesConfirmsOrExplains() {
        h.controller().createVolume(create("pvc-val", 8 * MI).build());
        assertThat(h.controller().validateVolumeCapabilities(ValidateVolumeCapabilitiesRequest.newBuilder()
                .setVolumeId("pvc-val").addVolumeCapabilities(mount("ext4")).build()).hasConfirmed()).isTrue();
        VolumeCapability multi = mount("ext4").toBuilder().setAccessMode(VolumeCapability.AccessMode.newBuilder()
                .setMode(VolumeCapability.AccessMode.Mode.MULTI_NODE_MULTI_WRITER)).build();
        var refused = h.controller().validateVolumeCapabilities(ValidateVolumeCapabilitiesRequest.newBuilder()
                .setVolumeId("pvc-val").addVolumeCapabilities(multi).build());
        assertThat(refused.hasConfirmed()).isFalse();
        assertThat(refused.getMessage()).contains("MULTI_NODE_MULTI_WRITER");
        assertThat(code(() -> h.controller().validateVolumeCapabilities(ValidateVolumeCapabilitiesRequest.newBuilder()
                .setVolumeId("no-such-volume").addVolumeCapabilities(mount("ext4")).build()))).isEqualTo(Status.Code.NOT_FOUND);
    }

    // ---- listing, capacity, get ----

    @Test
    void listVolumesPaginatesAndAbortsOnATokenItDidNotIssue() {
        for (String name : List.of("pvc-l1", "pvc-l2", "pvc-l3")) {
            h.controller().createVolume(create(name, 8 * MI).build());
        }
        await().atMost(Duration.ofSeconds(10)).until(() ->
                h.controller().listVolumes(ListVolumesRequest.getDefaultInstance()).getEntriesCount() == 3);
        ListVolumesResponse first = h.controller().listVolumes(ListVolumesRequest.newBuilder().setMaxEntries(2).build());
        assertThat(first.getEntriesList()).extracting(e -> e.getVolume().getVolumeId()).containsExactly("pvc-l1", "pvc-l2");
        assertThat(first.getNextToken()).isNotEmpty();
        ListVolumesResponse second = h.controller().listVolumes(ListVolumesRequest.newBuilder().setMaxEntries(2)
                .setStartingToken(first.getNextToken()).build());
        assertThat(second.getEntriesList()).extracting(e -> e.getVolume().getVolumeId()).containsExactly("pvc-l3");
        assertThat(second.getNextToken()).isEmpty();
        assertThat(code(() -> h.controller().listVolumes(ListVolumesRequest.newBuilder().setStartingToken("garbage").build())))
                .isEqualTo(Status.Code.ABORTED);
    }

    @Test
    void getCapacityCountsFreeSpacePerTopologySegmentAndParameters() {
        GetCapacityRequest all = GetCapacityRequest.newBuilder().setAccessibleTopology(
                Topology.newBuilder().putSegments(Driver.TOPOLOGY_NODE, CsiHarness.NODE)).build();
        assertThat(h.controller().getCapacity(all).getAvailableCapacity()).isEqualTo(10 * GI + h.localRoomBytes());
        GetCapacityRequest local = all.toBuilder().putParameters("positionAdvice", "MustLocal").build();
        assertThat(h.controller().getCapacity(local).getAvailableCapacity()).isEqualTo(h.localRoomBytes());
        h.controller().createVolume(create("pvc-cap", GI).putParameters("positionAdvice", "MustLocal").build());
        await().atMost(Duration.ofSeconds(10)).until(() -> h.controller().getCapacity(local).getAvailableCapacity() == 9 * GI);
        assertThat(h.controller().getCapacity(local).getMaximumVolumeSize().getValue()).isEqualTo(9 * GI);
        assertThat(h.controller().getCapacity(all.toBuilder().putParameters("poolSelector", "media=hdd").build())
                .getAvailableCapacity()).isZero();
    }

    @Test
    void controllerGetVolumeReportsAnAbnormalConditionWhenTheServingNodeIsDown() {
        h.controller().createVolume(create("pvc-down", 8 * MI).putParameters("nodeSelector", "rack=r2").build());
        ControllerGetVolumeRequest get = ControllerGetVolumeRequest.newBuilder().setVolumeId("pvc-down").build();
        assertThat(h.controller().controllerGetVolume(get).getStatus().getVolumeCondition().getAbnormal()).isFalse();
        h.remote.unregister();
        await().atMost(Duration.ofSeconds(20)).until(() ->
                h.controller().controllerGetVolume(get).getStatus().getVolumeCondition().getAbnormal());
        ControllerGetVolumeResponse down = h.controller().controllerGetVolume(get);
        assertThat(down.getStatus().getVolumeCondition().getMessage()).contains(CsiHarness.REMOTE);
        assertThat(code(() -> h.controller().controllerGetVolume(ControllerGetVolumeRequest.newBuilder()
                .setVolumeId("no-such-volume").build()))).isEqualTo(Status.Code.NOT_FOUND);
    }

    // ---- expansion and snapshots ----

    @Test
    void controllerExpandVolumeGrowsThePlacementAndAsksForNodeExpansion() {
        h.controller().createVolume(create("pvc-grow", 8 * MI).build());
        var grown = h.controller().controllerExpandVolume(ControllerExpandVolumeRequest.newBuilder().setVolumeId("pvc-grow")
                .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(30 * MI)).setVolumeCapability(mount("ext4")).build());
        assertThat(grown.getCapacityBytes()).isEqualTo(32 * MI);
        assertThat(grown.getNodeExpansionRequired()).isTrue();
        assertThat(code(() -> h.controller().controllerExpandVolume(ControllerExpandVolumeRequest.newBuilder()
                .setVolumeId("no-such-volume").setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(GI)).build())))
                .isEqualTo(Status.Code.NOT_FOUND);
    }

    @Test
    void snapshotsAreCreatedIdempotentlyListedRestoredAndDeleted() {
        h.controller().createVolume(create("pvc-src", 8 * MI).build());
        CreateSnapshotRequest request = CreateSnapshotRequest.newBuilder().setName("snap-1").setSourceVolumeId("pvc-src").build();
        Snapshot snap = h.controller().createSnapshot(request).getSnapshot();
        assertThat(snap.getReadyToUse()).isTrue();
        assertThat(snap.getSnapshotId()).isEqualTo("snap-1");
        assertThat(h.controller().createSnapshot(request).getSnapshot().getSnapshotId()).isEqualTo("snap-1");
        assertThat(code(() -> h.controller().createSnapshot(request.toBuilder().setSourceVolumeId("other").build())))
                .isEqualTo(Status.Code.ALREADY_EXISTS);
        assertThat(code(() -> h.controller().createSnapshot(CreateSnapshotRequest.newBuilder().setName("snap-2")
                .setSourceVolumeId("no-such-volume").build()))).isEqualTo(Status.Code.NOT_FOUND);
        assertThat(h.controller().listSnapshots(ListSnapshotsRequest.newBuilder().setSourceVolumeId("pvc-src").build())
                .getEntriesList()).extracting(e -> e.getSnapshot().getSnapshotId()).containsExactly("snap-1");
        assertThat(h.controller().listSnapshots(ListSnapshotsRequest.newBuilder().setSnapshotId("nope").build())
                .getEntriesCount()).isZero();
        Volume restored = h.controller().createVolume(create("pvc-restored", 8 * MI).setVolumeContentSource(
                VolumeContentSource.newBuilder().setSnapshot(VolumeContentSource.SnapshotSource.newBuilder()
                        .setSnapshotId("snap-1"))).build()).getVolume();
        assertThat(restored.getContentSource().getSnapshot().getSnapshotId()).isEqualTo("snap-1");
        assertThat(code(() -> h.controller().createVolume(create("pvc-nosrc", 8 * MI).setVolumeContentSource(
                VolumeContentSource.newBuilder().setSnapshot(VolumeContentSource.SnapshotSource.newBuilder()
                        .setSnapshotId("missing"))).build()))).isEqualTo(Status.Code.NOT_FOUND);
        h.controller().deleteSnapshot(DeleteSnapshotRequest.newBuilder().setSnapshotId("snap-1").build());
        h.controller().deleteSnapshot(DeleteSnapshotRequest.newBuilder().setSnapshotId("snap-1").build());
        h.controller().deleteSnapshot(DeleteSnapshotRequest.newBuilder().setSnapshotId("never-existed").build());
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

    // ---- node ----

    @Test
    void nodeGetInfoReportsTheNodeAndItsFailureDomains() {
        NodeGetInfoResponse info = h.node().nodeGetInfo(NodeGetInfoRequest.getDefaultInstance());
        assertThat(info.getNodeId()).isEqualTo(CsiHarness.NODE);
        assertThat(info.getAccessibleTopology().getSegmentsMap()).containsEntry(Driver.TOPOLOGY_NODE, CsiHarness.NODE)
                .containsEntry(Driver.TOPOLOGY_RACK, "r1").containsEntry(Driver.TOPOLOGY_ZONE, "z1");
    }

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
        new java.util.Random(7).nextBytes(bytes);
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
            Map<String, String> before = new java.util.LinkedHashMap<>();
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
}
