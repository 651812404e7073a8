package io.ferry.csi;

import io.ferry.agent.AgentOptions;
import io.ferry.agent.engine.LoopDevices;
import io.ferry.cluster.LocalCluster;
import io.ferry.controller.ControllerOptions;
import io.ferry.csi.v1.ControllerGrpc;
import io.ferry.csi.v1.ControllerPublishVolumeRequest;
import io.ferry.csi.v1.ControllerPublishVolumeResponse;
import io.ferry.csi.v1.ControllerUnpublishVolumeRequest;
import io.ferry.csi.v1.CreateVolumeRequest;
import io.ferry.csi.v1.DeleteVolumeRequest;
import io.ferry.csi.v1.NodeGrpc;
import io.ferry.csi.v1.NodePublishVolumeRequest;
import io.ferry.csi.v1.NodeStageVolumeRequest;
import io.ferry.csi.v1.NodeUnpublishVolumeRequest;
import io.ferry.csi.v1.NodeUnstageVolumeRequest;
import io.ferry.csi.v1.Topology;
import io.ferry.csi.v1.TopologyRequirement;
import io.ferry.etcd.EtcdRoles;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.store.Versioned;
import io.ferry.etcd.testing.Cleanup;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.model.Engine;
import io.ferry.model.FailureReason;
import io.ferry.model.NodeRegistration;
import io.ferry.model.Placement;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolSource;
import io.ferry.model.PoolStatus;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeStatus;
import io.ferry.model.WorkItem;
import io.ferry.runtime.device.TestDisks;
import io.ferry.runtime.exec.Command;
import io.ferry.runtime.exec.CommandRunner;
import io.ferry.runtime.exec.ProcessCommandRunner;
import io.ferry.runtime.informer.InformerOptions;
import io.ferry.runtime.reconcile.RuntimeOptions;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.unix.DomainSocketAddress;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static io.ferry.csi.CsiRequests.code;
import static io.ferry.csi.CsiRequests.message;
import static io.ferry.csi.CsiRequests.mount;
import static io.ferry.etcd.testing.Await.result;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * Two real file-engine agents on this one machine, as {@code ferry up --agents 2} runs them: node-2
 * has the only pool, node-1 none, and the CSI plugin (controller and node service) serves node-1.
 * This machine has no kernel nvmet, so neither agent can export: a volume on node-2 reaches node-1
 * only as the device node-2 made, handed over because both registrations name the same machine.
 */
class SameMachineHandoffIT {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    static final String CONSUMER = "node-1";
    static final String SERVER = "node-2";
    static final String POOL = "pool-2";
    static final long MI = 1L << 20;

    private final CommandRunner runner = new ProcessCommandRunner();
    private final LoopDevices loops = new LoopDevices(runner, Duration.ofSeconds(10));
    private final EventLoopGroup clientGroup = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    private ScratchDirectory scratch;
    private Path root;
    private Path poolMount;
    private LocalCluster cluster;
    private EtcdStore store;
    private CsiServer server;
    private ManagedChannel channel;

