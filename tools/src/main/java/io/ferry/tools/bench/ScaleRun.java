package io.ferry.tools.bench;

import io.ferry.cluster.LocalCluster;
import io.ferry.csi.CsiEndpoint;
import io.ferry.csi.CsiServer;
import io.ferry.csi.NodeService;
import io.ferry.csi.v1.ControllerGrpc;
import io.ferry.csi.v1.DeleteVolumeRequest;
import io.ferry.etcd.ClusterIdentities;
import io.ferry.etcd.EtcdOptions;
import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.LocalEtcdProbe;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.Engine;
import io.ferry.model.Ledger;
import io.ferry.model.Placement;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolSource;
import io.ferry.model.VolumeScheduling;
import io.ferry.runtime.exec.ProcessCommandRunner;
import io.ferry.runtime.informer.Informer;
import io.ferry.runtime.informer.InformerHandler;
import io.ferry.runtime.informer.InformerOptions;
import io.ferry.tools.up.ComponentProcess;
import io.ferry.tools.up.LocalEtcd;
import io.grpc.ManagedChannel;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.vertx.core.Future;
import io.vertx.core.Vertx;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static io.ferry.tools.bench.ScaleWorkload.node;
import static io.ferry.tools.bench.ScaleWorkload.volume;

/**
 * {@code ferryctl bench scale}: the real controller (two of them, as child processes, electing a
 * leader) and the real CSI controller service against a real etcd, with {@link SimulatedAgent}s for
 * the nodes and one real CSI node plugin, all of them on this machine. It provisions and deletes
 * volumes through the CSI controller service and measures what a large cluster costs the control
 * plane: etcd's size, the controllers' heap and CPU, a failover, an agent's restart and what a node
 * plugin receives from its watches. It also checks what must hold whatever the timings: every volume
 * placed, every ledger the sum of its placements, and nothing left after the deletions.
 */
public final class ScaleRun {

    static final String PREFIX = "/ferry";
    /** Far more than any run places: capacity never decides where a volume goes here, the consumer does. */
    static final long POOL_CAPACITY = 1L << 50;

    /**
     * @param restartPercent share of the volumes consumed on (so placed on) the first node, the one
     *                       whose agent is restarted: 10 % puts 10,000 of 100,000 there
     * @param leaseTtlSeconds the controllers' leadership lease: a killed leader holds it this long
     * @param controllerJvm   options of the controllers' JVMs
     * @param steadySeconds   how long the controllers' CPU is measured once everything is provisioned
     *                        (after half as long again to let the last work settle)
     * @param stepTimeout     longest wait for any one step before the run counts it as a violation
     */
    public record Options(int nodes, int volumes, int concurrency, int restartPercent, int leaseTtlSeconds,
                          long volumeBytes, List<String> controllerJvm, int steadySeconds, Duration stepTimeout) {
        public Options {
            if (nodes < 3) {
                throw new IllegalArgumentException("--nodes must be at least 3 (the restarted node, the node plugin's "
                        + "node and at least one other)");
            }
            if (volumes < 1 || concurrency < 1 || leaseTtlSeconds < 1 || steadySeconds < 1) {
                throw new IllegalArgumentException("--volumes, --concurrency, --lease-ttl and --steady must be at least 1");
            }
            if (restartPercent < 0 || restartPercent > 100) {
                throw new IllegalArgumentException("--restart-share must be a percentage (0-100)");
            }
            controllerJvm = List.copyOf(controllerJvm);
        }
    }

    /** Everything the run measured, and what broke an invariant (empty when none did). */
    public record Result(Map<String, Double> figures, List<String> violations) {
        public double figure(String name) {
            Double value = figures.get(name);
            if (value == null) {
                throw new IllegalArgumentException("no figure " + name + " in " + figures.keySet());
            }
            return value;
        }
    }

