package io.ferry.tools.cli;

import com.sun.management.OperatingSystemMXBean;
import io.ferry.etcd.FerryKeys;
import io.ferry.model.Json;
import io.ferry.model.NodeRegistration;
import io.ferry.runtime.informer.Informer;
import io.ferry.runtime.informer.InformerHandler;
import io.ferry.runtime.informer.InformerOptions;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.Placement;
import io.ferry.model.PoolConfig;
import io.ferry.model.SchedulingPhase;
import io.ferry.model.Sizes;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeProgress;
import io.ferry.model.VolumeScheduling;
import io.ferry.model.VolumeStatus;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

@Command(name = "bench", description = "Benchmarks against a running cluster, and the chaos run.",
        subcommands = {BenchCommands.Provision.class, ChaosCommand.class, ScaleCommand.class})
final class BenchCommands {

    /**
     * Creates and deletes N volumes with C requests in flight, timing each from the intent's write to
     * the agent's Ready status (seen through a watch, not polling), and compares the throughput with
     * plain etcd puts at the same concurrency in the same run.
     */
    @Command(name = "provision", description = "Provision and delete volumes; print volumes/s, latency percentiles,"
            + " etcd writes per volume, and the same figures for plain etcd puts.")
    static final class Provision extends Base {
        @Option(names = "--volumes", defaultValue = "1000", description = "volumes to create (default: ${DEFAULT-VALUE})")
        int volumes;
        @Option(names = "--concurrency", defaultValue = "64", description = "requests in flight (default: ${DEFAULT-VALUE})")
        int concurrency;
        @Option(names = "--size", defaultValue = "64Mi", description = "size of each volume (default: ${DEFAULT-VALUE})")
        String size;
        @Option(names = "--name-prefix", defaultValue = "bench", description = "volume names are <prefix>-<n> (default: ${DEFAULT-VALUE})")
        String namePrefix;
        @Option(names = "--timeout", defaultValue = "600", description = "seconds for each phase (default: ${DEFAULT-VALUE})")
        int timeoutSeconds;
        @Option(names = "--thick", description = "allocate every volume up front (default: thin, so the run measures"
                + " Ferry rather than the disk filling thousands of files)")
        boolean thick;
        @Option(names = "--keep", description = "keep the volumes (skip the delete phase), e.g. to inspect their timestamps")
        boolean keep;
        @Option(names = "--warmup", defaultValue = "1000", paramLabel = "N", description = "first create and delete N"
                + " other volumes, unmeasured (default: ${DEFAULT-VALUE}; 0 measures from a cold start)")
        int warmup;
        @Option(names = "--timings", paramLabel = "FILE", description = "also write every volume's timings (CSV: phase,"
                + " index, started ms after the phase began, placed ms, done ms) to FILE, to see where a tail comes from")
        Path timingsFile;
        @Option(names = "--consumers", defaultValue = "all",
                description = "consumer nodes given to the volumes in turn: all (every registered node), none, or a comma list"
                        + " (default: ${DEFAULT-VALUE}); like pods spread over a cluster, each volume prefers its consumer's node")
        String consumers;

        /** {@code placedMs}: for provisioning, intent to the controller's placement (NaN when not seen). */
        record Phase(String name, int count, double seconds, double[] startedMs, double[] latenciesMs, double[] placedMs,
                long etcdRevisions, double clientCpuMs) {
            double perSecond() {
                return count / seconds;
            }

            double percentile(double p) {
                return percentileOf(latenciesMs, p);
            }

            static double percentileOf(double[] values, double p) {
                double[] sorted = Arrays.stream(values).filter(v -> !Double.isNaN(v)).toArray();
                if (sorted.length == 0) {
                    return Double.NaN;
                }
                Arrays.sort(sorted);
                int index = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
                return sorted[Math.max(0, Math.min(sorted.length - 1, index))];
            }
        }

