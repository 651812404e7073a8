package io.ferry.tools.chaos;

import io.ferry.agent.AgentOptions;
import io.ferry.agent.engine.LoopDevices;
import io.ferry.cluster.ClusterPlan;
import io.ferry.controller.ControllerOptions;
import io.ferry.etcd.ClusterIdentities;
import io.ferry.etcd.EtcdOptions;
import io.ferry.etcd.LocalEtcdProbe;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.runtime.admin.AdminOptions;
import io.ferry.runtime.exec.ProcessCommandRunner;
import io.ferry.tools.up.ComponentProcess;
import io.ferry.tools.up.FilePools;
import io.ferry.tools.up.LocalEtcd;
import io.ferry.tools.up.PlanProcesses;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The cluster the chaos run attacks, all on this machine and each part its own process: a
 * three-member etcd, two controllers, two agents with a file pool each, and the CSI endpoint.
 * Everything lives under one directory; {@link #close()} stops it all and detaches the loop devices of
 * its pools that are still attached, so an interrupted run does not leak devices on a shared host.
 */
final class ChaosCluster implements AutoCloseable {

    static final String PREFIX = "/ferry";
    /** JVM options of every component: five JVMs share a small machine with the workload. */
    static final List<String> JVM_OPTIONS = List.of("-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1");
    static final long POOL_CAPACITY = 8L << 30;

    /** One storage node: its agent and the directory of its file pool. */
    record Node(String name, String pool, Path poolDir, ComponentProcess agent) {
    }

    final Path root;
    final Path poolsRoot;
    final Path logs;
    final LocalEtcd etcd;
    final List<ComponentProcess> controllers = new ArrayList<>();
    final List<Node> nodes = new ArrayList<>();
    final ComponentProcess csi;
    final EtcdStore store;

    private ChaosCluster(Path root, LocalEtcd etcd, EtcdStore store, List<ComponentProcess> controllers, List<Node> nodes,
            ComponentProcess csi) {
        this.root = root;
        this.poolsRoot = root.resolve("pools");
        this.logs = root.resolve("logs");
        this.etcd = etcd;
        this.store = store;
        this.controllers.addAll(controllers);
        this.nodes.addAll(nodes);
        this.csi = csi;
    }

    static ChaosCluster start(Path root, PrintWriter out) throws Exception {
        Path logs = Files.createDirectories(root.resolve("logs"));
        LocalEtcd etcd = LocalEtcd.cluster(root.resolve("etcd"), logs, 3);
        etcd.start(LocalEtcd.binary());
        ComponentProcess.Etcd endpoints = new ComponentProcess.Etcd(etcd.endpoint(), PREFIX);
        EtcdStore store = EtcdStore.connect(new EtcdOptions.Builder().endpoints(etcd.endpoint().split(",")).prefix(PREFIX)
                .build());
        // What runs is a ClusterPlan, as for ferry up, each entry its own process.
        List<ControllerOptions> controllerOptions = new ArrayList<>();
        for (int i = 1; i <= 2; i++) {
            controllerOptions.add(ControllerOptions.defaults("chaos-controller-" + i)
                    .withAdmin(AdminOptions.loopback(LocalEtcdProbe.freePort())));
        }
        Map<String, Map<String, String>> labels = new LinkedHashMap<>();
        List<AgentOptions> agentOptions = new ArrayList<>();
        for (int i = 1; i <= 2; i++) {
            String node = "node-" + i;
            labels.put(node, Map.of("zone", "zone-1", "rack", "rack-" + i, "switch", "switch-1"));
            agentOptions.add(AgentOptions.defaults(node, "127.0.0.1", root.resolve("state").resolve(node))
                    .withAdmin("127.0.0.1", LocalEtcdProbe.freePort()).withLabels(labels.get(node)));
        }
        ClusterPlan plan = new ClusterPlan(controllerOptions, agentOptions, new ClusterPlan.Csi(root.resolve("csi/csi.sock"),
                "node-1"));
        List<ComponentProcess> processes = PlanProcesses.of(plan, role -> endpoints, logs, JVM_OPTIONS);
        List<Node> nodes = new ArrayList<>();
        for (int i = 1; i <= agentOptions.size(); i++) {
            nodes.add(new Node("node-" + i, "pool-" + i, root.resolve("pools").resolve("node-" + i), processes.get(1 + i)));
        }
        ChaosCluster cluster = new ChaosCluster(root, etcd, store, processes.subList(0, 2), nodes,
                processes.get(processes.size() - 1));
        try {
            ClusterIdentities.ensure(store, Instant.now()).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
            Files.createDirectories(root.resolve("csi"));
            for (Node node : nodes) {
                FilePools.declare(store, node.pool(), node.name(), node.poolDir(), labels.get(node.name()), POOL_CAPACITY);
            }
            for (ComponentProcess c : cluster.components()) {
                c.start();
            }
            out.println("chaos cluster up in " + root + " (etcd " + etcd.endpoint() + ", logs in " + logs + ")");
            out.flush();
            return cluster;
        } catch (Exception e) {
            cluster.close();
            throw e;
        }
    }

    /** Every component process (not etcd's members). */
    List<ComponentProcess> components() {
        List<ComponentProcess> all = new ArrayList<>(controllers);
        nodes.forEach(n -> all.add(n.agent()));
        all.add(csi);
        return all;
    }

    /** Loop devices whose backing file lies in this cluster's pools (a deleted one included). */
    List<LoopDevices.Loop> loops() {
        return new LoopDevices(new ProcessCommandRunner(), Duration.ofSeconds(30)).all().stream()
                .filter(l -> l.backingFile() != null && Path.of(l.backingFile()).startsWith(poolsRoot)).toList();
    }

    @Override
    public void close() {
        for (ComponentProcess c : components()) {
            try {
                c.stop(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        try {
            store.close();
        } catch (RuntimeException e) {
            // Closing is best effort; etcd goes next anyway.
        }
        etcd.close();
        // The agents keep their loop devices attached across their own restarts; once they are
        // stopped for good nothing else will detach them.
        LoopDevices loops = new LoopDevices(new ProcessCommandRunner(), Duration.ofSeconds(30));
        for (LoopDevices.Loop loop : loops()) {
            try {
                loops.detach(loop.device(), null);
            } catch (RuntimeException e) {
                // Reported by the caller's own check of what is left; nothing more to do here.
            }
        }
    }

    /** Removes the run's directory (pools, etcd data, logs). */
    void deleteFiles() throws IOException {
        try (var files = Files.walk(root)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
