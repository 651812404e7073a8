package io.ferry.csi;

import io.ferry.runtime.informer.InformerOptions;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.runtime.exec.CommandRunner;
import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.vertx.core.Vertx;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.time.Clock;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * The plugin process: a gRPC server on a Unix domain socket or a TCP address (netty, native epoll)
 * serving the identity service and the controller and/or node service, over one etcd client and one
 * watched {@link ClusterView}.
 */
public final class CsiServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(CsiServer.class);

    public enum Mode {
        CONTROLLER, NODE, BOTH;

        boolean controller() {
            return this != NODE;
        }

        boolean node() {
            return this != CONTROLLER;
        }
    }

    /**
     * @param endpoint where to listen; a stale Unix socket file from a previous run is replaced. A
     *                 TCP endpoint has no authentication: bind it to loopback or a private network
     * @param node     node-service options; required in node mode
     */
    public record Options(Mode mode, CsiEndpoint endpoint, NodeService.Options node, InformerOptions informers) {
    }

    private final Options options;
    private final Vertx vertx;
    private final EtcdStore store;
    private final boolean ownsStore;
    private final ClusterView view;
    private final KeyedLocks locks = new KeyedLocks();
    private final CommandRunner runner;
    private final EventLoopGroup boss;
    private final EventLoopGroup workers;
    private final ExecutorService executor;
    private Server server;
    private MirrorKeeper keeper;
    private CsiEndpoint bound;

    public CsiServer(Options options, EtcdStore store, boolean ownsStore, CommandRunner runner) {
        this.options = options;
        this.store = store;
        this.ownsStore = ownsStore;
        this.runner = runner;
        this.vertx = Vertx.vertx();
        // A node plugin watches only what concerns its node, so its traffic does not grow with the cluster.
        this.view = options.mode() == Mode.NODE
                ? ClusterView.forNode(vertx, store, options.informers(), null, options.node().nodeId())
                : new ClusterView(vertx, store, options.informers(), null);
        this.boss = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        this.workers = new MultiThreadIoEventLoopGroup(2, EpollIoHandler.newFactory());
        // CSI calls block while they wait for etcd; each gets a thread, and the sidecars issue few at a time.
        this.executor = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "csi-call");
            t.setDaemon(true);
            return t;
        });
    }

    /** Loads the caches, then listens. */
    public CsiServer start() throws IOException {
        try {
            view.start().toCompletionStage().toCompletableFuture().get(5, TimeUnit.MINUTES);
        } catch (Exception e) {
            throw new IOException("could not load the etcd state: " + e.getMessage(), e);
        }
        if (options.endpoint() instanceof CsiEndpoint.Unix unix) {
            Files.createDirectories(unix.socket().toAbsolutePath().getParent());
            Files.deleteIfExists(unix.socket());
        }
        NettyServerBuilder builder = options.endpoint().serverBuilder(boss, workers)
                .executor(executor)
                .intercept(new LogContextInterceptor(options.mode().node() ? options.node().nodeId() : null))
                .addService(new IdentityService(store, options.mode().controller(), view::synced));
        if (options.mode().controller()) {
            builder.addService(new ControllerService(store, view, locks, Clock.systemUTC()));
        }
        if (options.mode().node()) {
            NodeService node = new NodeService(store, view, locks, runner, options.node());
            builder.addService(node);
            keeper = node.mirrorKeeper().start(options.node().mirrorCheck());
        }
        try {
            server = builder.build().start();
        } catch (IOException e) {
            throw new IOException("cannot listen on " + options.endpoint().url() + ": " + e.getMessage(), e);
        }
        bound = options.endpoint() instanceof CsiEndpoint.Tcp tcp
                && server.getListenSockets().get(0) instanceof InetSocketAddress address
                ? new CsiEndpoint.Tcp(tcp.host(), address.getPort()) : options.endpoint();
        if (bound instanceof CsiEndpoint.Tcp) {
            log.warn("ferry-csi {} ({}) listening on {}: TCP has no authentication, anyone who can reach it can "
                    + "mount and format volumes on this node", Driver.VERSION, options.mode(), bound.url());
        } else {
            log.info("ferry-csi {} ({}) listening on {}", Driver.VERSION, options.mode(), bound.url());
        }
        return this;
    }

    /** Where the server listens once started; for a TCP endpoint with port 0, the port the kernel picked. */
    public CsiEndpoint endpoint() {
        return bound != null ? bound : options.endpoint();
    }

    /**
     * Changes the plugin's watches have delivered so far: what watching the cluster costs this
     * plugin (the scale benchmark compares a node plugin's with the controller service's).
     */
    public long watchChangesReceived() {
        return view.changesReceived();
    }

    // visible for tests: they wait until the plugin has seen a key they wrote
    ClusterView view() {
        return view;
    }

    public void awaitTermination() throws InterruptedException {
        server.awaitTermination();
    }

    @Override
    public void close() {
        if (server != null) {
            server.shutdown();
            try {
                if (!server.awaitTermination(5, TimeUnit.SECONDS)) {
                    server.shutdownNow();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                server.shutdownNow();
            }
        }
        if (keeper != null) {
            keeper.close();
        }
        view.close();
        executor.shutdownNow();
        boss.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        workers.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        if (ownsStore) {
            store.close();
        }
        vertx.close();
        if (options.endpoint() instanceof CsiEndpoint.Unix unix) {
            try {
                Files.deleteIfExists(unix.socket());
            } catch (IOException e) {
                log.debug("could not remove {}", unix.socket(), e);
            }
        }
    }
}