        @Override
        public Integer call() throws Exception {
            if (volumes < 1 || concurrency < 1) {
                throw new CliException(ExitCodes.USAGE, "--volumes and --concurrency must be at least 1");
            }
            if (warmup < 0) {
                throw new CliException(ExitCodes.USAGE, "--warmup must be 0 or more");
            }
            Map<String, PoolConfig> pools = byName(keys().poolConfigs(), PoolConfig.class);
            if (pools.isEmpty()) {
                throw new CliException(ExitCodes.REFUSED, "no pools are configured: add one with `ferryctl pool add` (or run `ferry up`)");
            }
            long bytes = Sizes.parse(size);
            List<String> consumerNodes = consumerNodes();
            Vertx vertx = Vertx.vertx();
            // The informers get their own client, closed before their Vert.x: closing a client
            // completes its watches, and their handlers must still find a live event loop (the
            // shared client, closed last by FerryCtl, used to fail with "event executor terminated").
            EtcdStore watchStore = EtcdStore.connect(root().etcdOptions());
            try {
                Tracker tracker = new Tracker(keys());
                // One watch per pool node on its volume statuses only: a watch on all of /nodes/ would
                // also carry work items and pool reports, CPU taken from the cluster being measured.
                List<Informer<Object>> statuses = new ArrayList<>();
                for (String node : pools.values().stream().map(PoolConfig::node).distinct().sorted().toList()) {
                    statuses.add(new Informer<>(vertx, watchStore, keys().volumeStatuses(node), k -> VolumeStatus.class, tracker,
                            InformerOptions.defaults(), null));
                }
                Informer<Object> scheduling = new Informer<>(vertx, watchStore, keys().volumeSchedulings(), k -> VolumeScheduling.class,
                        tracker, InformerOptions.defaults(), null);
                // The placements carry the generation a Ready status must have reached.
                Informer<Object> placements = new Informer<>(vertx, watchStore, keys().placements(), k -> Placement.class,
                        tracker, InformerOptions.defaults(), null);
                long watchesBy = deadline();
                for (Informer<Object> informer : statuses) {
                    within(informer.start(), watchesBy, "starting the watches");
                }
                within(scheduling.start(), watchesBy, "starting the watches");
                within(placements.start(), watchesBy, "starting the watches");

                Action create = (name, i) -> store().put(keys().volume(name), intent(name, bytes, consumerNodes, i).build());
                Action delete = (name, i) -> store().put(keys().volume(name),
                        intent(name, bytes, consumerNodes, i).deletionRequested(true).build());
                if (warmup > 0) {
                    // Both JVMs compile their hot paths during the first few hundred volumes; that
                    // start-up cost is not what a cluster in service pays per volume.
                    run("warm-up provision", tracker, warmup, namePrefix + "-warmup", create, true);
                    run("warm-up delete", tracker, warmup, namePrefix + "-warmup", delete, false);
                }
                Phase created = run("provision", tracker, volumes, namePrefix, create, true);
                Phase deleted = keep ? null : run("delete", tracker, volumes, namePrefix, delete, false);
                statuses.forEach(Informer::close);
                scheduling.close();
                placements.close();
                Phase baseline = baseline();
                report(created, deleted, baseline);
                if (timingsFile != null) {
                    writeTimings(created, deleted, baseline);
                }
            } finally {
                try {
                    watchStore.close();
                } catch (RuntimeException e) {
                    // Closing is best effort; the figures (or the error) are what counts.
                }
                vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
            }
            return ExitCodes.OK;
        }

        interface Action {
            Future<?> apply(String name, int index);
        }

        private VolumeIntent.Builder intent(String name, long bytes, List<String> consumers, int index) {
            VolumeIntent.Builder b = VolumeIntent.builder(name, bytes).thin(!thick).createdBy("ferryctl-bench")
                    .createdAt(Instant.now());
            if (!consumers.isEmpty()) {
                b.consumerNode(consumers.get(index % consumers.size()));
            }
            return b;
        }

        private List<String> consumerNodes() {
            if (consumers.equals("none")) {
                return List.of();
            }
            if (!consumers.equals("all")) {
                return List.of(consumers.split(","));
            }
            return listOf(keys().nodes(), FerryKeys.Kind.NODE_REGISTRATION, NodeRegistration.class).stream()
                    .map(v -> v.value().node()).sorted().toList();
        }

