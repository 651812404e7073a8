package io.ferry.csi;

import com.google.common.util.concurrent.ListenableFuture;
import io.ferry.csi.v1.ControllerExpandVolumeRequest;
import io.ferry.csi.v1.ControllerExpandVolumeResponse;
import io.ferry.csi.v1.ControllerGetVolumeRequest;
import io.ferry.csi.v1.ControllerGrpc;
import io.ferry.csi.v1.ControllerPublishVolumeRequest;
import io.ferry.csi.v1.ControllerPublishVolumeResponse;
import io.ferry.csi.v1.ControllerUnpublishVolumeRequest;
import io.ferry.csi.v1.ControllerUnpublishVolumeResponse;
import io.ferry.csi.v1.CreateSnapshotRequest;
import io.ferry.csi.v1.CreateVolumeRequest;
import io.ferry.csi.v1.CreateVolumeResponse;
import io.ferry.csi.v1.DeleteVolumeRequest;
import io.ferry.csi.v1.ListVolumesRequest;
import io.ferry.csi.v1.ListVolumesResponse;
import io.ferry.csi.v1.CapacityRange;
import io.ferry.csi.v1.VolumeContentSource;
import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.model.Attachment;
import io.ferry.model.Engine;
import io.ferry.model.Layout;
import io.ferry.model.Placement;
import io.ferry.model.SnapshotIntent;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeParts;
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

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static io.ferry.csi.CsiRequests.MI;
import static io.ferry.csi.CsiRequests.block;
import static io.ferry.csi.CsiRequests.code;
import static io.ferry.csi.CsiRequests.create;
import static io.ferry.csi.CsiRequests.message;
import static io.ferry.csi.CsiRequests.mount;
import static io.ferry.etcd.testing.Await.result;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The CSI controller calls on multi-part volumes (issue #17; docs/csi.md, "Multi-part volumes")
 * against a real etcd, with {@link PartsControllerStandIn} playing the controller and the parts'
 * agents: a call returns only once every part is done, answers a refusal from the volume's own
 * record at once, writes the volume's attachment and nothing for the parts, and never shows a
 * part as a volume.
 */
class MultiPartControllerIT {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    private static final String CONSUMER = CsiHarness.NODE;
    private static final long LEG = 256 * MI;
    /** The size of each leg of a mirror of {@link #LEG} bytes: md's reserve comes on top. */
    private static final long MIRROR_LEG = VolumeParts.mirrorLegBytes(LEG);

    private final EventLoopGroup clientGroup = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    private EtcdStore store;
    private FerryKeys keys;
    private CsiServer server;
    private ManagedChannel channel;
    private PartsControllerStandIn controller;

    @BeforeEach
    void setUp() throws Exception {
        String prefix = EtcdExtension.uniquePrefix();
        store = EtcdStore.connect(etcd.options(prefix));
        keys = store.keys();
        controller = new PartsControllerStandIn(store);
        controller.start(CONSUMER, "node-b", "node-c");
        server = new CsiServer(new CsiServer.Options(CsiServer.Mode.CONTROLLER, new CsiEndpoint.Tcp("127.0.0.1", 0),
                null, InformerOptions.defaults()), EtcdStore.connect(etcd.options(prefix)), true,
                new ProcessCommandRunner()).start();
        channel = server.endpoint().channelBuilder(clientGroup).build();
    }

    @AfterEach
    void tearDown() {
        if (channel != null) {
            channel.shutdownNow();
        }
        if (server != null) {
            server.close();
        }
        if (store != null) {
            store.close();
        }
        clientGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }

    private ControllerGrpc.ControllerBlockingStub csi() {
        return ControllerGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    private ListenableFuture<CreateVolumeResponse> createAsync(CreateVolumeRequest request) {
        return ControllerGrpc.newFutureStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS).createVolume(request);
    }

    private static CreateVolumeRequest mirror(String name, int legs) {
        return create(name, LEG).putParameters("layout", "mirror").putParameters("parts", Integer.toString(legs)).build();
    }

    /**
     * Waits until the plugin's view holds what the stand-in last wrote (its waits are re-evaluated
     * on that change), then a moment for an answer to travel: the call must still be running.
     */
    private void assertStillWaiting(ListenableFuture<?> call, BooleanSupplier viewHasIt) throws InterruptedException {
        await().atMost(Duration.ofSeconds(10)).until(viewHasIt::getAsBoolean);
        Thread.sleep(300);
        assertThat(call.isDone()).as("the call returned before every part was done").isFalse();
    }

    @Test
    void createVolumeOfAMirrorWaitsForEveryLegAndReturnsTheAssembledCapacity() throws Exception {
        ListenableFuture<CreateVolumeResponse> call = createAsync(mirror("pvc-mirror", 2));
        await().atMost(Duration.ofSeconds(10)).until(() -> result(store.get(keys.volume("pvc-mirror"), VolumeIntent.class))
                .isPresent());
        VolumeIntent intent = result(store.get(keys.volume("pvc-mirror"), VolumeIntent.class)).orElseThrow().value();
        assertThat(intent.layout()).isEqualTo(Layout.MIRROR);
        assertThat(intent.parts()).isEqualTo(2);
        assertThat(intent.partOf()).isNull();

        controller.place("pvc-mirror", List.of("node-b", "node-c"), MIRROR_LEG, MIRROR_LEG);
        assertStillWaiting(call, () -> server.view().volumeParts("pvc-mirror").isPresent());
        controller.ready("pvc-mirror--p0", "node-b", MIRROR_LEG, Set.of());
        assertStillWaiting(call, () -> server.view().volumeStatus("node-b", "pvc-mirror--p0").isPresent());
        controller.ready("pvc-mirror--p1", "node-c", MIRROR_LEG, Set.of());

        CreateVolumeResponse response = call.get(30, TimeUnit.SECONDS);
        assertThat(response.getVolume().getVolumeId()).isEqualTo("pvc-mirror");
        assertThat(response.getVolume().getCapacityBytes()).as("one leg's size").isEqualTo(LEG);
        assertThat(response.getVolume().getAccessibleTopologyList()).isEmpty();

        // Idempotent: the same request answers at once; another leg count or layout is a conflict.
        assertThat(csi().createVolume(mirror("pvc-mirror", 2)).getVolume().getCapacityBytes()).isEqualTo(LEG);
        assertThat(code(() -> csi().createVolume(mirror("pvc-mirror", 3)))).isEqualTo(Status.Code.ALREADY_EXISTS);
        assertThat(message(() -> csi().createVolume(mirror("pvc-mirror", 3)))).contains("parts 2, requested 3");
        assertThat(message(() -> csi().createVolume(create("pvc-mirror", LEG).build())))
                .contains("layout mirror, requested single");
    }

    @Test
    void thePartsOfAnEarlierVolumeOfTheSameNameDoNotMakeTheNewOneReady() throws Exception {
        // What the plugin's view may still hold for a moment of a mirror deleted just before: its
        // parts record, part intents and Ready statuses, all older than the new volume's intent.
        List<VolumeParts.Part> parts = List.of(new VolumeParts.Part("pvc-again--p0", 0, MIRROR_LEG),
                new VolumeParts.Part("pvc-again--p1", 1, MIRROR_LEG));
        for (VolumeParts.Part part : parts) {
            result(store.put(keys.volume(part.name()), VolumeIntent.builder(part.name(), MIRROR_LEG).partOf("pvc-again")
                    .createdBy("controller").build()));
            result(store.put(keys.placement(part.name()), Placement.of(part.name(), "pool-node-b", "node-b", Engine.LVM,
                    MIRROR_LEG, false, 1, CONSUMER, null, null, PartsControllerStandIn.T)));
            controller.ready(part.name(), "node-b", MIRROR_LEG, Set.of());
        }
        result(store.put(keys.volumeParts("pvc-again"), VolumeParts.of("pvc-again", Layout.MIRROR, parts,
                PartsControllerStandIn.ARRAY_UUID, PartsControllerStandIn.T)));

        ListenableFuture<CreateVolumeResponse> call = createAsync(mirror("pvc-again", 2));
        assertStillWaiting(call, () -> server.view().volume("pvc-again").isPresent());

        // The controller places the new volume's parts: new intents, so they count.
        for (VolumeParts.Part part : parts) {
            result(store.delete(keys.volume(part.name())));
        }
        controller.place("pvc-again", List.of("node-b", "node-c"), MIRROR_LEG, MIRROR_LEG);
        controller.ready("pvc-again--p0", "node-b", MIRROR_LEG, Set.of());
        controller.ready("pvc-again--p1", "node-c", MIRROR_LEG, Set.of());
        assertThat(call.get(30, TimeUnit.SECONDS).getVolume().getCapacityBytes()).isEqualTo(LEG);
    }

    @Test
    void createVolumeOfALinearVolumeReturnsTheSumOfItsSegments() throws Exception {
        ListenableFuture<CreateVolumeResponse> call = createAsync(create("pvc-linear", 4 * LEG)
                .putParameters("layout", "linear").build());
        await().atMost(Duration.ofSeconds(10)).until(() -> result(store.get(keys.volume("pvc-linear"), VolumeIntent.class))
                .isPresent());
        controller.place("pvc-linear", List.of("node-b", "node-c"), LEG, 3 * LEG);
        controller.ready("pvc-linear--p0", "node-b", LEG, Set.of());
        assertStillWaiting(call, () -> server.view().volumeStatus("node-b", "pvc-linear--p0").isPresent());
        controller.ready("pvc-linear--p1", "node-c", 3 * LEG, Set.of());
        assertThat(call.get(30, TimeUnit.SECONDS).getVolume().getCapacityBytes()).isEqualTo(4 * LEG);
    }

    @Test
    void aStripedVolumeIsRoundedUpToWholeEqualStripesWithinLimitBytesOnly() throws Exception {
        // 100 MiB over 2 stripes: 2 x 52 MiB (a multiple of 2 x 4 MiB), returned as the capacity.
        ListenableFuture<CreateVolumeResponse> call = createAsync(create("pvc-striped", 100 * MI)
                .putParameters("layout", "striped").build());
        await().atMost(Duration.ofSeconds(10)).until(() -> result(store.get(keys.volume("pvc-striped"), VolumeIntent.class))
                .isPresent());
        assertThat(result(store.get(keys.volume("pvc-striped"), VolumeIntent.class)).orElseThrow().value().sizeBytes())
                .isEqualTo(104 * MI);
        controller.place("pvc-striped", List.of("node-b", "node-c"), 52 * MI, 52 * MI);
        controller.ready("pvc-striped--p0", "node-b", 52 * MI, Set.of());
        controller.ready("pvc-striped--p1", "node-c", 52 * MI, Set.of());
        assertThat(call.get(30, TimeUnit.SECONDS).getVolume().getCapacityBytes()).isEqualTo(104 * MI);

        // limit_bytes below what the stripes round up to: OUT_OF_RANGE, saying the unit, and nothing written.
        CreateVolumeRequest capped = create("pvc-capped", 100 * MI).putParameters("layout", "striped")
                .putParameters("parts", "3").setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(100 * MI)
                        .setLimitBytes(100 * MI)).build();
        assertThat(code(() -> csi().createVolume(capped))).isEqualTo(Status.Code.OUT_OF_RANGE);
        assertThat(message(() -> csi().createVolume(capped)))
                .contains("a striped volume of 3 stripes is sized in multiples of 12Mi: 104857600 bytes rounds up to 113246208");
        assertThat(result(store.get(keys.volume("pvc-capped"), VolumeIntent.class))).isEmpty();
    }

    @Test
    void aMirrorTheControllerCannotPlaceIsResourceExhaustedAtOnceAndItsIntentWithdrawn() throws Exception {
        ListenableFuture<CreateVolumeResponse> call = createAsync(mirror("pvc-nofit", 3));
        await().atMost(Duration.ofSeconds(10)).until(() -> result(store.get(keys.volume("pvc-nofit"), VolumeIntent.class))
                .isPresent());
        controller.refuse("pvc-nofit", "no placement: fewer node domains than legs 1");
        Throwable failure = null;
        try {
            call.get(10, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            failure = e.getCause();
        }
        assertThat(Status.fromThrowable(failure).getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
        assertThat(Status.fromThrowable(failure).getDescription()).contains("fewer node domains than legs");
        assertThat(result(store.get(keys.volume("pvc-nofit"), VolumeIntent.class)).orElseThrow().value()
                .deletionRequested()).isTrue();
    }

    @Test
    void aStorageClassAskingForAnImpossibleLayoutIsAnInvalidArgumentAndWritesNothing() {
        assertThat(code(() -> csi().createVolume(mirror("pvc-bad", 4)))).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(message(() -> csi().createVolume(mirror("pvc-bad", 4))))
                .contains("parts: a mirror volume has 2 to 3 parts, not 4");
        assertThat(code(() -> csi().createVolume(create("pvc-bad", LEG).putParameters("layout", "raid5").build())))
                .isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(result(store.get(keys.volume("pvc-bad"), VolumeIntent.class))).isEmpty();

        // The parts' names (<vol>--p<i>) must fit, and a name of that shape is the controller's.
        String longName = "pvc-" + "a".repeat(55);
        assertThat(message(() -> csi().createVolume(mirror(longName, 2)))).contains("at most 58 characters");
        assertThat(code(() -> csi().createVolume(mirror("pvc-x--p1", 2)))).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(result(store.get(keys.volume(longName), VolumeIntent.class))).isEmpty();
        assertThat(result(store.get(keys.volume("pvc-x--p1"), VolumeIntent.class))).isEmpty();
    }

    @Test
    void publishWritesOnlyTheVolumesAttachmentAndWaitsUntilEveryPartIsServedToTheNode() throws Exception {
        readyMirror("pvc-pub");
        ListenableFuture<ControllerPublishVolumeResponse> call = ControllerGrpc.newFutureStub(channel)
                .withDeadlineAfter(60, TimeUnit.SECONDS).controllerPublishVolume(publish("pvc-pub"));
        await().atMost(Duration.ofSeconds(10)).until(() -> result(store.get(keys.attachment("pvc-pub", CONSUMER),
                Attachment.class)).isPresent());
        assertThat(result(store.count(keys.attachmentsOf("pvc-pub--p0")))).isZero();
        assertThat(result(store.count(keys.attachmentsOf("pvc-pub--p1")))).isZero();

        // The controller exports each remote leg to the consumer; one leg exported is not enough.
        String host = PartsControllerStandIn.hostNqn(CONSUMER);
        controller.ready("pvc-pub--p0", "node-b", MIRROR_LEG, Set.of(host));
        assertStillWaiting(call, () -> server.view().volumeStatus("node-b", "pvc-pub--p0")
                .filter(s -> s.export() != null).isPresent());
        controller.ready("pvc-pub--p1", "node-c", MIRROR_LEG, Set.of(host));
        ControllerPublishVolumeResponse response = call.get(30, TimeUnit.SECONDS);
        assertThat(response.getPublishContextMap()).containsExactlyEntriesOf(Map.of(Driver.PUBLISH_LAYOUT, "mirror"));

        // Unpublish returns once every leg's node has cut the host off.
        ListenableFuture<ControllerUnpublishVolumeResponse> detach = ControllerGrpc.newFutureStub(channel)
                .withDeadlineAfter(60, TimeUnit.SECONDS).controllerUnpublishVolume(ControllerUnpublishVolumeRequest
                        .newBuilder().setVolumeId("pvc-pub").setNodeId(CONSUMER).build());
        await().atMost(Duration.ofSeconds(10)).until(() -> result(store.get(keys.attachment("pvc-pub", CONSUMER),
                Attachment.class)).isEmpty());
        controller.ready("pvc-pub--p0", "node-b", MIRROR_LEG, Set.of());
        assertStillWaiting(detach, () -> server.view().volumeStatus("node-b", "pvc-pub--p0")
                .filter(s -> s.export() == null).isPresent());
        controller.ready("pvc-pub--p1", "node-c", MIRROR_LEG, Set.of());
        detach.get(30, TimeUnit.SECONDS);
    }

    @Test
    void partsAreNeitherListedNorReachableAsVolumesOfTheirOwn() throws Exception {
        readyMirror("pvc-list");
        ListVolumesResponse list = csi().listVolumes(ListVolumesRequest.getDefaultInstance());
        assertThat(list.getEntriesList()).extracting(e -> e.getVolume().getVolumeId()).containsExactly("pvc-list");
        assertThat(list.getEntries(0).getVolume().getCapacityBytes()).isEqualTo(LEG);
        assertThat(list.getEntries(0).getStatus().getVolumeCondition().getAbnormal()).isFalse();
        assertThat(list.getEntries(0).getStatus().getVolumeCondition().getMessage())
                .isEqualTo("mirror of 2 parts, served by [node-b, node-c]");

        assertThat(code(() -> csi().controllerGetVolume(ControllerGetVolumeRequest.newBuilder()
                .setVolumeId("pvc-list--p0").build()))).isEqualTo(Status.Code.NOT_FOUND);
        assertThat(code(() -> csi().controllerPublishVolume(publish("pvc-list--p1")))).isEqualTo(Status.Code.NOT_FOUND);
        // Deleting a part through CSI deletes nothing: to CSI it does not exist.
        csi().deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId("pvc-list--p0").build());
        assertThat(result(store.get(keys.volume("pvc-list--p0"), VolumeIntent.class)).orElseThrow().value()
                .deletionRequested()).isFalse();
    }

    @Test
    void expandingAMirrorWaitsUntilEveryLegHasGrownAndAsksTheNodeToGrowTheArray() throws Exception {
        readyMirror("pvc-grow");
        ListenableFuture<ControllerExpandVolumeResponse> call = ControllerGrpc.newFutureStub(channel)
                .withDeadlineAfter(60, TimeUnit.SECONDS).controllerExpandVolume(ControllerExpandVolumeRequest.newBuilder()
                        .setVolumeId("pvc-grow").setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(2 * LEG))
                        .setVolumeCapability(block()).build());
        await().atMost(Duration.ofSeconds(10)).until(() -> result(store.get(keys.volume("pvc-grow"), VolumeIntent.class))
                .orElseThrow().value().sizeBytes() == 2 * LEG);
        long grownLeg = VolumeParts.mirrorLegBytes(2 * LEG);
        controller.place("pvc-grow", List.of("node-b", "node-c"), grownLeg, grownLeg);
        controller.ready("pvc-grow--p0", "node-b", grownLeg, Set.of());
        assertStillWaiting(call, () -> server.view().volumeStatus("node-b", "pvc-grow--p0")
                .map(s -> s.sizeBytes() == grownLeg).orElse(false));
        controller.ready("pvc-grow--p1", "node-c", grownLeg, Set.of());

        ControllerExpandVolumeResponse grown = call.get(30, TimeUnit.SECONDS);
        assertThat(grown.getCapacityBytes()).isEqualTo(2 * LEG);
        assertThat(grown.getNodeExpansionRequired()).as("the array grows on the node, for a raw block volume too").isTrue();
    }

    @Test
    void snapshotAndCloneOfAMultiPartVolumeAreRefusedWithAReasonAndWriteNothing() throws Exception {
        readyMirror("pvc-refuse");
        CreateSnapshotRequest snapshot = CreateSnapshotRequest.newBuilder().setName("snap-refuse")
                .setSourceVolumeId("pvc-refuse").build();
        assertThat(code(() -> csi().createSnapshot(snapshot))).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(message(() -> csi().createSnapshot(snapshot))).contains("snapshots of multi-part volumes");
        assertThat(result(store.get(keys.snapshot("snap-refuse"), SnapshotIntent.class))).isEmpty();

        CreateVolumeRequest clone = create("pvc-clone", LEG).setVolumeContentSource(VolumeContentSource.newBuilder()
                .setVolume(VolumeContentSource.VolumeSource.newBuilder().setVolumeId("pvc-refuse"))).build();
        assertThat(code(() -> csi().createVolume(clone))).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(message(() -> csi().createVolume(clone))).contains("cloning a multi-part volume is not supported");
        CreateVolumeRequest intoMirror = mirror("pvc-clone", 2).toBuilder().setVolumeContentSource(VolumeContentSource
                .newBuilder().setVolume(VolumeContentSource.VolumeSource.newBuilder().setVolumeId("pvc-refuse"))).build();
        assertThat(code(() -> csi().createVolume(intoMirror))).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(result(store.get(keys.volume("pvc-clone"), VolumeIntent.class))).isEmpty();
    }

    /** A mirror of two legs on node-b and node-c, created through CSI and Ready. */
    private void readyMirror(String name) throws Exception {
        ListenableFuture<CreateVolumeResponse> call = createAsync(mirror(name, 2));
        await().atMost(Duration.ofSeconds(10)).until(() -> result(store.get(keys.volume(name), VolumeIntent.class))
                .isPresent());
        controller.place(name, List.of("node-b", "node-c"), MIRROR_LEG, MIRROR_LEG);
        controller.ready(name + "--p0", "node-b", MIRROR_LEG, Set.of());
        controller.ready(name + "--p1", "node-c", MIRROR_LEG, Set.of());
        call.get(30, TimeUnit.SECONDS);
    }

    private static ControllerPublishVolumeRequest publish(String volume) {
        return ControllerPublishVolumeRequest.newBuilder().setVolumeId(volume).setNodeId(CONSUMER)
                .setVolumeCapability(mount("ext4")).build();
    }
}
