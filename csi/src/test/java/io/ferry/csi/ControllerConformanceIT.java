package io.ferry.csi;

import io.ferry.csi.v1.ControllerModifyVolumeRequest;
import io.ferry.csi.v1.ControllerGetCapabilitiesRequest;
import io.ferry.csi.v1.ControllerServiceCapability;
import io.ferry.csi.v1.ListSnapshotsResponse;
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
import io.ferry.csi.v1.ListSnapshotsRequest;
import io.ferry.csi.v1.ListVolumesRequest;
import io.ferry.csi.v1.ListVolumesResponse;
import io.ferry.csi.v1.NodeStageVolumeRequest;
import io.ferry.csi.v1.NodeUnstageVolumeRequest;
import io.ferry.csi.v1.Snapshot;
import io.ferry.csi.v1.Topology;
import io.ferry.csi.v1.ValidateVolumeCapabilitiesRequest;
import io.ferry.csi.v1.Volume;
import io.ferry.csi.v1.VolumeCapability;
import io.ferry.csi.v1.VolumeContentSource;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.Attachment;
import io.ferry.model.Condition;
import io.ferry.model.FailureReason;
import io.ferry.model.Placement;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumePhase;
import io.ferry.model.VolumeStatus;
import io.ferry.model.WorkItem;
import io.ferry.runtime.reconcile.RuntimeOptions;
import io.grpc.Status;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

import static io.ferry.etcd.testing.Await.result;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static io.ferry.csi.CsiRequests.MI;
import static io.ferry.csi.CsiRequests.GI;
import static io.ferry.csi.CsiRequests.block;
import static io.ferry.csi.CsiRequests.code;
import static io.ferry.csi.CsiRequests.create;
import static io.ferry.csi.CsiRequests.message;
import static io.ferry.csi.CsiRequests.mount;

/**
 * The controller service's conformance to the CSI specification (the rows of docs/csi.md's table
 * for CreateVolume, DeleteVolume, Controller(Un)PublishVolume, ValidateVolumeCapabilities,
 * ListVolumes, GetCapacity, ControllerGetVolume, ControllerExpandVolume and the snapshot calls),
 * against the real plugin, a real controller and the real file-engine agent on a real etcd
 * ({@link CsiHarness}). No test waits out a deadline: every expected failure is asserted to come
 * at once.
 */
class ControllerConformanceIT extends ConformanceTest {

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

    @Test
    void createVolumeWaitsForAPendingDeletionOfItsNameAndThenCreatesANewVolume() {
        CreateVolumeRequest request = create("pvc-pending", 16 * MI).putParameters("positionAdvice", "MustLocal").build();
        h.controller().createVolume(request);
        Versioned<VolumeIntent> first = intent("pvc-pending");
        // As ferryctl volume rm, or a DeleteVolume that reached its deadline, leaves it: marked only.
        assertThat(result(h.store.compareAndPut(h.keys.volume("pvc-pending"), first.value().withDeletionRequested(),
                first.modRevision()))).isTrue();

        Volume again = h.controller(Duration.ofSeconds(10)).createVolume(request).getVolume();
        assertThat(again.getVolumeId()).isEqualTo("pvc-pending");
        Versioned<VolumeIntent> second = intent("pvc-pending");
        assertThat(second.createRevision()).isGreaterThan(first.createRevision());
        assertThat(second.value().deletionRequested()).isFalse();
    }

    @Test
    void createVolumeFromAVolumeClonesItsDataAndRefusesAnImpossibleClone() throws Exception {
        h.controller().createVolume(create("pvc-origin", 16 * MI).putParameters("positionAdvice", "MustLocal").build());
        Path staging = h.dir("staging/pvc-origin");
        NodeStageVolumeRequest stage = NodeStageVolumeRequest.newBuilder().setVolumeId("pvc-origin")
                .setStagingTargetPath(staging.toString()).setVolumeCapability(mount("ext4")).build();
        h.node().nodeStageVolume(stage);
        Files.writeString(staging.resolve("data"), "cloned");
        h.node().nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder().setVolumeId("pvc-origin")
                .setStagingTargetPath(staging.toString()).build());