    private final Options options;
    private final PrintWriter out;
    private final ScaleFindings findings = new ScaleFindings();
    private final ProcessCommandRunner runner = new ProcessCommandRunner();
    private final ComponentProbes probes = new ComponentProbes(runner);
    private final ScaleWorkload workload;
    private final StepWaits steps;

    private ScaleRun(Options options, PrintWriter out) {
        this.options = options;
        this.out = out;
        this.workload = new ScaleWorkload(options);
        this.steps = new StepWaits(options.stepTimeout());
    }

    public static Result run(Options options, PrintWriter out) throws Exception {
        return new ScaleRun(options, out).run();
    }

    private Result run() throws Exception {
        Path root = Files.createTempDirectory("ferry-scale-");
        Path logs = Files.createDirectories(root.resolve("logs"));
        out.printf("bench scale: %d nodes, %d volumes of %d MiB, concurrency %d, %d %% on the restarted node, "
                        + "controller lease %d s; logs in %s%n", options.nodes(), options.volumes(),
                options.volumeBytes() >> 20, options.concurrency(), options.restartPercent(), options.leaseTtlSeconds(), logs);
        out.flush();
        // etcd's default 2 GiB quota is too small for the largest runs' history.
        try (LocalEtcd etcd = LocalEtcd.temporary("--quota-backend-bytes=" + (8L << 30))) {
            EtcdOptions etcdOptions = new EtcdOptions.Builder().endpoints(etcd.endpoint().split(",")).prefix(PREFIX).build();
            // The CSI endpoints run in this JVM as components of a LocalCluster; the controllers are child
            // processes, measured from outside, and the agents simulated.
            LocalCluster cluster = LocalCluster.on(etcdOptions);
            EtcdStore store = cluster.store();
            // The agents' own client: their watches' probes do not reach the run's own watches.
            EtcdStore agentStore = EtcdStore.connect(etcdOptions);
            Vertx vertx = cluster.vertx();
            List<ComponentProcess> controllers = new ArrayList<>();
            List<SimulatedAgent> agents = new ArrayList<>();
            CsiServer csiController = null;
            CsiServer nodePlugin = null;
            EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
            ManagedChannel channel = null;
            ExecutorService pool = Executors.newFixedThreadPool(options.concurrency());
            ParallelCalls calls = new ParallelCalls(pool, options.stepTimeout(), out);
            List<Informer<?>> informers = new ArrayList<>();
            try {
                FerryKeys keys = store.keys();
                ClusterIdentities.ensure(store, Instant.now()).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
                // ---- agents ----
                long started = System.nanoTime();
                SimpleMeterRegistry meters = new SimpleMeterRegistry();
                for (int n = 0; n < options.nodes(); n++) {
                    String pool0 = "pool-" + node(n);
                    steps.await(store.put(keys.poolConfig(pool0), PoolConfig.builder(pool0, node(n), Engine.FILE,
                            PoolSource.directory("/nonexistent/ferry-scale/" + pool0)).build()));
                    agents.add(new SimulatedAgent(vertx, agentStore, node(n), pool0, POOL_CAPACITY, Duration.ofSeconds(10), meters));
                }
                // Fifty registrations at a time: etcd keeps up, and the run does not wait for each in turn.
                for (int from = 0; from < agents.size(); from += 50) {
                    steps.await(Future.all(agents.subList(from, Math.min(agents.size(), from + 50)).stream()
                            .map(SimulatedAgent::start).toList()));
                }
                out.printf("%d simulated agents registered in %.1f s%n", agents.size(), seconds(started));
                out.flush();

                // ---- controllers, CSI ----
                ComponentProcess.Etcd endpoints = new ComponentProcess.Etcd(etcd.endpoint(), PREFIX);
                int[] adminPorts = {LocalEtcdProbe.freePort(), LocalEtcdProbe.freePort()};
                for (int c = 0; c < 2; c++) {
                    ComponentProcess controller = ComponentProcess.controller("controller-" + (c + 1), "scale-" + (c + 1),
                            adminPorts[c], options.leaseTtlSeconds(), endpoints, logs, options.controllerJvm());
                    controller.start();
                    controllers.add(controller);
                }
                steps.require(() -> probes.leader(adminPorts) >= 0, "a controller to lead");
                csiController = cluster.startComponent("csi controller", c -> new CsiServer(new CsiServer.Options(
                        CsiServer.Mode.CONTROLLER, new CsiEndpoint.Tcp("127.0.0.1", 0), null, InformerOptions.defaults()),
                        EtcdStore.connect(etcdOptions), true, runner).start());
                String pluginNode = node(options.nodes() - 1);
                nodePlugin = cluster.startComponent("csi node plugin", c -> new CsiServer(new CsiServer.Options(
                        CsiServer.Mode.NODE, new CsiEndpoint.Tcp("127.0.0.1", 0), NodeService.Options.defaults(pluginNode),
                        InformerOptions.defaults()), EtcdStore.connect(etcdOptions), true, runner).start());
                channel = csiController.endpoint().channelBuilder(group).build();
                ControllerGrpc.ControllerBlockingStub csi = ControllerGrpc.newBlockingStub(channel);
                Informer<VolumeScheduling> records = new Informer<>(vertx, store, keys.volumeSchedulings(),
                        VolumeScheduling.class, quiet(), InformerOptions.defaults(), meters);
                informers.add(records);
                steps.await(records.start());

                // ---- provisioning ----
                long keysBefore = steps.await(store.count(keys.all()));
                long dbBefore = ComponentProbes.dbSize(store, etcd, false);
                int leaderIndex = probes.leader(adminPorts);
                int provisioningLeader = leaderIndex;
                long cpuBefore = ComponentProbes.cpuTicks(controllers.get(leaderIndex));
                long nodeChangesBefore = nodePlugin.watchChangesReceived();
                long controllerChangesBefore = csiController.watchChangesReceived();
                started = System.nanoTime();
                int failed = calls.run(options.volumes(), i -> () -> csi.withDeadlineAfter(
                        options.stepTimeout().toSeconds(), TimeUnit.SECONDS).createVolume(workload.create(volume(i), node(workload.consumer(i)))));
                double provisionSeconds = seconds(started);
                if (failed > 0) {
                    findings.violation(failed + " CreateVolume calls failed");
                }
                double cpuProvision = ComponentProbes.ticksToSeconds(ComponentProbes.cpuTicks(controllers.get(leaderIndex)) - cpuBefore);
                figure("provision.seconds", provisionSeconds);
                figure("provision.retried_calls", calls.takeRetries());
                figure("provision.per_second", options.volumes() / provisionSeconds);
                figure("provision.leader_cpu_ms_per_volume", cpuProvision * 1000 / options.volumes());
                // The node plugin hosts none of these volumes: whatever reached it came from its watches' scope.
                long nodeChanges = nodePlugin.watchChangesReceived() - nodeChangesBefore;
                figure("node_plugin.changes_during_provisioning", nodeChanges);
                figure("node_plugin.changes_per_volume_elsewhere", (double) nodeChanges / options.volumes());
                figure("csi_controller.changes_per_volume",
                        (double) (csiController.watchChangesReceived() - controllerChangesBefore) / options.volumes());
                out.printf("provisioned %d volumes in %.1f s: %.0f/s%n", options.volumes(), provisionSeconds,
                        options.volumes() / provisionSeconds);
                out.flush();

                // ---- invariants after provisioning ----
                List<Placement> placements = steps.await(store.list(keys.placements(), Placement.class)).items().stream()
                        .map(Versioned::value).toList();
                long unplaced = workload.unplaced(placements);
                figure("invariant.unplaced_volumes", unplaced);
                if (unplaced > 0) {
                    findings.violation(unplaced + " volumes have no placement");
                }
                checkLedgers(store, placements, "after provisioning", "invariant.ledgers_not_equal_to_placements");
                long onRestarted = placements.stream().filter(p -> p.node().equals(node(0))).count();
                figure("restart.volumes", onRestarted);

                // ---- steady state: CPU, heap, etcd ----
                Thread.sleep(options.steadySeconds() * 500L);
                // Leadership may have changed hands under load since provisioning began.
                steps.require(() -> probes.leader(adminPorts) >= 0, "a controller to lead");
                leaderIndex = probes.leader(adminPorts);
                figure("provision.leader_changed", leaderIndex == provisioningLeader ? 0 : 1);
                long[] cpuAtStart = {ComponentProbes.cpuTicks(controllers.get(0)), ComponentProbes.cpuTicks(controllers.get(1))};
                long window = System.nanoTime();
                Thread.sleep(options.steadySeconds() * 1000L);
                double windowSeconds = seconds(window);
                for (int c = 0; c < 2; c++) {
                    String role = c == leaderIndex ? "leader" : "standby";
                    figure("steady." + role + "_cpu_percent",
                            100 * ComponentProbes.ticksToSeconds(ComponentProbes.cpuTicks(controllers.get(c)) - cpuAtStart[c]) / windowSeconds);
                }
                for (int c = 0; c < 2; c++) {
                    String role = c == leaderIndex ? "leader" : "standby";
                    figure("steady." + role + "_heap_mib_after_gc", probes.heapAfterGc(controllers.get(c)) / (1024.0 * 1024));
                }
                long keysAfter = steps.await(store.count(keys.all()));
                figure("etcd.keys", keysAfter);
                figure("etcd.keys_per_volume", (double) (keysAfter - keysBefore) / options.volumes());
                long db = ComponentProbes.dbSize(store, etcd, false);
                figure("etcd.db_mib", db / (1024.0 * 1024));
                figure("etcd.db_kib_per_volume", (db - dbBefore) / 1024.0 / options.volumes());
                figure("etcd.db_in_use_mib", ComponentProbes.dbSize(store, etcd, true) / (1024.0 * 1024));

                // ---- failover ----
                steps.require(() -> probes.leader(adminPorts) >= 0, "a controller to lead");
                int failing = probes.leader(adminPorts);
                ComponentProcess oldLeader = controllers.get(failing);
                int standby = 1 - failing;
                long killed = System.nanoTime();
                oldLeader.kill();
                var fresh = pool.submit(() -> {
                    csi.withDeadlineAfter(options.stepTimeout().toSeconds(), TimeUnit.SECONDS)
                            .createVolume(workload.create("scale-after-failover", node(1)));
                    return System.nanoTime();
                });
                steps.require(() -> probes.leads(adminPorts[standby]), "the standby to lead after the leader was killed");
                figure("failover.elected_seconds", seconds(killed));
                try {
                    long ready = fresh.get(options.stepTimeout().toSeconds(), TimeUnit.SECONDS);
                    figure("failover.fresh_volume_ready_seconds", (ready - killed) / 1e9);
                } catch (Exception e) {
                    findings.violation("no fresh volume was placed after the failover: " + e.getMessage());
                }
                out.printf("failover: new leader elected after %.1f s, a fresh volume Ready after %.1f s%n",
                        findings.get("failover.elected_seconds"), findings.getOrDefault("failover.fresh_volume_ready_seconds", -1.0));
                out.flush();

                // ---- one agent restarted ----
                SimulatedAgent restarted = agents.get(0);
                steps.await(restarted.stop());
                steps.require(() -> reachable(records, node(0)) == 0, "the controller to mark " + node(0) + "'s volumes unreachable");
                SimulatedAgent again = new SimulatedAgent(vertx, agentStore, node(0), restarted.pool(), POOL_CAPACITY,
                        Duration.ofSeconds(10), meters);
                agents.set(0, again);
                long restartedAt = System.nanoTime();
                steps.await(again.start());
                figure("restart.readopted_seconds", seconds(restartedAt));
                figure("restart.status_writes", again.statusWrites());
                long expected = onRestarted;
                steps.require(() -> reachable(records, node(0)) == expected, "every volume of " + node(0) + " to be reachable again");
                figure("restart.reachable_again_seconds", seconds(restartedAt));
                out.printf("agent restart: %d volumes re-adopted in %.1f s (%d status writes), reachable again after %.1f s%n",
                        onRestarted, findings.get("restart.readopted_seconds"), again.statusWrites(),
                        findings.get("restart.reachable_again_seconds"));
                out.flush();

                // ---- deletion ----
                started = System.nanoTime();
                failed = calls.run(options.volumes() + 1, i -> () -> csi.withDeadlineAfter(
                        options.stepTimeout().toSeconds(), TimeUnit.SECONDS).deleteVolume(DeleteVolumeRequest.newBuilder()
                        .setVolumeId(i == options.volumes() ? "scale-after-failover" : volume(i)).build()));
                double deleteSeconds = seconds(started);
                if (failed > 0) {
                    findings.violation(failed + " DeleteVolume calls failed");
                }
                figure("delete.seconds", deleteSeconds);
                figure("delete.retried_calls", calls.takeRetries());
                figure("delete.per_second", (options.volumes() + 1) / deleteSeconds);
                out.printf("deleted %d volumes in %.1f s: %.0f/s%n", options.volumes() + 1, deleteSeconds,
                        (options.volumes() + 1) / deleteSeconds);
                long leftPlacements = steps.await(store.count(keys.placements()));
                long leftIntents = steps.await(store.count(keys.volumes()));
                if (leftPlacements + leftIntents > 0) {
                    findings.violation("after deleting every volume " + leftIntents + " intents and " + leftPlacements
                            + " placements are left");
                }
                List<Placement> left = steps.await(store.list(keys.placements(), Placement.class)).items().stream()
                        .map(Versioned::value).toList();
                checkLedgers(store, left, "after the deletions", "invariant.ledgers_not_equal_to_placements_after_deletion");
            } catch (Exception e) {
                // A step that failed or waited past its timeout ends the run; what was measured is still reported.
                findings.violation("the run stopped early: " + e.getMessage());
            } finally {
                informers.forEach(Informer::close);
                pool.shutdownNow();
                if (channel != null) {
                    channel.shutdownNow();
                }
                for (ComponentProcess controller : controllers) {
                    controller.stop(5);
                }
                for (SimulatedAgent agent : agents) {
                    try {
                        agent.stop().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
                    } catch (Exception e) {
                        // etcd is about to go too; a lease left behind dies with it
                    }
                }
                group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
                agentStore.close();
                // The CSI endpoints, then Vert.x and the run's own connection.
                cluster.close();
            }
        }
        findings.report(out);
        return findings.result();
    }

    private void figure(String name, double value) {
        findings.figure(name, value);
    }

    private void checkLedgers(EtcdStore store, List<Placement> placements, String when, String figure) {
        findings.checkLedgers(steps.await(store.list(store.keys().ledgers(), Ledger.class)).items().stream().map(Versioned::value)
                .toList(), placements, when, figure);
    }

    private static long reachable(Informer<VolumeScheduling> records, String node) {
        return records.values().stream().map(Versioned::value).filter(r -> node.equals(r.node()) && r.reachable()).count();
    }

    private static double seconds(long since) {
        return (System.nanoTime() - since) / 1e9;
    }

    private static <T> InformerHandler<T> quiet() {
        return new InformerHandler<>() {
            @Override
            public void onUpsert(Versioned<T> current, Versioned<T> previous) {
            }

            @Override
            public void onDelete(String key, Versioned<T> lastKnown) {
            }
        };
    }
}
