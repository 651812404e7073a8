package io.ferry.csi;

import io.ferry.controller.Controller;
import io.ferry.controller.ControllerOptions;
import io.ferry.csi.v1.ControllerGrpc;
import io.ferry.csi.v1.IdentityGrpc;
import io.ferry.csi.v1.NodeGrpc;
import io.ferry.etcd.EtcdOptions;
import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.informer.InformerOptions;
import io.ferry.etcd.reconcile.RuntimeOptions;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.runtime.exec.Command;
import io.ferry.runtime.exec.CommandRunner;
import io.ferry.runtime.exec.ProcessCommandRunner;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.unix.DomainSocketAddress;
import io.vertx.core.Vertx;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static io.ferry.etcd.testing.Await.result;

/**
 * One Ferry cluster for a CSI test: a real controller and loop-device agents against a real etcd,
 * and the real plugin (both services, node {@link #NODE}) on a Unix socket with a gRPC client
 * connected to it. {@link #close()} unmounts everything mounted under its directory and detaches
 * every loop device, even after a failed test.
 */
final class CsiHarness implements AutoCloseable {

    static final String NODE = "node-a";
    static final String REMOTE = "node-b";

    final Path root;
    final Vertx vertx = Vertx.vertx();
    final EtcdStore store;
    final FerryKeys keys;
    final CommandRunner runner = new ProcessCommandRunner();
    final LoopAgents agents;
    final Controller controller;
    final CsiServer server;
    private final EventLoopGroup clientGroup = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    final ManagedChannel channel;

    CsiHarness(EtcdOptions etcd) throws IOException {
        root = Files.createTempDirectory("ferry-csi-it-");
        store = EtcdStore.connect(etcd);
        keys = store.keys();
        agents = new LoopAgents(vertx, store, runner, root.resolve("agent"));
        agents.start();
        agents.addNode(NODE, Map.of("rack", "r1", "zone", "z1"));
        agents.addNode(REMOTE, Map.of("rack", "r2", "zone", "z1"));
        agents.addPool(NODE, "pool-a", 10, Map.of("media", "ssd"));
        agents.addPool(REMOTE, "pool-b", 10, Map.of("media", "ssd"));
        ControllerOptions options = new ControllerOptions("controller-it", Duration.ofSeconds(3), null,
                InformerOptions.defaults().withWatchdogInterval(Duration.ofSeconds(2)),
                RuntimeOptions.defaults().withConcurrency(16).withDelays(Duration.ofMillis(100), Duration.ofSeconds(2)),
                Duration.ofMinutes(5));
        controller = new Controller(vertx, store, options, new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
        result(controller.start());
        Path socket = root.resolve("plugin/csi.sock");
        server = new CsiServer(new CsiServer.Options(CsiServer.Mode.BOTH, socket, NodeService.Options.defaults(NODE),
                InformerOptions.defaults()), EtcdStore.connect(etcd), true, runner).start();
        channel = NettyChannelBuilder.forAddress(new DomainSocketAddress(socket.toString()))
                .channelType(EpollDomainSocketChannel.class).eventLoopGroup(clientGroup).usePlaintext().build();
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
        return NodeGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
    }

    Path dir(String name) {
        return root.resolve("kubelet").resolve(name);
    }

    @Override
    public void close() throws Exception {
        List<String> mounted = new Mounts(Path.of("/proc/self/mountinfo")).all().stream()
                .map(Mounts.Mount::mountPoint).filter(p -> p.startsWith(root.toString()))
                .sorted(Comparator.reverseOrder()).toList();
        for (String path : mounted) {
            runner.execute(Command.of("umount", "-l", path));
        }
        channel.shutdownNow();
        server.close();
        result(controller.stop());
        agents.close();
        store.close();
        clientGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        result(vertx.close());
        try (Stream<Path> files = Files.walk(root)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