        VolumeContentSource source = VolumeContentSource.newBuilder().setVolume(
                VolumeContentSource.VolumeSource.newBuilder().setVolumeId("pvc-origin")).build();
        Volume clone = h.controller().createVolume(create("pvc-clone", 16 * MI)
                .putParameters("positionAdvice", "MustLocal").setVolumeContentSource(source).build()).getVolume();
        assertThat(clone.getContentSource().getVolume().getVolumeId()).isEqualTo("pvc-origin");
        Path cloneStaging = h.dir("staging/pvc-clone");
        h.node().nodeStageVolume(stage.toBuilder().setVolumeId("pvc-clone").setStagingTargetPath(cloneStaging.toString()).build());
        try {
            assertThat(Files.readString(cloneStaging.resolve("data"))).isEqualTo("cloned");
        } finally {
            h.node().nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder().setVolumeId("pvc-clone")
                    .setStagingTargetPath(cloneStaging.toString()).build());
        }

        // Asked smaller than its source, a copy takes the source's size if the range allows it.
        assertThat(h.controller().createVolume(create("pvc-bigger", 8 * MI).putParameters("positionAdvice", "MustLocal")
                .setVolumeContentSource(source).build()).getVolume().getCapacityBytes()).isEqualTo(16 * MI);
        assertThat(code(() -> h.controller(Duration.ofSeconds(5)).createVolume(create("pvc-small", 8 * MI)
                .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(8 * MI).setLimitBytes(8 * MI))
                .setVolumeContentSource(source).build()))).isEqualTo(Status.Code.OUT_OF_RANGE);
        // Parameters the source's pool cannot serve are refused at once, saying why.
        for (CreateVolumeRequest impossible : List.of(
                create("pvc-lvm", 16 * MI).putParameters("engine", "lvm").setVolumeContentSource(source).build(),
                create("pvc-hdd", 16 * MI).putParameters("poolSelector", "media=hdd").setVolumeContentSource(source).build(),
                create("pvc-xfs", 16 * MI).clearVolumeCapabilities().addVolumeCapabilities(mount("xfs"))
                        .setVolumeContentSource(source).build())) {
            assertThat(code(() -> h.controller(Duration.ofSeconds(5)).createVolume(impossible))).as(impossible.getName())
                    .isEqualTo(Status.Code.INVALID_ARGUMENT);
        }
        assertThat(message(() -> h.controller(Duration.ofSeconds(5)).createVolume(create("pvc-lvm", 16 * MI)
                .putParameters("engine", "lvm").setVolumeContentSource(source).build())))
                .contains("cannot make volume pvc-lvm from source volume pvc-origin")
                .contains("source's pool " + CsiHarness.POOL + " (engine file), not on engine lvm");
        assertThat(result(h.store.getRaw(h.keys.volume("pvc-lvm")))).isEmpty();
        assertThat(code(() -> h.controller(Duration.ofSeconds(5)).createVolume(create("pvc-nosrc", 16 * MI)
                .setVolumeContentSource(VolumeContentSource.newBuilder().setVolume(
                        VolumeContentSource.VolumeSource.newBuilder().setVolumeId("no-such-volume"))).build())))
                .isEqualTo(Status.Code.NOT_FOUND);
    }

    @Test
    void createVolumeWithNoControllerRunningSaysSoAtOnceAndTheVolumeIsPlacedWhenOneStarts() {
        h.stopController();
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() ->
                result(h.store.count(h.keys.controllerLeader() + "/")) == 0);
        CreateVolumeRequest request = create("pvc-nobody", 16 * MI).putParameters("positionAdvice", "MustLocal").build();
        assertThat(code(() -> h.controller(Duration.ofSeconds(60)).createVolume(request))).isEqualTo(Status.Code.UNAVAILABLE);
        assertThat(message(() -> h.controller(Duration.ofSeconds(60)).createVolume(request)))
                .contains("no Ferry controller is running", "pvc-nobody", "placed once a controller starts");
        assertThat(intent("pvc-nobody").value().deletionRequested()).isFalse();

        h.startController();
        // The plugin answers from its watch of the election's candidates: the CO's retry comes
        // once it has seen the new controller.
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> h.server.view().controllerRunning());
        Volume created = h.controller().createVolume(request).getVolume();
        assertThat(created.getVolumeId()).isEqualTo("pvc-nobody");
    }

    @Test
    void aCreateVolumeRefusedForLackOfRoomLeavesNoIntentBehindForAVolumeNobodyWouldOwn() {
        CreateVolumeRequest huge = create("pvc-toolarge", 50 * GI).build();
        assertThat(code(() -> h.controller().createVolume(huge))).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
        // The caller got no volume and will never delete one: its intent is withdrawn, so room
        // appearing later places nothing.
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() ->
                result(h.store.getRaw(h.keys.volume("pvc-toolarge"))).isEmpty());
        assertThat(result(h.store.getRaw(h.keys.volumeScheduling("pvc-toolarge")))).isEmpty();
        assertThat(result(h.store.getRaw(h.keys.placement("pvc-toolarge")))).isEmpty();
        // The CO's retry asks again and is refused again, the same way.
        assertThat(code(() -> h.controller().createVolume(huge))).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
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

    Versioned<VolumeIntent> intent(String name) {
        return result(h.store.get(h.keys.volume(name), VolumeIntent.class)).orElseThrow();
    }

    @Test
    void deleteVolumeReturnsOnceTheVolumeIsGoneSoItsNameIsFreeForANewVolumeAtOnce() {
        CreateVolumeRequest request = create("pvc-again", 16 * MI).putParameters("positionAdvice", "MustLocal").build();
        h.controller().createVolume(request);
        long firstCreation = intent("pvc-again").createRevision();

        h.controller().deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId("pvc-again").build());
        // Gone when DeleteVolume answers, not some time later: the intent, and the agent's file.
        assertThat(result(h.store.get(h.keys.volume("pvc-again"), VolumeIntent.class))).isEmpty();
        assertThat(h.poolMount.resolve(CsiHarness.POOL).resolve("pvc-again.img")).doesNotExist();

        Volume again = h.controller(Duration.ofSeconds(10)).createVolume(request).getVolume();
        assertThat(again.getVolumeId()).isEqualTo("pvc-again");
        assertThat(intent("pvc-again").createRevision()).isGreaterThan(firstCreation);
        assertThat(intent("pvc-again").value().deletionRequested()).isFalse();
        VolumeStatus status = result(h.store.get(h.keys.volumeStatus(CsiHarness.NODE, "pvc-again"), VolumeStatus.class))
                .orElseThrow().value();
        assertThat(status.phase()).isEqualTo(VolumePhase.READY);
        assertThat(h.poolMount.resolve(CsiHarness.POOL).resolve("pvc-again.img")).exists();
    }

    // ---- ControllerPublishVolume, ControllerUnpublishVolume ----

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
    void controllerUnpublishReturnsOnlyOnceTheServingNodeHasCutTheHostOff() {
        h.controller().createVolume(create("pvc-fence", 8 * MI).putParameters("nodeSelector", "rack=r2").build());
        ControllerPublishVolumeRequest publish = ControllerPublishVolumeRequest.newBuilder().setVolumeId("pvc-fence")
                .setNodeId(CsiHarness.NODE).setVolumeCapability(mount("ext4")).build();
        h.controller().controllerPublishVolume(publish);
        assertThat(remoteStatus("pvc-fence").export().allowedHostNqns()).containsExactly(h.agent.hostNqn());
        ControllerUnpublishVolumeRequest unpublish = ControllerUnpublishVolumeRequest.newBuilder()
                .setVolumeId("pvc-fence").setNodeId(CsiHarness.NODE).build();

        // The serving node has not acted on the removed attachment: its export still lets the host
        // in, so the node is not detached yet, and a retry says the same.
        h.remote.hold();
        try {
            for (int attempt = 0; attempt < 2; attempt++) {
                assertThat(code(() -> h.controller(Duration.ofSeconds(2)).controllerUnpublishVolume(unpublish)))
                        .isEqualTo(Status.Code.DEADLINE_EXCEEDED);
            }
            assertThat(message(() -> h.controller(Duration.ofSeconds(2)).controllerUnpublishVolume(unpublish)))
                    .contains("the storage node to cut " + CsiHarness.NODE + " off volume pvc-fence");
            assertThat(result(h.store.count(h.keys.attachmentsOf("pvc-fence")))).isZero();
        } finally {
            h.remote.release();
        }
        // Once it reports the export without the host, the same call returns.
        h.controller(Duration.ofSeconds(30)).controllerUnpublishVolume(unpublish);
        assertThat(remoteStatus("pvc-fence").export()).isNull();
        h.controller(Duration.ofSeconds(2)).controllerUnpublishVolume(unpublish);
    }

    @Test
    void controllerUnpublishFromAServingNodeThatIsDownFailsAtOnceAndSucceedsOnceItHasCutTheHostOff() {
        h.controller().createVolume(create("pvc-fence-down", 8 * MI).putParameters("nodeSelector", "rack=r2").build());
        ControllerPublishVolumeRequest publish = ControllerPublishVolumeRequest.newBuilder()
                .setVolumeId("pvc-fence-down").setNodeId(CsiHarness.NODE).setVolumeCapability(mount("ext4")).build();
        h.controller().controllerPublishVolume(publish);
        ControllerUnpublishVolumeRequest unpublish = ControllerUnpublishVolumeRequest.newBuilder()
                .setVolumeId("pvc-fence-down").setNodeId(CsiHarness.NODE).build();
        h.remote.hold();
        h.unregisterRemote();
        // Down: its kernel may still serve the host and nobody can confirm otherwise. Known now, said now.
        failsFast(Status.Code.FAILED_PRECONDITION, () -> h.controller(Duration.ofSeconds(60)).controllerUnpublishVolume(unpublish));
        assertThat(message(() -> h.controller(Duration.ofSeconds(60)).controllerUnpublishVolume(unpublish)))
                .contains("node " + CsiHarness.REMOTE + " is down", h.agent.hostNqn());
        // It returns and its agent converges (the export without the host): the retry succeeds. A retry
        // made before the plugin's watch has seen the registration is still told the node is down,
        // as the CO would be, so the test retries the way the CO does once the plugin has seen it.
        h.remote.reregister();
        h.remote.release();
        await().atMost(Duration.ofSeconds(30)).until(() -> h.server.view().registration(CsiHarness.REMOTE).isPresent());
        h.controller(Duration.ofSeconds(30)).controllerUnpublishVolume(unpublish);
    }

    private VolumeStatus remoteStatus(String volume) {
        return result(h.store.get(h.keys.volumeStatus(CsiHarness.REMOTE, volume), VolumeStatus.class)).orElseThrow().value();
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
    void controllerPublishAgainWithAnotherCapabilityOrReadonlyIsAlreadyExistsAtOnce() {
        h.controller().createVolume(create("pvc-pub", 16 * MI).build());
        ControllerPublishVolumeRequest publish = ControllerPublishVolumeRequest.newBuilder().setVolumeId("pvc-pub")
                .setNodeId(CsiHarness.NODE).setVolumeCapability(mount("ext4")).build();
        h.controller().controllerPublishVolume(publish);
        Attachment attachment = result(h.store.get(h.keys.attachment("pvc-pub", CsiHarness.NODE), Attachment.class))
                .orElseThrow().value();
        assertThat(attachment.capability()).isEqualTo("mount:ext4/SINGLE_NODE_WRITER");
        // The same again, with the filesystem left to the volume: compatible.
        h.controller().controllerPublishVolume(publish.toBuilder().setVolumeCapability(mount("")).build());
        VolumeCapability multiWriter = mount("ext4").toBuilder().setAccessMode(VolumeCapability.AccessMode.newBuilder()
                .setMode(VolumeCapability.AccessMode.Mode.SINGLE_NODE_MULTI_WRITER)).build();
        for (ControllerPublishVolumeRequest incompatible : List.of(
                publish.toBuilder().setVolumeCapability(block()).build(),
                publish.toBuilder().setVolumeCapability(mount("xfs")).build(),
                publish.toBuilder().setVolumeCapability(multiWriter).build(),
                publish.toBuilder().setReadonly(true).build())) {
            // A short deadline: the answer comes at once, without waiting for anything.
            assertThat(code(() -> h.controller(Duration.ofSeconds(2)).controllerPublishVolume(incompatible)))
                    .as(incompatible.toString()).isEqualTo(Status.Code.ALREADY_EXISTS);
        }
        assertThat(message(() -> h.controller().controllerPublishVolume(publish.toBuilder()
                .setVolumeCapability(block()).build())))
                .contains("already published to " + CsiHarness.NODE + " as mount:ext4/SINGLE_NODE_WRITER, not block/SINGLE_NODE_WRITER");
        assertThat(result(h.store.get(h.keys.attachment("pvc-pub", CsiHarness.NODE), Attachment.class))
                .orElseThrow().value()).isEqualTo(attachment);
        h.controller().controllerUnpublishVolume(ControllerUnpublishVolumeRequest.newBuilder().setVolumeId("pvc-pub")
                .setNodeId(CsiHarness.NODE).build());
    }

    @Test
    void controllerPublishRefusesMissingFieldsAndASecondNodeAndUnpublishWithoutANodeDetachesEverywhere() {
        h.controller().createVolume(create("pvc-one-node", 16 * MI).build());
        ControllerPublishVolumeRequest publish = ControllerPublishVolumeRequest.newBuilder().setVolumeId("pvc-one-node")
                .setNodeId(CsiHarness.NODE).setVolumeCapability(mount("ext4")).build();
        for (ControllerPublishVolumeRequest missing : List.of(publish.toBuilder().clearVolumeId().build(),
                publish.toBuilder().clearNodeId().build(), publish.toBuilder().clearVolumeCapability().build())) {
            assertThat(code(() -> h.controller().controllerPublishVolume(missing))).isEqualTo(Status.Code.INVALID_ARGUMENT);
        }
        h.controller().controllerPublishVolume(publish);
        ControllerPublishVolumeRequest elsewhere = publish.toBuilder().setNodeId(CsiHarness.REMOTE).build();
        assertThat(code(() -> h.controller(Duration.ofSeconds(2)).controllerPublishVolume(elsewhere)))
                .isEqualTo(Status.Code.FAILED_PRECONDITION);
        assertThat(message(() -> h.controller(Duration.ofSeconds(2)).controllerPublishVolume(elsewhere)))
                .contains("already published to [" + CsiHarness.NODE + "]");
        h.controller().controllerUnpublishVolume(ControllerUnpublishVolumeRequest.newBuilder().setVolumeId("pvc-one-node")
                .build());
        assertThat(result(h.store.count(h.keys.attachmentsOf("pvc-one-node")))).isZero();
        assertThat(code(() -> h.controller().controllerUnpublishVolume(ControllerUnpublishVolumeRequest.getDefaultInstance())))
                .isEqualTo(Status.Code.INVALID_ARGUMENT);
    }

    @Test
    void aPublishTheServingNodeCannotExportFailsAtOnceWithFailedPreconditionAndIsNotRetriedOnATimer() throws Exception {
        h.controller().createVolume(create("pvc-noexport", 16 * MI).putParameters("positionAdvice", "MustLocal").build());
        // The controller records the first creation in the work item (mustExist) once it reads Ready:
        // an input change of its own, let through before the failure's attempts are counted.
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> result(h.store.get(
                h.keys.workItem(CsiHarness.NODE, "pvc-noexport"), WorkItem.class))
                .map(v -> v.value().mustExist()).orElse(false));
        assertThat(result(h.store.get(h.keys.placement("pvc-noexport"), Placement.class))
                .orElseThrow().value().node()).isEqualTo(CsiHarness.NODE);
        // node-a's agent runs without kernel nvmet: it can serve node-a, never export to node-b.
        ControllerPublishVolumeRequest publish = ControllerPublishVolumeRequest.newBuilder().setVolumeId("pvc-noexport")
                .setNodeId(CsiHarness.REMOTE).setVolumeCapability(mount("ext4")).build();
        failsFast(Status.Code.FAILED_PRECONDITION, () -> h.controller(Duration.ofSeconds(60)).controllerPublishVolume(publish));
        assertThat(message(() -> h.controller(Duration.ofSeconds(60)).controllerPublishVolume(publish)))
                .contains("cannot export to " + CsiHarness.REMOTE + " volume pvc-noexport", "kernel nvmet is not loaded");

        VolumeStatus failed = status("pvc-noexport");
        assertThat(failed.phase()).isEqualTo(VolumePhase.FAILED);
        Condition ready = failed.ready().orElseThrow();
        assertThat(ready.failureReason()).isEqualTo(FailureReason.EXPORT_UNAVAILABLE);
        long generation = result(h.store.get(h.keys.placement("pvc-noexport"), Placement.class))
                .orElseThrow().value().generation();
        assertThat(ready.observedGeneration()).isEqualTo(generation);
        assertThat(ready.lastTransitionTime()).isNotNull();
        // Terminal for this generation: the agent does not try again until an input changes. Proving
        // that something does not happen takes time; twice the agent's first retry delay (its
        // backoff starts there, jittered down from it) is enough for a timer retry to have shown.
        Thread.sleep(2 * RuntimeOptions.defaults().initialDelay().toMillis());
        assertThat(status("pvc-noexport").ready().orElseThrow().attempts()).isEqualTo(1);

        // The input changes (the attachment goes, the work item asks for no export): served again.
        h.controller().controllerUnpublishVolume(ControllerUnpublishVolumeRequest.newBuilder().setVolumeId("pvc-noexport")
                .setNodeId(CsiHarness.REMOTE).build());
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() ->
                status("pvc-noexport").phase() == VolumePhase.READY
                        && status("pvc-noexport").ready().orElseThrow().carriedOut(generation));
        h.controller().controllerPublishVolume(publish.toBuilder().setNodeId(CsiHarness.NODE).build());
    }

    @Test
    void aSnapshotOrACloneOfASourceLostOnItsNodeFailsAtOnceWithFailedPrecondition() throws Exception {
        h.controller().createVolume(create("pvc-gone", 16 * MI).putParameters("positionAdvice", "MustLocal").build());
        // The source's file leaves its pool directory behind the agent's back (a disk that went
        // away); it is put back at the end.
        Path file = h.poolMount.resolve(CsiHarness.POOL).resolve("pvc-gone.img");
        Path away = Files.createDirectories(h.poolMount.resolve("stash")).resolve("pvc-gone.img");
        Files.move(file, away);
        try {
            CreateSnapshotRequest snapshot = CreateSnapshotRequest.newBuilder().setName("snap-of-gone")
                    .setSourceVolumeId("pvc-gone").build();
            long started = System.nanoTime();
            // A deadline far beyond the answer: DEADLINE_EXCEEDED would mean the outcome was waited out.
            String refused = message(() -> h.controller(Duration.ofSeconds(60)).createSnapshot(snapshot));
            Duration took = Duration.ofNanos(System.nanoTime() - started);
            assertThat(code(() -> h.controller(Duration.ofSeconds(60)).createSnapshot(snapshot)))
                    .isEqualTo(Status.Code.FAILED_PRECONDITION);
            assertThat(refused).contains("cannot cut snapshot", "source volume pvc-gone", "no longer has it");
            assertThat(took).isLessThan(Duration.ofSeconds(2));
            System.out.println("CreateSnapshot of a lost source answered in " + took.toMillis() + " ms");

            VolumeContentSource source = VolumeContentSource.newBuilder().setVolume(
                    VolumeContentSource.VolumeSource.newBuilder().setVolumeId("pvc-gone")).build();
            CreateVolumeRequest clone = create("pvc-clone-of-gone", 16 * MI).putParameters("positionAdvice", "MustLocal")
                    .setVolumeContentSource(source).build();
            started = System.nanoTime();
            assertThat(code(() -> h.controller(Duration.ofSeconds(60)).createVolume(clone)))
                    .isEqualTo(Status.Code.FAILED_PRECONDITION);
            took = Duration.ofNanos(System.nanoTime() - started);
            assertThat(took).isLessThan(Duration.ofSeconds(2));
            assertThat(message(() -> h.controller(Duration.ofSeconds(60)).createVolume(clone)))
                    .contains("cannot create volume pvc-clone-of-gone", "source volume pvc-gone");
            System.out.println("CreateVolume cloning a lost source answered in " + took.toMillis() + " ms");
            assertThat(status("pvc-clone-of-gone").ready().orElseThrow().failureReason())
                    .isEqualTo(FailureReason.SOURCE_LOST);
        } finally {
            Files.move(away, file);
        }
    }

    // ---- failure propagation: a failure Ferry already knows is answered at once ----

    /**
     * Makes the call with a deadline far beyond the answer and asserts it fails with {@code expected}
     * in under 2 s: DEADLINE_EXCEEDED, or a slow answer, would mean a known outcome was waited out.
     */
    static void failsFast(Status.Code expected, Runnable call) {
        long started = System.nanoTime();
        Status.Code code = code(call);
        Duration took = Duration.ofNanos(System.nanoTime() - started);
        assertThat(code).isEqualTo(expected);
        assertThat(took).as("time to the answer").isLessThan(Duration.ofSeconds(2));
    }

    @Test
    void aCreateVolumeNoPoolFitsFailsWithResourceExhaustedInUnderTwoSeconds() {
        failsFast(Status.Code.RESOURCE_EXHAUSTED, () -> h.controller(Duration.ofSeconds(60))
                .createVolume(create("pvc-nofit", 50 * GI).build()));
    }

    @Test
    void aCreateVolumeWithAnUnsupportedCapabilityFailsWithInvalidArgumentInUnderTwoSecondsAndWritesNoIntent() {
        VolumeCapability multiNode = mount("ext4").toBuilder().setAccessMode(VolumeCapability.AccessMode.newBuilder()
                .setMode(VolumeCapability.AccessMode.Mode.MULTI_NODE_MULTI_WRITER)).build();
        failsFast(Status.Code.INVALID_ARGUMENT, () -> h.controller(Duration.ofSeconds(60)).createVolume(
                create("pvc-multi", 16 * MI).clearVolumeCapabilities().addVolumeCapabilities(multiNode).build()));
        assertThat(message(() -> h.controller().createVolume(create("pvc-multi", 16 * MI).clearVolumeCapabilities()
                .addVolumeCapabilities(multiNode).build()))).contains("MULTI_NODE_MULTI_WRITER");
        assertThat(result(h.store.getRaw(h.keys.volume("pvc-multi")))).isEmpty();
    }

    @Test
    void aGrowthThePoolHasNoRoomForFailsWithResourceExhaustedInUnderTwoSeconds() {
        h.controller().createVolume(create("pvc-nogrow", 16 * MI).putParameters("positionAdvice", "MustLocal").build());
        ControllerExpandVolumeRequest grow = ControllerExpandVolumeRequest.newBuilder().setVolumeId("pvc-nogrow")
                .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(50 * GI)).build();
        failsFast(Status.Code.RESOURCE_EXHAUSTED, () -> h.controller(Duration.ofSeconds(60)).controllerExpandVolume(grow));
        // The volume keeps its size and data: only the growth was refused.
        assertThat(result(h.store.get(h.keys.placement("pvc-nogrow"), Placement.class)).orElseThrow()
                .value().sizeBytes()).isEqualTo(16 * MI);
    }

    @Test
    void aCloneOfAMissingSourceOrOfOneWhosePoolCannotServeItFailsInUnderTwoSeconds() {
        h.controller().createVolume(create("pvc-src-fast", 16 * MI).putParameters("positionAdvice", "MustLocal").build());
        VolumeContentSource missing = VolumeContentSource.newBuilder().setVolume(
                VolumeContentSource.VolumeSource.newBuilder().setVolumeId("no-such-volume")).build();
        failsFast(Status.Code.NOT_FOUND, () -> h.controller(Duration.ofSeconds(60)).createVolume(
                create("pvc-clone-missing", 16 * MI).setVolumeContentSource(missing).build()));
        VolumeContentSource source = VolumeContentSource.newBuilder().setVolume(
                VolumeContentSource.VolumeSource.newBuilder().setVolumeId("pvc-src-fast")).build();
        // The source's pool is a file pool: a copy made there cannot be an lvm volume.
        failsFast(Status.Code.INVALID_ARGUMENT, () -> h.controller(Duration.ofSeconds(60)).createVolume(
                create("pvc-clone-lvm", 16 * MI).putParameters("engine", "lvm").setVolumeContentSource(source).build()));
        VolumeContentSource missingSnapshot = VolumeContentSource.newBuilder().setSnapshot(
                VolumeContentSource.SnapshotSource.newBuilder().setSnapshotId("no-such-snapshot")).build();
        failsFast(Status.Code.NOT_FOUND, () -> h.controller(Duration.ofSeconds(60)).createVolume(
                create("pvc-restore-missing", 16 * MI).setVolumeContentSource(missingSnapshot).build()));
    }

    // ---- rows that had no test ----

    @Test
    void createVolumeReturnsTheAccessibleTopologyOfAVolumeOnlyItsNodeCanUse() {
        Volume local = h.controller().createVolume(create("pvc-topo-local", 16 * MI)
                .putParameters("positionAdvice", "MustLocal").build()).getVolume();
        assertThat(local.getAccessibleTopologyList()).extracting(t -> t.getSegmentsMap().get(Driver.TOPOLOGY_NODE))
                .containsExactly(CsiHarness.NODE);
        // Any other volume is reachable from every node over NVMe/TCP: no constraint is returned.
        Volume anywhere = h.controller().createVolume(create("pvc-topo-any", 16 * MI).build()).getVolume();
        assertThat(anywhere.getAccessibleTopologyList()).isEmpty();
    }

    @Test
    void deleteVolumeOfAVolumeWithSnapshotsIsFailedPreconditionAndLeavesItIntact() {
        h.controller().createVolume(create("pvc-snapped", 16 * MI).putParameters("positionAdvice", "MustLocal").build());
        h.controller().createSnapshot(CreateSnapshotRequest.newBuilder().setName("snap-keep").setSourceVolumeId("pvc-snapped")
                .build());
        DeleteVolumeRequest delete = DeleteVolumeRequest.newBuilder().setVolumeId("pvc-snapped").build();
        failsFast(Status.Code.FAILED_PRECONDITION, () -> h.controller(Duration.ofSeconds(60)).deleteVolume(delete));
        assertThat(message(() -> h.controller().deleteVolume(delete))).contains("snap-keep");
        assertThat(intent("pvc-snapped").value().deletionRequested()).isFalse();
        h.controller().deleteSnapshot(DeleteSnapshotRequest.newBuilder().setSnapshotId("snap-keep").build());
        h.controller().deleteVolume(delete);
        assertThat(result(h.store.getRaw(h.keys.volume("pvc-snapped")))).isEmpty();
    }

    @Test
    void listVolumesEntriesCarryThePublishedNodesAndTheCondition() {
        h.controller().createVolume(create("pvc-listed", 16 * MI).putParameters("positionAdvice", "MustLocal").build());
        h.controller().controllerPublishVolume(ControllerPublishVolumeRequest.newBuilder().setVolumeId("pvc-listed")
                .setNodeId(CsiHarness.NODE).setVolumeCapability(mount("ext4")).build());
        Awaitility.await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            ListVolumesResponse.Entry entry = h.controller().listVolumes(ListVolumesRequest.getDefaultInstance())
                    .getEntriesList().stream().filter(e -> e.getVolume().getVolumeId().equals("pvc-listed")).findFirst()
                    .orElseThrow();
            assertThat(entry.getStatus().getPublishedNodeIdsList()).containsExactly(CsiHarness.NODE);
            assertThat(entry.getStatus().hasVolumeCondition()).isTrue();
            assertThat(entry.getStatus().getVolumeCondition().getAbnormal()).isFalse();
        });
    }

    @Test
    void controllerExpandVolumeIsIdempotentAndRefusesAnImpossibleRangeAndMissingFields() {
        h.controller().createVolume(create("pvc-expand", 16 * MI).putParameters("positionAdvice", "MustLocal").build());
        ControllerExpandVolumeRequest grow = ControllerExpandVolumeRequest.newBuilder().setVolumeId("pvc-expand")
                .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(32 * MI)).build();
        assertThat(h.controller().controllerExpandVolume(grow).getCapacityBytes()).isEqualTo(32 * MI);
        assertThat(h.controller().controllerExpandVolume(grow).getCapacityBytes()).isEqualTo(32 * MI);
        // Asked for less than it has: it already satisfies the request.
        assertThat(h.controller().controllerExpandVolume(grow.toBuilder().setCapacityRange(CapacityRange.newBuilder()
                .setRequiredBytes(16 * MI)).build()).getCapacityBytes()).isEqualTo(32 * MI);
        assertThat(code(() -> h.controller().controllerExpandVolume(grow.toBuilder().setCapacityRange(CapacityRange
                .newBuilder().setRequiredBytes(64 * MI).setLimitBytes(48 * MI)).build()))).isEqualTo(Status.Code.OUT_OF_RANGE);
        assertThat(code(() -> h.controller().controllerExpandVolume(grow.toBuilder().clearVolumeId().build())))
                .isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(code(() -> h.controller().controllerExpandVolume(grow.toBuilder().clearCapacityRange().build())))
                .isEqualTo(Status.Code.INVALID_ARGUMENT);
    }

    @Test
    void listSnapshotsPaginatesAndAbortsOnATokenItDidNotIssue() {
        h.controller().createVolume(create("pvc-snaps", 16 * MI).putParameters("positionAdvice", "MustLocal").build());
        for (String name : List.of("snap-p1", "snap-p2", "snap-p3")) {
            h.controller().createSnapshot(CreateSnapshotRequest.newBuilder().setName(name).setSourceVolumeId("pvc-snaps")
                    .build());
        }
        ListSnapshotsResponse first = h.controller().listSnapshots(ListSnapshotsRequest.newBuilder().setMaxEntries(2).build());
        assertThat(first.getEntriesList()).extracting(e -> e.getSnapshot().getSnapshotId()).containsExactly("snap-p1", "snap-p2");
        assertThat(first.getNextToken()).isNotEmpty();
        ListSnapshotsResponse second = h.controller().listSnapshots(ListSnapshotsRequest.newBuilder().setMaxEntries(2)
                .setStartingToken(first.getNextToken()).build());
        assertThat(second.getEntriesList()).extracting(e -> e.getSnapshot().getSnapshotId()).containsExactly("snap-p3");
        assertThat(second.getNextToken()).isEmpty();
        assertThat(code(() -> h.controller().listSnapshots(ListSnapshotsRequest.newBuilder().setStartingToken("garbage")
                .build()))).isEqualTo(Status.Code.ABORTED);
    }

    @Test
    void controllerGetCapabilitiesListsWhatFerryServesAndAnRpcItDoesNotAdvertiseIsUnimplemented() {
        List<ControllerServiceCapability.RPC.Type> advertised = h.controller().controllerGetCapabilities(
                ControllerGetCapabilitiesRequest.getDefaultInstance()).getCapabilitiesList().stream()
                .map(c -> c.getRpc().getType()).toList();
        assertThat(advertised).contains(ControllerServiceCapability.RPC.Type.CREATE_DELETE_VOLUME,
                ControllerServiceCapability.RPC.Type.CLONE_VOLUME, ControllerServiceCapability.RPC.Type.GET_VOLUME)
                .doesNotContain(ControllerServiceCapability.RPC.Type.MODIFY_VOLUME);
        // The specification: an RPC the plugin does not implement answers UNIMPLEMENTED (the caller
        // must not retry), never a silent success.
        h.controller().createVolume(create("pvc-modify", 16 * MI).build());
        assertThat(code(() -> h.controller().controllerModifyVolume(ControllerModifyVolumeRequest.newBuilder()
                .setVolumeId("pvc-modify").putMutableParameters("iops", "1000").build())))
                .isEqualTo(Status.Code.UNIMPLEMENTED);
    }

    VolumeStatus status(String volume) {
        return result(h.store.get(h.keys.volumeStatus(CsiHarness.NODE, volume), VolumeStatus.class)).orElseThrow().value();
    }

    // ---- ValidateVolumeCapabilities, ListVolumes, GetCapacity, ControllerGetVolume ----

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
        h.awaitPoolEmpty();
        GetCapacityRequest all = GetCapacityRequest.newBuilder().setAccessibleTopology(
                Topology.newBuilder().putSegments(Driver.TOPOLOGY_NODE, CsiHarness.NODE)).build();
        assertThat(h.controller().getCapacity(all).getAvailableCapacity()).isEqualTo(10 * GI + h.localRoomBytes());
        GetCapacityRequest local = all.toBuilder().putParameters("positionAdvice", "MustLocal").build();
        assertThat(h.controller().getCapacity(local).getAvailableCapacity()).isEqualTo(h.localRoomBytes());
        h.controller().createVolume(create("pvc-cap", GI).putParameters("positionAdvice", "MustLocal").build());
        // The ledger now has 9 GiB of room; the disk a little less once the agent has measured the
        // 1 GiB file (the pool's marker takes a few KiB): capacity is the smaller of the two.
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            long expected = h.localRoomBytes(GI);
            assertThat(h.controller().getCapacity(local).getAvailableCapacity()).as("local capacity").isEqualTo(expected);
            assertThat(h.controller().getCapacity(local).getMaximumVolumeSize().getValue()).isEqualTo(expected);
            assertThat(expected).isBetween(9 * GI - 4 * MI, 9 * GI);
        });
        assertThat(h.controller().getCapacity(all.toBuilder().putParameters("poolSelector", "media=hdd").build())
                .getAvailableCapacity()).isZero();
    }

    @Test
    void getCapacityAnswersForAnUnspecifiedAccessModeAndWithoutCapabilities() {
        h.awaitPoolEmpty();
        // external-provisioner's capacity tracking always asks with access mode UNKNOWN.
        GetCapacityRequest none = GetCapacityRequest.newBuilder().setAccessibleTopology(
                Topology.newBuilder().putSegments(Driver.TOPOLOGY_NODE, CsiHarness.NODE)).build();
        VolumeCapability unknownMode = VolumeCapability.newBuilder()
                .setMount(VolumeCapability.MountVolume.newBuilder().setFsType("ext4"))
                .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(VolumeCapability.AccessMode.Mode.UNKNOWN))
                .build();
        VolumeCapability noMode = VolumeCapability.newBuilder().setBlock(VolumeCapability.BlockVolume.getDefaultInstance())
                .build();
        long all = CsiHarness.POOL_BYTES + h.localRoomBytes();
        assertThat(h.controller().getCapacity(none).getAvailableCapacity()).isEqualTo(all);
        assertThat(h.controller().getCapacity(none.toBuilder().addVolumeCapabilities(unknownMode).build())
                .getAvailableCapacity()).isEqualTo(all);
        assertThat(h.controller().getCapacity(none.toBuilder().addVolumeCapabilities(noMode).build())
                .getAvailableCapacity()).isEqualTo(all);
        // A mode Ferry cannot serve has no capacity at all.
        VolumeCapability multiNode = unknownMode.toBuilder().setAccessMode(VolumeCapability.AccessMode.newBuilder()
                .setMode(VolumeCapability.AccessMode.Mode.MULTI_NODE_MULTI_WRITER)).build();
        assertThat(h.controller().getCapacity(none.toBuilder().addVolumeCapabilities(multiNode).build())
                .getAvailableCapacity()).isZero();
    }

    @Test
    void controllerGetVolumeReportsAnAbnormalConditionWhenTheServingNodeIsDown() {
        h.controller().createVolume(create("pvc-down", 8 * MI).putParameters("nodeSelector", "rack=r2").build());
        ControllerGetVolumeRequest get = ControllerGetVolumeRequest.newBuilder().setVolumeId("pvc-down").build();
        assertThat(h.controller().controllerGetVolume(get).getStatus().getVolumeCondition().getAbnormal()).isFalse();
        h.unregisterRemote();
        await().atMost(Duration.ofSeconds(20)).until(() ->
                h.controller().controllerGetVolume(get).getStatus().getVolumeCondition().getAbnormal());
        ControllerGetVolumeResponse down = h.controller().controllerGetVolume(get);
        assertThat(down.getStatus().getVolumeCondition().getMessage()).contains(CsiHarness.REMOTE);
        assertThat(code(() -> h.controller().controllerGetVolume(ControllerGetVolumeRequest.newBuilder()
                .setVolumeId("no-such-volume").build()))).isEqualTo(Status.Code.NOT_FOUND);
    }

    // ---- ControllerExpandVolume, snapshots ----

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
}