    /** Starts the cluster; the server's agent names {@code serverMachine}, or the kernel's boot id when null. */
    void start(String serverMachine) throws Exception {
        scratch = ScratchDirectory.create("ferry-handoff-it-", runner);
        root = scratch.root();
        poolMount = root.resolve("pools");
        Files.createDirectories(poolMount);
        runner.run(Command.of("mount", "-t", "tmpfs", "-o", "size=1g,mode=0700", "ferry-handoff-it", poolMount.toString()));
        scratch.mountedBase(poolMount);
        cluster = LocalCluster.on(etcd.options(EtcdExtension.uniquePrefix()), LocalCluster.Access.open(), runner, 2);
        store = cluster.store();
        cluster.ensureIdentity();
        result(store.put(store.keys().poolConfig(POOL), PoolConfig.builder(POOL, SERVER, Engine.FILE,
                PoolSource.directory(poolMount.resolve(POOL).toString())).prepare(true).build()));
        startAgent(CONSUMER, null);
        startAgent(SERVER, serverMachine);
        await().atMost(Duration.ofSeconds(30)).until(() -> result(store.get(store.keys().nodePoolStatus(SERVER, POOL),
                PoolStatus.class)).map(Versioned::value).filter(PoolStatus::healthy).isPresent()
                && registration(CONSUMER) != null);
        cluster.startController(new ControllerOptions("controller-handoff", Duration.ofSeconds(3), null,
                InformerOptions.defaults().withWatchdogInterval(Duration.ofSeconds(2)),
                RuntimeOptions.defaults().withConcurrency(4).withDelays(Duration.ofMillis(100), Duration.ofSeconds(2)),
                Duration.ofMinutes(5)));
        Path socket = root.resolve("plugin/csi.sock");
        server = cluster.startComponent("csi", c -> new CsiServer(new CsiServer.Options(CsiServer.Mode.BOTH,
                new CsiEndpoint.Unix(socket), NodeService.Options.defaults(CONSUMER), InformerOptions.defaults()),
                EtcdStore.connect(c.options(EtcdRoles.CSI_CONTROLLER)), true, runner).start());
        channel = NettyChannelBuilder.forAddress(new DomainSocketAddress(socket.toString()))
                .channelType(EpollDomainSocketChannel.class).eventLoopGroup(clientGroup).usePlaintext().build();
    }

    private void startAgent(String node, String machineId) {
        cluster.startAgent(AgentOptions.defaults(node, "127.0.0.1", root.resolve("state-" + node))
                .withHostNqnFile(root.resolve("no-hostnqn"))
                .withNvmetRoot(root.resolve("no-nvmet"))
                .withAdmin("127.0.0.1", -1)
                .withIntervals(Duration.ofSeconds(1), Duration.ofSeconds(2))
                .withMachineId(machineId));
    }

    /** Stops an agent and puts its registration back without a lease, so that nothing repairs what a test writes. */
    private void stopAgent(String node) {
        NodeRegistration registration = registration(node);
        cluster.stopAgent(node);
        result(store.put(store.keys().registration(node), registration));
    }

    private NodeRegistration registration(String node) {
        return result(store.get(store.keys().registration(node), NodeRegistration.class)).map(Versioned::value).orElse(null);
    }

    ControllerGrpc.ControllerBlockingStub controller() {
        return ControllerGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
    }

    NodeGrpc.NodeBlockingStub node() {
        return NodeGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
    }

    static CreateVolumeRequest create(String name, String consumer) {
        CreateVolumeRequest.Builder b = CsiRequests.create(name, 64 * MI).clearAccessibilityRequirements();
        if (consumer != null) {
            b.setAccessibilityRequirements(TopologyRequirement.newBuilder().addPreferred(
                    Topology.newBuilder().putSegments(Driver.TOPOLOGY_NODE, consumer)));
        }
        return b.build();
    }

    static ControllerPublishVolumeRequest publish(String volume) {
        return ControllerPublishVolumeRequest.newBuilder().setVolumeId(volume).setNodeId(CONSUMER)
                .setVolumeCapability(mount("ext4")).build();
    }

    Placement placement(String volume) {
        return result(store.get(store.keys().placement(volume), Placement.class)).orElseThrow().value();
    }

    VolumeStatus status(String volume) {
        return result(store.get(store.keys().volumeStatus(SERVER, volume), VolumeStatus.class)).orElseThrow().value();
    }

    void stage(String volume, Path staging, Path target) {
        node().nodeStageVolume(NodeStageVolumeRequest.newBuilder().setVolumeId(volume)
                .setStagingTargetPath(staging.toString()).setVolumeCapability(mount("ext4")).build());
        node().nodePublishVolume(NodePublishVolumeRequest.newBuilder().setVolumeId(volume)
                .setStagingTargetPath(staging.toString()).setTargetPath(target.toString())
                .setVolumeCapability(mount("ext4")).build());
    }

