package io.ferry.tools.bench;

import io.ferry.cluster.LocalCluster;
import io.ferry.controller.Controller;
import io.ferry.controller.ControllerOptions;
import io.ferry.etcd.EtcdOptions;
import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.store.Leadership;
import io.ferry.etcd.store.Transaction;
import io.ferry.model.ControllerLeader;
import io.ferry.model.Json;
import io.ferry.runtime.informer.InformerOptions;
import io.ferry.runtime.lease.LeaderElection;
import io.ferry.runtime.reconcile.RuntimeOptions;
import io.ferry.tools.up.LocalEtcd;
import io.vertx.core.Future;

import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * The controller-heap half of the placement benchmark: a real etcd filled with a synthetic cluster
 * ({@link BenchCluster}) and one standby controller (another candidate holds the election, so its
 * caches are warm but it places nothing); reports the heap the controller's state takes.
 */
final class ControllerHeap {

    private ControllerHeap() {
    }

    static void measure(int pools, int placements) throws Exception {
        System.out.printf(Locale.ROOT, "%nController heap: %,d pools, %,d placements in a real etcd, one standby controller%n",
                pools, placements);
        try (LocalEtcd etcd = LocalEtcd.temporary("--quota-backend-bytes", String.valueOf(8L << 30))) {
            EtcdOptions options = new EtcdOptions.Builder().endpoints(etcd.endpoint()).requestTimeout(Duration.ofSeconds(60)).build();
            long keys = populate(options, pools, placements);
            try (LocalCluster cluster = LocalCluster.on(options)) {
                // Another candidate holds the election, so the measured controller stays a standby with warm caches.
                String holderId = Json.encodeToString(ControllerLeader.of("bench-holder", null, Instant.now()));
                LeaderElection holder = new LeaderElection(cluster.vertx(), cluster.store(),
                        cluster.store().keys().controllerLeader(), holderId, Duration.ofSeconds(30), new LeaderElection.Listener() {
                            @Override
                            public void onElected(Leadership leadership) {
                            }

                            @Override
                            public void onDeposed() {
                            }
                        });
                await(holder.start());
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (!holder.isLeader() && System.nanoTime() < deadline) {
                    Thread.sleep(50);
                }
                long before = usedHeapAfterGc();
                long t0 = System.nanoTime();
                Controller controller = cluster.startController(new ControllerOptions("bench-standby", Duration.ofSeconds(10),
                        null, InformerOptions.defaults(), RuntimeOptions.defaults().withConcurrency(64), Duration.ofMinutes(5)));
                long startMillis = (System.nanoTime() - t0) / 1_000_000;
                Thread.sleep(2000); // let the watches settle
                long after = usedHeapAfterGc();
                System.out.printf(Locale.ROOT, "keys in etcd: %,d; controller start (all informers listed): %,d ms; leader: %s%n",
                        keys, startMillis, controller.isLeader());
                System.out.printf(Locale.ROOT, "used heap after full GC: before controller %,d MiB, with controller %,d MiB%n",
                        before >> 20, after >> 20);
                System.out.printf(Locale.ROOT, "controller state: %,d MiB (%,.0f bytes per placement incl. its intent and work"
                        + " item)%n", (after - before) >> 20, (double) (after - before) / placements);
                cluster.stopController("bench-standby");
                holder.close();
            }
        }
    }

    /** Writes the cluster in transactions of 128 puts, eight in flight; returns the number of keys. */
    private static long populate(EtcdOptions options, int pools, int placements) throws Exception {
        BenchCluster cluster = BenchCluster.build(pools, placements, 42, true);
        long t0 = System.nanoTime();
        List<Object[]> puts = new ArrayList<>();
        try (EtcdStore store = EtcdStore.connect(options)) {
            FerryKeys k = store.keys();
            puts.add(new Object[]{k.globalConfig(), cluster.global});
            cluster.registrations.forEach(r -> puts.add(new Object[]{k.registration(r.node()), r}));
            cluster.pools.forEach(p -> puts.add(new Object[]{k.poolConfig(p.name()), p}));
            cluster.statuses.forEach(s -> puts.add(new Object[]{k.nodePoolStatus(s.node(), s.pool()), s}));
            cluster.ledgers.forEach(l -> puts.add(new Object[]{k.ledger(l.pool()), l}));
            cluster.intents.forEach(v -> puts.add(new Object[]{k.volume(v.name()), v}));
            cluster.placements.forEach(p -> puts.add(new Object[]{k.placement(p.volume()), p}));
            cluster.workItems.forEach(w -> puts.add(new Object[]{k.workItem(w.node(), w.volume()), w}));
            Deque<Future<?>> inFlight = new ArrayDeque<>();
            for (int from = 0; from < puts.size(); from += 128) {
                Transaction txn = store.txn();
                for (Object[] put : puts.subList(from, Math.min(puts.size(), from + 128))) {
                    txn.put((String) put[0], put[1]);
                }
                inFlight.add(txn.commit());
                if (inFlight.size() >= 8) {
                    await(inFlight.poll());
                }
            }
            while (!inFlight.isEmpty()) {
                await(inFlight.poll());
            }
        }
        System.out.printf(Locale.ROOT, "wrote %,d keys in %,d ms%n", puts.size(), (System.nanoTime() - t0) / 1_000_000);
        return puts.size();
    }

    private static long usedHeapAfterGc() throws InterruptedException {
        var memory = ManagementFactory.getMemoryMXBean();
        long used = Long.MAX_VALUE;
        for (int i = 0; i < 5; i++) {
            System.gc();
            Thread.sleep(200);
            used = Math.min(used, memory.getHeapMemoryUsage().getUsed());
        }
        return used;
    }

    private static <T> T await(Future<T> future) throws Exception {
        return future.toCompletionStage().toCompletableFuture().get(10, TimeUnit.MINUTES);
    }
}
