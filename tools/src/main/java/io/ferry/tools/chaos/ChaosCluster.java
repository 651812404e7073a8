package io.ferry.tools.chaos;

import io.ferry.agent.engine.LoopDevices;
import io.ferry.etcd.ClusterIdentities;
import io.ferry.etcd.EtcdOptions;
import io.ferry.etcd.LocalEtcdProbe;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.runtime.exec.ProcessCommandRunner;
import io.ferry.tools.up.ComponentProcess;
import io.ferry.tools.up.FilePools;
import io.ferry.tools.up.LocalEtcd;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
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

    private ChaosCluster(Path root, LocalEtcd etcd, EtcdStore store, ComponentProcess csi) {
        this.root = root;
        this.poolsRoot = root.resolve("pools");
        this.logs = root.resolve("logs");
        this.etcd = etcd;
        this.store = store;
        this.csi = csi;
    }

    static ChaosCluster start(Path root, PrintWriter out) throws Exception {
        Path logs = Files.createDirectories(root.resolve("logs"));
        LocalEtcd etcd = LocalEtcd.cluster(root.resolve("etcd"), logs, 3);
        etcd.start(LocalEtcd.binary());
        ComponentProcess.Etcd endpoints = new ComponentProcess.Etcd(etcd.endpoint(), PREFIX);
        EtcdStore store = EtcdStore.connect(new EtcdOptions.Builder().endpoints(etcd.endpoint().split(",")).prefix(PREFIX)
                .build());
        ChaosCluster cluster = new ChaosCluster(root, etcd, store, ComponentProcess.csi("csi", root.resolve("csi/csi.sock"),
                "node-1", endpoints, logs, JVM_OPTIONS));
        try {
            ClusterIdentities.ensure(store, Instant.now()).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
            Files.createDirectories(root.resolve("csi"));
            for (int i = 1; i <= 2; i++) {
                String node = "node-" + i;
                Map<String, String> labels = Map.of("zone", "zone-1", "rack", "rack-" + i, "switch", "switch-1");
                Path dir = cluster.poolsRoot.resolve(node);
                FilePools.declare(store, "pool-" + i, node, dir, labels, POOL_CAPACITY);
                cluster.nodes.add(new Node(node, "pool-" + i, dir, ComponentProcess.agent(node, LocalEtcdProbe.freePort(),
                        labels, root.resolve("state").resolve(node), endpoints, logs, JVM_OPTIONS)));
            }
            for (int i = 1; i <= 2; i++) {
                cluster.controllers.add(ComponentProcess.controller("controller-" + i, "chaos-controller-" + i,
                        LocalEtcdProbe.freePort(), endpoints, logs, JVM_OPTIONS));
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