    void unstage(String volume, Path staging, Path target) {
        node().nodeUnpublishVolume(NodeUnpublishVolumeRequest.newBuilder().setVolumeId(volume)
                .setTargetPath(target.toString()).build());
        node().nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder().setVolumeId(volume)
                .setStagingTargetPath(staging.toString()).build());
    }

    @Test
    void aVolumeOnAnotherAgentsPoolOfThisMachineIsHandedOverAsItsDeviceThroughEveryCsiCall() throws Exception {
        start(null);
        assertThat(registration(SERVER).machineId()).isNotNull().isEqualTo(registration(CONSUMER).machineId());
        assertThat(registration(SERVER).exporters()).isEmpty();

        // node-1 has no pool and node-2 cannot export: before handover, "cannot export" refused node-2.
        controller().createVolume(create("pvc-handoff", CONSUMER));
        assertThat(placement("pvc-handoff").node()).isEqualTo(SERVER);
        assertThat(placement("pvc-handoff").consumerNode()).isEqualTo(CONSUMER);

        ControllerPublishVolumeResponse published = controller().controllerPublishVolume(publish("pvc-handoff"));
        assertThat(published.getPublishContextMap()).containsEntry(Driver.PUBLISH_NODE, SERVER)
                .doesNotContainKey(Driver.PUBLISH_NQN);
        WorkItem work = result(store.get(store.keys().workItem(SERVER, "pvc-handoff"), WorkItem.class)).orElseThrow().value();
        assertThat(work.export()).isNull();
        assertThat(status("pvc-handoff").export()).isNull();

        Path staging = root.resolve("kubelet/staging/pvc-handoff");
        Path target = root.resolve("kubelet/pods/p1/pvc-handoff");
        stage("pvc-handoff", staging, target);
        // The file system is on node-2's own device for the volume, not on anything connected.
        String device = status("pvc-handoff").devicePath();
        Mounts.Mount staged = new Mounts(Path.of("/proc/self/mountinfo")).at(staging).orElseThrow();
        assertThat(DeviceVerifier.sameDevice(Path.of(staged.source()), Path.of(device))).isTrue();
        byte[] data = new byte[(int) (4 * MI)];
        new Random(14).nextBytes(data);
        Files.write(target.resolve("data.bin"), data);

        // Unstaged and staged again: the same bytes come back from the volume.
        unstage("pvc-handoff", staging, target);
        assertThat(new Mounts(Path.of("/proc/self/mountinfo")).at(staging)).isEmpty();
        stage("pvc-handoff", staging, target);
        assertThat(Files.readAllBytes(target.resolve("data.bin"))).isEqualTo(data);
        unstage("pvc-handoff", staging, target);
        // Unstaging ended no connection and withdrew nothing of the serving node's.
        assertThat(status("pvc-handoff").devicePath()).isEqualTo(device);
        assertThat(loops.all().stream().map(LoopDevices.Loop::device)).contains(device);
        controller().controllerUnpublishVolume(ControllerUnpublishVolumeRequest.newBuilder().setVolumeId("pvc-handoff")
                .setNodeId(CONSUMER).build());
    }

    @Test
    void aHandedOverDeviceIsVerifiedAsTheVolumesOwnAndAForgedStatusIsRefusedWithTheDeviceUntouched() throws Exception {
        start(null);
        controller().createVolume(create("pvc-mine", CONSUMER));
        controller().createVolume(create("pvc-other", CONSUMER));
        controller().controllerPublishVolume(publish("pvc-mine"));
        VolumeStatus genuine = status("pvc-mine");
        String other = status("pvc-other").devicePath();
        // node-2's agent would rewrite its status at once; stopped, it leaves the forged one in place.
        stopAgent(SERVER);
        String before = TestDisks.sha256(other);
        result(store.put(store.keys().volumeStatus(SERVER, "pvc-mine"), NodeConformanceIT.withDevice(genuine, other)));
        Path pool = poolMount.resolve(POOL).toRealPath();
        NodeStageVolumeRequest stage = NodeStageVolumeRequest.newBuilder().setVolumeId("pvc-mine")
                .setStagingTargetPath(root.resolve("kubelet/staging/pvc-mine").toString())
                .setVolumeCapability(mount("ext4")).build();
        assertThatThrownBy(() -> node().nodeStageVolume(stage)).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
            assertThat(e.getStatus().getDescription()).contains("volume pvc-mine", "refusing device " + other,
                    "its backing file is " + pool.resolve("pvc-other.img"));
        });
        assertThat(TestDisks.sha256(other)).isEqualTo(before);
        assertThat(new Mounts(Path.of("/proc/self/mountinfo")).at(root.resolve("kubelet/staging/pvc-mine"))).isEmpty();
        result(store.put(store.keys().volumeStatus(SERVER, "pvc-mine"), genuine));
        startAgent(SERVER, null);
    }

    @Test
    void onAnotherMachineTheVolumeStillNeedsAnExportWhichANodeWithoutNvmetCannotMake() throws Exception {
        start("machine-elsewhere");
        assertThat(registration(SERVER).machineId()).isEqualTo("machine-elsewhere");
        assertThat(registration(CONSUMER).machineId()).isNotEqualTo("machine-elsewhere");

        // For node-1's consumer, node-2's pool is refused by name.
        CreateVolumeRequest forNode1 = create("pvc-far", CONSUMER);
        assertThat(code(() -> controller().createVolume(forNode1))).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
        assertThat(message(() -> controller().createVolume(forNode1))).contains("cannot export");

        // Placed without a consumer, then published to node-1: the export it needs fails at once.
        controller().createVolume(create("pvc-far2", null));
        assertThat(placement("pvc-far2").node()).isEqualTo(SERVER);
        long started = System.nanoTime();
        assertThat(code(() -> controller().controllerPublishVolume(publish("pvc-far2"))))
                .isEqualTo(Status.Code.FAILED_PRECONDITION);
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(30));
        assertThat(message(() -> controller().controllerPublishVolume(publish("pvc-far2"))))
                .contains("cannot export to " + CONSUMER + " volume pvc-far2");
        assertThat(status("pvc-far2").ready().orElseThrow().failureReason()).isEqualTo(FailureReason.EXPORT_UNAVAILABLE);
        assertThat(result(store.get(store.keys().workItem(SERVER, "pvc-far2"), WorkItem.class)).orElseThrow().value()
                .export().allowedHostNqns()).containsExactly(registration(CONSUMER).hostNqn());
        controller().controllerUnpublishVolume(ControllerUnpublishVolumeRequest.newBuilder().setVolumeId("pvc-far2")
                .setNodeId(CONSUMER).build());
    }

    @AfterEach
    void close() throws Exception {
        Cleanup cleanup = new Cleanup();
        if (scratch != null) {
            cleanup.step(scratch::unmountAll);
        }
        cleanup.step(() -> {
            if (channel == null) {
                return;
            }
            for (Versioned<VolumeIntent> v : result(store.list(store.keys().volumes(), VolumeIntent.class)).items()) {
                controller().controllerUnpublishVolume(ControllerUnpublishVolumeRequest.newBuilder()
                        .setVolumeId(v.value().name()).build());
                controller().deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId(v.value().name()).build());
            }
            await("Ferry deleting every volume").atMost(Duration.ofSeconds(20))
                    .until(() -> result(store.count(store.keys().volumeStatuses(SERVER))) == 0 && scratch.loops().isEmpty());
        });
        cleanup.step(() -> {
            if (channel != null) {
                channel.shutdownNow();
            }
        });
        if (cluster != null) {
            // The plugin, the controller and the agents, the last started first; then Vert.x and the store.
            cleanup.step(cluster::close);
        }
        cleanup.step(() -> clientGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS));
        if (scratch != null) {
            cleanup.step(scratch::close);
        }
        cleanup.rethrow();
    }
}
