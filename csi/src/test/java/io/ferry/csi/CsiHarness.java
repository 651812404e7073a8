package io.ferry.csi;

import io.ferry.agent.Agent;
import io.ferry.agent.AgentOptions;
import io.ferry.agent.engine.LoopDevices;
import io.ferry.cluster.LocalCluster;
import io.ferry.controller.Controller;
import io.ferry.controller.ControllerOptions;
import io.ferry.csi.v1.ControllerGrpc;
import io.ferry.csi.v1.ControllerUnpublishVolumeRequest;
import io.ferry.csi.v1.DeleteSnapshotRequest;
import io.ferry.csi.v1.DeleteVolumeRequest;
import io.ferry.csi.v1.IdentityGrpc;
import io.ferry.csi.v1.NodeGrpc;
import io.ferry.etcd.EtcdOptions;
import io.ferry.etcd.EtcdRoles;
import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.store.Versioned;
import io.ferry.etcd.testing.Cleanup;
import io.ferry.model.Engine;
import io.ferry.model.NodeRegistration;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolSource;
import io.ferry.model.PoolStatus;
import io.ferry.model.Sizes;
import io.ferry.model.SnapshotIntent;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeStatus;
import io.ferry.runtime.exec.Command;
import io.ferry.runtime.exec.CommandRunner;
import io.ferry.runtime.exec.ProcessCommandRunner;
import io.ferry.runtime.informer.InformerOptions;
import io.ferry.runtime.reconcile.RuntimeOptions;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.unix.DomainSocketAddress;
import org.awaitility.core.ConditionTimeoutException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static io.ferry.etcd.testing.Await.result;
import static org.awaitility.Awaitility.await;

/**
 * One Ferry cluster for a CSI test, against a real etcd: a real controller; the real agent (file
 * engine) of node {@link #NODE}, whose pool {@link #POOL} is a directory on a 10 GiB tmpfs so that
 * its capacity is exact; a stand-in for the agent of node {@link #REMOTE} (see
 * {@link RemoteAgentStandIn} for why); and the real plugin (both services, node {@link #NODE}) on a
 * Unix socket with a gRPC client connected to it. The controller, the agent and the plugins are a
 * {@link LocalCluster}, the plugins plugged in as its components.
 *
 * <p>One harness serves every test of a conformance class ({@link ConformanceTest}): between tests
 * {@link #reset()} deletes what the test made through Ferry and checks that nothing is left; a test
 * that stopped a component or took a node away marks the harness {@link #disturbed()}, and the next
 * test gets a new one.
 *
 * <p>{@link #close()} first lets Ferry clean up after itself (every volume and snapshot is deleted
 * through the plugin and the agent removes its loop devices and files), then, whatever happened,
 * its {@link ScratchDirectory} unmounts everything under its directory, detaches every loop device
 * backed by a file there, unmounts the tmpfs and fails if anything is left.
 */
final class CsiHarness implements AutoCloseable {

    static final String NODE = "node-a";
    static final String REMOTE = "node-b";
    static final String POOL = "pool-a";
    static final String REMOTE_POOL = "pool-b";
    static final long POOL_BYTES = 10L << 30;
    private static final String CONTROLLER_ID = "controller-it";

    final CommandRunner runner = new ProcessCommandRunner();
    private final ScratchDirectory scratch;
    final Path root;
    final Path poolMount;
    private final LocalCluster cluster;
    final EtcdStore store;
    final FerryKeys keys;
    private AgentOptions agentOptions;
    Agent agent;
    final RemoteAgentStandIn remote;
    private ControllerOptions controllerOptions;
    /** Identity and controller service (with a node service too, as `ferry up` runs it). */
    CsiServer server;
    /**
     * The node service as the node plugin of a cluster runs it, alone (`--mode node`): its view
     * watches only what concerns {@link #NODE}, and every node row runs against it.
     */
    CsiServer nodeServer;
    private boolean disturbed;
    private long emptyPoolFreeBytes;
    private final EventLoopGroup clientGroup = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    ManagedChannel channel;
    ManagedChannel nodeChannel;

