package io.ferry.csi;

import io.ferry.csi.v1.CapacityRange;
import io.ferry.csi.v1.ControllerPublishVolumeRequest;
import io.ferry.csi.v1.ControllerUnpublishVolumeRequest;
import io.ferry.csi.v1.CreateVolumeRequest;
import io.ferry.csi.v1.DeleteVolumeRequest;
import io.ferry.csi.v1.GetCapacityRequest;
import io.ferry.csi.v1.NodeStageVolumeRequest;
import io.ferry.csi.v1.NodeUnstageVolumeRequest;
import io.ferry.csi.v1.Volume;
import io.ferry.csi.v1.Topology;
import io.ferry.csi.v1.VolumeCapability;
import io.ferry.csi.v1.VolumeContentSource;
import io.ferry.csi.v1.CreateSnapshotRequest;
import io.ferry.etcd.store.Versioned;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.model.Attachment;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumePhase;
import io.ferry.model.VolumeStatus;
import io.grpc.Status;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static io.ferry.csi.CsiConformanceIT.MI;
import static io.ferry.csi.CsiConformanceIT.block;
import static io.ferry.csi.CsiConformanceIT.code;
import static io.ferry.csi.CsiConformanceIT.create;
import static io.ferry.csi.CsiConformanceIT.message;
import static io.ferry.csi.CsiConformanceIT.mount;
import static io.ferry.etcd.testing.Await.result;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The controller service's answers the CSI specification prescribes for deletion and re-creation
 * of a name, publication with another capability, and clones, against the real controller and the
 * real file-engine agent ({@link CsiHarness}).
 */
class ControllerConformanceIT {

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
    void getCapacityAnswersForAnUnspecifiedAccessModeAndWithoutCapabilities() {
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
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> result(h.store.get(
                h.keys.workItem(CsiHarness.NODE, "pvc-noexport"), io.ferry.model.WorkItem.class))
                .map(v -> v.value().mustExist()).orElse(false));
        assertThat(result(h.store.get(h.keys.placement("pvc-noexport"), io.ferry.model.Placement.class))
                .orElseThrow().value().node()).isEqualTo(CsiHarness.NODE);
        // node-a's agent runs without kernel nvmet: it can serve node-a, never export to node-b.
        ControllerPublishVolumeRequest publish = ControllerPublishVolumeRequest.newBuilder().setVolumeId("pvc-noexport")
                .setNodeId(CsiHarness.REMOTE).setVolumeCapability(mount("ext4")).build();
        long started = System.nanoTime();
        // A deadline far beyond the answer: DEADLINE_EXCEEDED would mean the outcome was waited out.
        assertThat(code(() -> h.controller(Duration.ofSeconds(60)).controllerPublishVolume(publish)))
                .isEqualTo(Status.Code.FAILED_PRECONDITION);
        Duration took = Duration.ofNanos(System.nanoTime() - started);
        assertThat(message(() -> h.controller(Duration.ofSeconds(60)).controllerPublishVolume(publish)))
                .contains("cannot export to " + CsiHarness.REMOTE + " volume pvc-noexport", "kernel nvmet is not loaded");
        System.out.println("ControllerPublishVolume to a node the volume cannot be exported to answered in " + took.toMillis()
                + " ms");

        VolumeStatus failed = status("pvc-noexport");
        assertThat(failed.phase()).isEqualTo(VolumePhase.FAILED);
        io.ferry.model.Condition ready = failed.ready().orElseThrow();
        assertThat(ready.failureReason()).isEqualTo(io.ferry.model.FailureReason.EXPORT_UNAVAILABLE);
        long generation = result(h.store.get(h.keys.placement("pvc-noexport"), io.ferry.model.Placement.class))
                .orElseThrow().value().generation();
        assertThat(ready.observedGeneration()).isEqualTo(generation);
        assertThat(ready.lastTransitionTime()).isNotNull();
        // Terminal for this generation: the agent does not try again until an input changes.
        Thread.sleep(3000);
        assertThat(status("pvc-noexport").ready().orElseThrow().attempts()).isEqualTo(1);

        // The input changes (the attachment goes, the work item asks for no export): served again.
        h.controller().controllerUnpublishVolume(ControllerUnpublishVolumeRequest.newBuilder().setVolumeId("pvc-noexport")
                .setNodeId(CsiHarness.REMOTE).build());
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30)).until(() ->
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
                    .isEqualTo(io.ferry.model.FailureReason.SOURCE_LOST);
        } finally {
            Files.move(away, file);
        }
    }

    VolumeStatus status(String volume) {
        return result(h.store.get(h.keys.volumeStatus(CsiHarness.NODE, volume), VolumeStatus.class)).orElseThrow().value();
    }

    @Test
    void createVolumeWithNoControllerRunningSaysSoAtOnceAndTheVolumeIsPlacedWhenOneStarts() {
        h.stopController();
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30)).until(() ->
                result(h.store.count(h.keys.controllerLeader() + "/")) == 0);
        CreateVolumeRequest request = create("pvc-nobody", 16 * MI).putParameters("positionAdvice", "MustLocal").build();
        assertThat(code(() -> h.controller(Duration.ofSeconds(60)).createVolume(request))).isEqualTo(Status.Code.UNAVAILABLE);
        assertThat(message(() -> h.controller(Duration.ofSeconds(60)).createVolume(request)))
                .contains("no Ferry controller is running", "pvc-nobody", "placed once a controller starts");
        assertThat(intent("pvc-nobody").value().deletionRequested()).isFalse();

        h.startController();
        Volume created = h.controller().createVolume(request).getVolume();
        assertThat(created.getVolumeId()).isEqualTo("pvc-nobody");
    }

    @Test
    void aCreateVolumeRefusedForLackOfRoomLeavesNoIntentBehindForAVolumeNobodyWouldOwn() {
        CreateVolumeRequest huge = create("pvc-toolarge", 50 * CsiConformanceIT.GI).build();
        assertThat(code(() -> h.controller().createVolume(huge))).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
        // The caller got no volume and will never delete one: its intent is withdrawn, so room
        // appearing later places nothing.
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30)).until(() ->
                result(h.store.getRaw(h.keys.volume("pvc-toolarge"))).isEmpty());
        assertThat(result(h.store.getRaw(h.keys.volumeScheduling("pvc-toolarge")))).isEmpty();
        assertThat(result(h.store.getRaw(h.keys.placement("pvc-toolarge")))).isEmpty();
        // The CO's retry asks again and is refused again, the same way.
        assertThat(code(() -> h.controller().createVolume(huge))).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    }
}