        private Phase run(String label, Tracker tracker, int volumes, String namePrefix, Action action, boolean creating)
                throws InterruptedException {
            Semaphore inFlight = new Semaphore(concurrency);
            CountDownLatch finished = new CountDownLatch(volumes);
            double[] latencies = new double[volumes];
            double[] started = new double[volumes];
            double[] placed = new double[volumes];
            AtomicReference<String> failure = new AtomicReference<>();
            long deadline = deadline();
            long revisionBefore = within(store().currentRevision(), deadline, label);
            long cpuBefore = ownCpuNanos();
            long start = System.nanoTime();
            for (int i = 0; i < volumes && failure.get() == null; i++) {
                if (!inFlight.tryAcquire(remaining(deadline), TimeUnit.NANOSECONDS)) {
                    throw timedOut(label, finished.getCount() + " of " + volumes + " not done (" + (volumes - i)
                            + " not even sent)");
                }
                String name = namePrefix + "-" + i;
                int slot = i;
                long began = System.nanoTime();
                started[slot] = (began - start) / 1e6;
                tracker.expect(name, creating, error -> {
                    if (error != null) {
                        failure.compareAndSet(null, name + ": " + error);
                    }
                    latencies[slot] = (System.nanoTime() - began) / 1e6;
                    Long placedAt = tracker.placedAt(name);
                    placed[slot] = placedAt == null ? Double.NaN : (placedAt - began) / 1e6;
                    inFlight.release();
                    finished.countDown();
                });
                action.apply(name, slot).onFailure(e -> tracker.fail(name, e.getMessage()));
            }
            if (failure.get() != null) {
                // Stop at the first failure, but let what is in flight settle so the report is whole.
                inFlight.tryAcquire(concurrency, remaining(deadline), TimeUnit.NANOSECONDS);
                throw new CliException(ExitCodes.FAILED, label + " did not complete: " + failure.get());
            }
            if (!finished.await(remaining(deadline), TimeUnit.NANOSECONDS)) {
                throw timedOut(label, finished.getCount() + " of " + volumes + " still pending");
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            double cpuMs = (ownCpuNanos() - cpuBefore) / 1e6;
            long revisions = within(store().currentRevision(), deadline, label) - revisionBefore;
            return new Phase(label, volumes, seconds, started, latencies, creating ? placed : null, revisions, cpuMs);
        }

        private Phase baseline() throws InterruptedException {
            String prefix = keys().prefix() + "/bench-baseline/";
            String value = Json.encodeToString(VolumeIntent.builder("baseline", Sizes.parse(size)).build());
            Semaphore inFlight = new Semaphore(concurrency);
            CountDownLatch finished = new CountDownLatch(volumes);
            double[] latencies = new double[volumes];
            double[] started = new double[volumes];
            long deadline = deadline();
            long revisionBefore = within(store().currentRevision(), deadline, "the etcd put baseline");
            long cpuBefore = ownCpuNanos();
            long start = System.nanoTime();
            for (int i = 0; i < volumes; i++) {
                if (!inFlight.tryAcquire(remaining(deadline), TimeUnit.NANOSECONDS)) {
                    throw timedOut("the etcd put baseline", finished.getCount() + " of " + volumes + " puts not answered");
                }
                int slot = i;
                long began = System.nanoTime();
                started[slot] = (began - start) / 1e6;
                store().putRaw(prefix + i, value.getBytes(StandardCharsets.UTF_8)).onComplete(ar -> {
                    latencies[slot] = (System.nanoTime() - began) / 1e6;
                    inFlight.release();
                    finished.countDown();
                });
            }
            if (!finished.await(remaining(deadline), TimeUnit.NANOSECONDS)) {
                throw timedOut("the etcd put baseline", finished.getCount() + " of " + volumes + " puts not answered");
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            double cpuMs = (ownCpuNanos() - cpuBefore) / 1e6;
            long revisions = within(store().currentRevision(), deadline, "the etcd put baseline") - revisionBefore;
            within(store().deletePrefix(prefix), deadline, "the etcd put baseline");
            return new Phase("etcd put", volumes, seconds, started, latencies, null, revisions, cpuMs);
        }

        /** When a phase that starts now must be over: {@code --timeout} bounds every wait in it, however the cluster fails. */
        private long deadline() {
            return System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
        }

        private static long remaining(long deadline) {
            return Math.max(0, deadline - System.nanoTime());
        }

        /** {@code future}'s result, or the phase's timeout error once its deadline has passed. */
        private <T> T within(Future<T> future, long deadline, String label) {
            try {
                return future.toCompletionStage().toCompletableFuture().get(remaining(deadline), TimeUnit.NANOSECONDS);
            } catch (TimeoutException e) {
                throw timedOut(label, "etcd did not answer");
            } catch (ExecutionException e) {
                Throwable cause = FerryCtl.unwrap(e);
                throw cause instanceof RuntimeException re ? re : new CliException(ExitCodes.FAILED, String.valueOf(cause.getMessage()));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new CliException(ExitCodes.FAILED, "interrupted");
            }
        }

        /**
         * A phase that ran out of time: etcd unreachable (exit 6) when a last short read says so,
         * the cluster merely too slow or stuck (exit 5) when etcd still answers.
         */
        private CliException timedOut(String label, String state) {
            String what = label + " did not complete within --timeout " + timeoutSeconds + " s: " + state;
            try {
                store().currentRevision().toCompletionStage().toCompletableFuture().get(3, TimeUnit.SECONDS);
            } catch (Exception e) {
                return new CliException(ExitCodes.ETCD_UNAVAILABLE, what + "; etcd does not answer (" + FerryCtl.unwrap(e)
                        + "), so the cluster is down or unreachable");
            }
            return new CliException(ExitCodes.TIMEOUT, what + "; etcd answers, so the controller or the agents are stuck or too"
                    + " slow (see ferryctl status)");
        }

        private void report(Phase create, Phase delete, Phase baseline) {
            List<Map<String, Object>> rows = new ArrayList<>();
            List<List<String>> cells = new ArrayList<>();
            for (Phase p : Stream.of(create, delete, baseline).filter(Objects::nonNull).toList()) {
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("phase", p.name());
                row.put("count", p.count());
                row.put("seconds", round(p.seconds()));
                row.put("perSecond", round(p.perSecond()));
                row.put("p50Ms", round(p.percentile(50)));
                row.put("p95Ms", round(p.percentile(95)));
                row.put("p99Ms", round(p.percentile(99)));
                row.put("etcdRevisionsPerItem", round((double) p.etcdRevisions() / p.count()));
                row.put("clientCpuMsPerItem", round(p.clientCpuMs() / p.count()));
                rows.add(row);
                cells.add(List.of(p.name(), String.valueOf(p.count()), fmt(p.perSecond()), fmt(p.percentile(50)),
                        fmt(p.percentile(95)), fmt(p.percentile(99)), fmt((double) p.etcdRevisions() / p.count()),
                        String.format("%.2f", p.clientCpuMs() / p.count())));
            }
            Map<String, Object> summary = new LinkedHashMap<>();
            summary.put("volumes", volumes);
            summary.put("concurrency", concurrency);
            summary.put("phases", rows);
            summary.put("provisionToEtcdPutThroughputRatio", round(create.perSecond() / baseline.perSecond()));
            double[] ready = new double[create.count()];
            for (int i = 0; i < ready.length; i++) {
                ready[i] = create.latenciesMs()[i] - create.placedMs()[i];
            }
            Map<String, Object> split = new LinkedHashMap<>();
            split.put("intentToPlacedP50Ms", round(Phase.percentileOf(create.placedMs(), 50)));
            split.put("intentToPlacedP99Ms", round(Phase.percentileOf(create.placedMs(), 99)));
            split.put("placedToReadyP50Ms", round(Phase.percentileOf(ready, 50)));
            split.put("placedToReadyP99Ms", round(Phase.percentileOf(ready, 99)));
            summary.put("provisionSplit", split);
            if (out().format() != Output.Format.table) {
                out().structured(summary);
                return;
            }
            out().line("volumes " + volumes + ", concurrency " + concurrency + ", size " + size + (thick ? " thick" : " thin")
                    + ", consumers " + consumers);
            out().rows(List.of("PHASE", "N", "PER-SECOND", "P50-MS", "P95-MS", "P99-MS", "ETCD-WRITES/ITEM", "CLIENT-CPU-MS/ITEM"), cells,
                    summary);
            out().line(String.format("provision split: intent -> placed p50 %.1f ms, p99 %.1f ms; placed -> Ready p50 %.1f ms,"
                    + " p99 %.1f ms", split.get("intentToPlacedP50Ms"), split.get("intentToPlacedP99Ms"),
                    split.get("placedToReadyP50Ms"), split.get("placedToReadyP99Ms")));
            out().line(String.format("provisioning runs at %.1f%% of the throughput of plain etcd puts at the same concurrency",
                    100 * create.perSecond() / baseline.perSecond()));
        }

        private void writeTimings(Phase... phases) throws IOException {
            StringBuilder csv = new StringBuilder("phase,index,startedMs,placedMs,doneMs\n");
            for (Phase p : phases) {
                if (p == null) {
                    continue;
                }
                for (int i = 0; i < p.count(); i++) {
                    csv.append(p.name()).append(',').append(i).append(',').append(fmt(p.startedMs()[i])).append(',')
                            .append(p.placedMs() == null ? "" : fmt(p.placedMs()[i])).append(',')
                            .append(fmt(p.latenciesMs()[i])).append('\n');
                }
            }
            Files.writeString(timingsFile, csv);
        }

        private static double round(double v) {
            return Math.round(v * 100) / 100.0;
        }

        /**
         * CPU this benchmark process used, so a reader can see how much of a shared machine the load
         * generator itself took from the cluster it measures.
         */
        private static long ownCpuNanos() {
            return ((OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                    .getProcessCpuTime();
        }

        private static String fmt(double v) {
            return String.format("%.1f", v);
        }
    }

    /**
     * Completes each volume's wait: a creation once {@link VolumeProgress#created} (the rule the CSI
     * plugin and ferryctl use) says it is done or has failed, a deletion once the controller has
     * removed the volume's scheduling record.
     */
    static final class Tracker implements InformerHandler<Object> {
        interface Done {
            void accept(String error);
        }

        private final FerryKeys keys;
        private final Map<String, Done> creating = new ConcurrentHashMap<>();
        private final Map<String, Done> deleting = new ConcurrentHashMap<>();
        private final Map<String, Long> placedNanos = new ConcurrentHashMap<>();
        private final Map<String, VolumeScheduling> schedulings = new ConcurrentHashMap<>();
        private final Map<String, Placement> placements = new ConcurrentHashMap<>();
        private final Map<String, VolumeStatus> statuses = new ConcurrentHashMap<>();

        Tracker(FerryKeys keys) {
            this.keys = keys;
        }

        /** When the placement of a volume being created was seen ({@link System#nanoTime}), once. */
        Long placedAt(String name) {
            return placedNanos.remove(name);
        }

        void expect(String name, boolean create, Done done) {
            (create ? creating : deleting).put(name, done);
        }

        void fail(String name, String error) {
            Done d = creating.remove(name);
            if (d == null) {
                d = deleting.remove(name);
            }
            if (d != null) {
                d.accept(error);
            }
        }

        private void evaluate(String volume) {
            if (!creating.containsKey(volume)) {
                return;
            }
            VolumeProgress.Outcome outcome = VolumeProgress.created(volume, schedulings.get(volume), 0,
                    placements.get(volume), statuses.get(volume));
            if (outcome instanceof VolumeProgress.Failed f) {
                fail(volume, f.reason().value() + ": " + f.message());
            } else if (outcome instanceof VolumeProgress.Done) {
                Done d = creating.remove(volume);
                if (d != null) {
                    d.accept(null);
                }
            }
        }

        @Override
        public void onUpsert(Versioned<Object> current, Versioned<Object> previous) {
            String volume;
            if (current.value() instanceof VolumeStatus s) {
                statuses.put(s.volume(), s);
                volume = s.volume();
            } else if (current.value() instanceof Placement p) {
                placements.put(p.volume(), p);
                volume = p.volume();
            } else if (current.value() instanceof VolumeScheduling s) {
                schedulings.put(s.volume(), s);
                volume = s.volume();
                if (s.phase() == SchedulingPhase.PLACED && creating.containsKey(volume)) {
                    placedNanos.putIfAbsent(volume, System.nanoTime());
                }
            } else {
                return;
            }
            evaluate(volume);
        }

        @Override
        public void onDelete(String key, Versioned<Object> lastKnown) {
            if (lastKnown != null && lastKnown.value() instanceof VolumeStatus st) {
                statuses.remove(st.volume(), st);
            } else if (lastKnown != null && lastKnown.value() instanceof Placement p) {
                placements.remove(p.volume(), p);
            } else if (lastKnown != null && lastKnown.value() instanceof VolumeScheduling sc) {
                schedulings.remove(sc.volume(), sc);
            }
            // The controller removes a volume's scheduling record in the same transaction that
            // removes its intent: that is the end of a deletion.
            if (key.startsWith(keys.volumeSchedulings())) {
                keys.parse(key).ifPresent(ref -> {
                    Done d = deleting.remove(ref.name());
                    if (d != null) {
                        d.accept(null);
                    }
                });
            }
        }
    }
}
