package io.ferry.tools.chaos;

import io.ferry.tools.up.ComponentProcess;

import java.io.IOException;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/**
 * Kills (SIGKILL) a random component at random intervals and starts it again after a while: a
 * controller, an agent, the CSI endpoint, one etcd member, or two etcd members at once (quorum lost).
 * Faults overlap: a new one may start while an earlier one's component is still down, so that a
 * controller fails over while an agent restarts. The kinds are drawn from a shuffled bag, so a short
 * run still meets every kind. At most one etcd member is down except during a quorum loss, which
 * starts only while all three run.
 */
final class FaultInjector {

    enum Kind {
        CONTROLLER("controller"), AGENT("agent"), CSI("csi"), ETCD_MEMBER("etcd-member"), ETCD_QUORUM("etcd-quorum");

        final String label;

        Kind(String label) {
            this.label = label;
        }
    }

    private final ChaosCluster cluster;
    private final SplittableRandom random;
    private final PrintWriter out;
    private final ScheduledExecutorService restarts = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "chaos-restarts");
        t.setDaemon(true);
        return t;
    });
    private final Map<String, LongAdder> injected = new ConcurrentHashMap<>();
    private final List<Kind> bag = new ArrayList<>();
    /** What is down now (components by name, etcd members as etcd-<index>); guarded by this. */
    private final List<String> down = new ArrayList<>();
    private final long startNanos = System.nanoTime();
    private volatile boolean stopping;
    private volatile long lastRestartNanos;
    private Thread thread;

    FaultInjector(ChaosCluster cluster, long seed, PrintWriter out) {
        this.cluster = cluster;
        this.random = new SplittableRandom(seed);
        this.out = out;
    }

    Map<String, LongAdder> injected() {
        return injected;
    }

    void start() {
        thread = new Thread(this::run, "chaos-faults");
        thread.setDaemon(true);
        thread.start();
    }

    /** Injects no more faults, starts everything that is down and returns when it all runs again. */
    long stopAndRestoreAll() throws InterruptedException {
        stopping = true;
        thread.interrupt();
        thread.join();
        restarts.shutdownNow();
        restarts.awaitTermination(30, TimeUnit.SECONDS);
        List<String> stillDown;
        synchronized (this) {
            stillDown = List.copyOf(down);
        }
        for (String what : stillDown) {
            try {
                restart(what);
            } catch (IOException e) {
                // Reported as a component that is not running by the invariants.
                out.println("chaos: restarting " + what + " failed: " + e);
                out.flush();
            }
        }
        return lastRestartNanos;
    }

    private void run() {
        while (!stopping) {
            try {
                Thread.sleep(2000 + random.nextInt(6000));
                inject(next());
            } catch (InterruptedException e) {
                return;
            } catch (IOException | RuntimeException e) {
                out.println("chaos: fault injection failed: " + e);
                out.flush();
            }
        }
    }

    private Kind next() {
        if (bag.isEmpty()) {
            bag.addAll(List.of(Kind.values()));
            bag.add(Kind.CONTROLLER);
            bag.add(Kind.AGENT);
            bag.add(Kind.ETCD_MEMBER);
            Collections.shuffle(bag, new Random(random.nextLong()));
        }
        return bag.remove(bag.size() - 1);
    }

    private synchronized void inject(Kind kind) throws InterruptedException, IOException {
        List<String> targets = new ArrayList<>();
        long etcdDown = down.stream().filter(d -> d.startsWith("etcd-")).count();
        switch (kind) {
            case CONTROLLER -> cluster.controllers.stream().map(ComponentProcess::name).filter(n -> !down.contains(n))
                    .skip(random.nextInt(cluster.controllers.size())).findFirst()
                    .or(() -> cluster.controllers.stream().map(ComponentProcess::name).filter(n -> !down.contains(n)).findFirst())
                    .ifPresent(targets::add);
            case AGENT -> cluster.nodes.stream().map(n -> n.agent().name()).filter(n -> !down.contains(n))
                    .skip(random.nextInt(cluster.nodes.size())).findFirst()
                    .or(() -> cluster.nodes.stream().map(n -> n.agent().name()).filter(n -> !down.contains(n)).findFirst())
                    .ifPresent(targets::add);
            case CSI -> {
                if (!down.contains(cluster.csi.name())) {
                    targets.add(cluster.csi.name());
                }
            }
            case ETCD_MEMBER -> {
                if (etcdDown == 0) {
                    targets.add("etcd-" + random.nextInt(cluster.etcd.memberCount()));
                }
            }
            case ETCD_QUORUM -> {
                if (etcdDown == 0) {
                    int spared = random.nextInt(cluster.etcd.memberCount());
                    for (int i = 0; i < cluster.etcd.memberCount(); i++) {
                        if (i != spared) {
                            targets.add("etcd-" + i);
                        }
                    }
                }
            }
        }
        if (targets.isEmpty()) {
            // Not possible now (an etcd member is still down): drawn again next, so no kind is skipped.
            bag.add(kind);
            return;
        }
        for (String target : targets) {
            kill(target);
            down.add(target);
        }
        injected.computeIfAbsent(kind.label, k -> new LongAdder()).increment();
        // Long enough for leases (10 s) to expire now and then, short enough for many faults per run.
        long downMs = kind == Kind.ETCD_QUORUM ? 8000 + random.nextInt(12000) : 2000 + random.nextInt(10000);
        out.println(String.format("chaos: %6.1f s  kill -9 %s (%s), back in %.1f s", (System.nanoTime() - startNanos) / 1e9,
                String.join(" + ", targets), kind.label, downMs / 1e3));
        out.flush();
        restarts.schedule(() -> {
            for (String target : targets) {
                try {
                    restart(target);
                } catch (IOException | RuntimeException e) {
                    out.println("chaos: restarting " + target + " failed: " + e);
                    out.flush();
                }
            }
        }, downMs, TimeUnit.MILLISECONDS);
    }

    private void kill(String target) throws InterruptedException {
        if (target.startsWith("etcd-")) {
            cluster.etcd.killMember(Integer.parseInt(target.substring(5)));
        } else {
            component(target).kill();
        }
    }

    private synchronized void restart(String target) throws IOException {
        if (target.startsWith("etcd-")) {
            cluster.etcd.startMember(Integer.parseInt(target.substring(5)));
        } else {
            component(target).start();
        }
        down.remove(target);
        lastRestartNanos = System.nanoTime();
    }

    private ComponentProcess component(String name) {
        return cluster.components().stream().filter(c -> c.name().equals(name)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no component " + name));
    }
}