    CsiHarness(EtcdOptions etcd) throws Exception {
        scratch = ScratchDirectory.create("ferry-csi-it-", runner);
        root = scratch.root();
        poolMount = root.resolve("pools");
        cluster = LocalCluster.on(etcd, LocalCluster.Access.open(), runner, 1);
        store = cluster.store();
        keys = store.keys();
        remote = new RemoteAgentStandIn(store, REMOTE);
        try {
            start();
        } catch (Exception | Error e) {
            try {
                close();
            } catch (Exception suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    private void start() throws Exception {
        // The pool lives on its own tmpfs: the file engine reports the file system's size as the
        // pool's capacity, and the tests count on exactly 10 GiB.
        Files.createDirectories(poolMount);
        runner.run(Command.of("mount", "-t", "tmpfs", "-o", "size=" + POOL_BYTES + ",mode=0700",
                "ferry-csi-it", poolMount.toString()));
        scratch.mountedBase(poolMount);
        result(store.put(keys.poolConfig(POOL), PoolConfig.builder(POOL, NODE, Engine.FILE,
                PoolSource.directory(poolMount.resolve(POOL).toString())).prepare(true)
                .labels(Map.of("media", "ssd")).build()));
        agentOptions = AgentOptions.defaults(NODE, "127.0.0.1", root.resolve("agent-state"))
                .withLabels(Map.of("rack", "r1", "zone", "z1"))
                .withHostNqnFile(root.resolve("no-hostnqn"))
                .withNvmetRoot(root.resolve("no-nvmet"))
                .withAdmin("127.0.0.1", -1)
                .withIntervals(Duration.ofSeconds(1), Duration.ofSeconds(2));
        // The agent acts only once the cluster has its id; the controller, which would create it,
        // starts after the agent here, so the harness creates it as ferry up does.
        cluster.ensureIdentity();
        startAgent();
        remote.start(cluster.vertx(), Map.of("rack", "r2", "zone", "z1"), REMOTE_POOL, POOL_BYTES, Map.of("media", "ssd"));
        // The controller starts once the agent has measured its pool, so its first listing has it.
        await().atMost(Duration.ofSeconds(30)).until(() -> result(store.get(keys.nodePoolStatus(NODE, POOL),
                PoolStatus.class)).map(Versioned::value).filter(s -> s.healthy() && s.capacityBytes() == POOL_BYTES)
                .isPresent());
        emptyPoolFreeBytes = result(store.get(keys.nodePoolStatus(NODE, POOL), PoolStatus.class)).orElseThrow().value()
                .freeBytes();
        controllerOptions = new ControllerOptions(CONTROLLER_ID, Duration.ofSeconds(3), null,
                InformerOptions.defaults().withWatchdogInterval(Duration.ofSeconds(2)),
                RuntimeOptions.defaults().withConcurrency(16).withDelays(Duration.ofMillis(100), Duration.ofSeconds(2)),
                Duration.ofMinutes(5));
        startController();
        Path socket = root.resolve("plugin/csi.sock");
        server = cluster.startComponent("csi", plugin(CsiServer.Mode.BOTH, socket));
        channel = NettyChannelBuilder.forAddress(new DomainSocketAddress(socket.toString()))
                .channelType(EpollDomainSocketChannel.class).eventLoopGroup(clientGroup).usePlaintext().build();
        Path nodeSocket = root.resolve("plugin/node.sock");
        nodeServer = cluster.startComponent("csi node plugin", plugin(CsiServer.Mode.NODE, nodeSocket));
        nodeChannel = NettyChannelBuilder.forAddress(new DomainSocketAddress(nodeSocket.toString()))
                .channelType(EpollDomainSocketChannel.class).eventLoopGroup(clientGroup).usePlaintext().build();
    }

    /** The plugin of node {@link #NODE} in {@code mode} on {@code socket}, on a connection of its own. */
    private static LocalCluster.Component<CsiServer> plugin(CsiServer.Mode mode, Path socket) {
        return c -> new CsiServer(new CsiServer.Options(mode, new CsiEndpoint.Unix(socket), NodeService.Options.defaults(NODE),
                InformerOptions.defaults()), EtcdStore.connect(c.options(EtcdRoles.CSI_CONTROLLER)), true, c.runner()).start();
    }

    /**
     * The largest thick volume node-a's pool takes: the scheduler wants the disk itself to have the
     * room too, and the pool's marker takes a few KiB of the tmpfs, so it is a little under POOL_BYTES.
     */
    long localRoomBytes() {
        return localRoomBytes(0);
    }

    /**
     * The largest thick volume node-a's pool takes once {@code allocatedBytes} of it are charged to
     * volumes: the ledger's room, bounded by what the agent last reported free on the disk.
     */
    long localRoomBytes(long allocatedBytes) {
        long diskFree = result(store.get(keys.nodePoolStatus(NODE, POOL), PoolStatus.class)).orElseThrow().value().freeBytes();
        return Math.min(POOL_BYTES - allocatedBytes, diskFree) / Sizes.ALIGNMENT * Sizes.ALIGNMENT;
    }

    /** Starts a controller (again, after {@link #stopController()}); it takes the lead once the last one's lease is gone. */
    void startController() {
        cluster.startController(controllerOptions);
    }

    /** The running controller. */
    Controller runningController() {
        return cluster.controller(CONTROLLER_ID);
    }

    /** Stops the controller: its election key goes with its lease, so nothing places volumes. */
    void stopController() {
        disturbed = true;
        cluster.stopController(CONTROLLER_ID);
    }

    /** Starts the agent of {@link #NODE}; it finds the volumes of a previous run and adopts them. */
    void startAgent() {
        agent = new Agent(agentOptions, cluster.options(EtcdRoles.agentRoleName(NODE)), runner);
        cluster.startAgent(agentOptions, agent);
    }

    /**
     * Stops the agent of {@link #NODE} and puts its registration back without a lease, so that the
     * plugin still takes the node for registered while nothing repairs a status a test writes.
     */
    void stopAgent() {
        disturbed = true;
        NodeRegistration registration = result(store.get(keys.registration(NODE), NodeRegistration.class)).orElseThrow().value();
        cluster.stopAgent(NODE);
        result(store.put(keys.registration(NODE), registration));
    }

    /** The node {@link #REMOTE} goes away as a dead agent's lease would take its registration. */
    void unregisterRemote() {
        disturbed = true;
        remote.unregister();
    }

    /** Whether a test stopped a component or took a node away: the next test needs a new harness. */
    boolean disturbed() {
        return disturbed;
    }

    /**
     * Waits until node-a's agent reports its pool as empty as it was at the start and the plugin has
     * seen it, for tests that count capacity exactly after an earlier test's volumes were deleted.
     */
    void awaitPoolEmpty() {
        await("node-a's pool reported empty again").atMost(Duration.ofSeconds(20)).until(() ->
                server.view().poolStatus(NODE, POOL).map(PoolStatus::freeBytes).orElse(-1L) == emptyPoolFreeBytes);
    }

    /**
     * Waits until the plugin sees node-a's pool healthy: a CI run once met it unhealthy right after a
     * reset, and the next test's CreateVolume was refused. A pool that stays unhealthy fails the
     * reset with the conditions that say why, instead of a refusal in whatever test comes next.
     */
    void awaitPoolHealthy() {
        try {
            await("node-a's pool healthy").atMost(Duration.ofSeconds(20)).until(() ->
                    server.view().poolStatus(NODE, POOL).map(PoolStatus::healthy).orElse(false));
        } catch (ConditionTimeoutException e) {
            throw new AssertionError("node-a's pool " + POOL + " is not healthy after the reset: "
                    + server.view().poolStatus(NODE, POOL).map(st -> st.conditions().toString()).orElse("no status"), e);
        }
    }

    /**
     * Makes the cluster what the next test expects of a new harness: whatever is mounted under the
     * test directory is unmounted, every volume and snapshot is deleted through Ferry (the agent's
     * own cleanup runs), and it fails if a mount or a loop device of this harness is left.
     */
    void reset() throws Exception {
        scratch.unmountAll();
        deleteEverythingThroughFerry();
        result(store.deletePrefix(keys.attachments()));
        scratch.checkNothingLeft();
        awaitPoolHealthy();
        Path kubelet = root.resolve("kubelet");
        if (Files.exists(kubelet)) {
            try (Stream<Path> files = Files.walk(kubelet)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    IdentityGrpc.IdentityBlockingStub identity() {
        return IdentityGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    ControllerGrpc.ControllerBlockingStub controller() {
        return controller(Duration.ofSeconds(30));
    }

    ControllerGrpc.ControllerBlockingStub controller(Duration deadline) {
        return ControllerGrpc.newBlockingStub(channel).withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS);
    }

    NodeGrpc.NodeBlockingStub node() {
        return NodeGrpc.newBlockingStub(nodeChannel).withDeadlineAfter(60, TimeUnit.SECONDS);
    }

    Path dir(String name) {
        return root.resolve("kubelet").resolve(name);
    }

    /** The device the agent of {@link #NODE} reports for a volume it serves. */
    String devicePath(String volume) {
        return result(store.get(keys.volumeStatus(NODE, volume), VolumeStatus.class)).orElseThrow().value().devicePath();
    }

    /** Loop devices backed by a file of this harness (the agent's volumes). */
    List<LoopDevices.Loop> loopDevices() {
        return scratch.loops();
    }

    /**
     * Lets Ferry clean up after itself first (every volume and snapshot deleted through the plugin),
     * then stops the cluster and, whatever happened, cleans the harness's directory up.
     */
    @Override
    public void close() throws Exception {
        Cleanup cleanup = new Cleanup();
        cleanup.step(scratch::unmountAll);
        cleanup.step(this::deleteEverythingThroughFerry);
        cleanup.step(() -> {
            if (channel != null) {
                channel.shutdownNow();
            }
        });
        cleanup.step(() -> {
            if (nodeChannel != null) {
                nodeChannel.shutdownNow();
            }
        });
        cleanup.step(remote::close);
        // The plugins, the controller and the agent, the last started first; then Vert.x and the store.
        cleanup.step(cluster::close);
        cleanup.step(() -> clientGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS));
        // The harness's own cleanup, whether or not Ferry's succeeded.
        cleanup.step(scratch::close);
        cleanup.rethrow();
    }

    /**
     * Deletes every snapshot and volume as the CO would and waits (bounded) until the agent has
     * removed them, so that each test also runs the agent's own cleanup. Whatever remains after
     * the wait is for the forced cleanup in {@link #close()}.
     */
    private void deleteEverythingThroughFerry() {
        if (channel == null) {
            return;
        }
        for (Versioned<SnapshotIntent> s : result(store.list(keys.snapshots(), SnapshotIntent.class)).items()) {
            controller().deleteSnapshot(DeleteSnapshotRequest.newBuilder().setSnapshotId(s.value().name()).build());
        }
        for (Versioned<VolumeIntent> v : result(store.list(keys.volumes(), VolumeIntent.class)).items()) {
            controller().controllerUnpublishVolume(ControllerUnpublishVolumeRequest.newBuilder()
                    .setVolumeId(v.value().name()).build());
            controller().deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId(v.value().name()).build());
        }
        await("Ferry deleting every volume and snapshot of the test").atMost(Duration.ofSeconds(20))
                .until(() -> result(store.count(keys.volumeStatuses(NODE))) == 0
                        && result(store.count(keys.snapshotStatuses(NODE))) == 0 && loopDevices().isEmpty());
    }
}
