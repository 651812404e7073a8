package io.ferry.tools.cli;

import com.sun.management.OperatingSystemMXBean;
import io.ferry.etcd.FerryKeys;
import io.ferry.model.Json;
import io.ferry.model.NodeRegistration;
import io.ferry.runtime.informer.Informer;
import io.ferry.runtime.informer.InformerOptions;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.model.Placement;
import io.ferry.model.PoolConfig;
import io.ferry.model.Sizes;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeScheduling;
import io.ferry.model.VolumeStatus;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
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
                ProvisionTracker tracker = new ProvisionTracker(keys());
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
                ProvisionPhase created = run("provision", tracker, volumes, namePrefix, create, true);
                ProvisionPhase deleted = keep ? null : run("delete", tracker, volumes, namePrefix, delete, false);
                statuses.forEach(Informer::close);
                scheduling.close();
                placements.close();
                ProvisionPhase baseline = baseline();
                ProvisionReport.report(out(), "volumes " + volumes + ", concurrency " + concurrency + ", size " + size
                        + (thick ? " thick" : " thin") + ", consumers " + consumers, volumes, concurrency, created, deleted,
                        baseline);
                if (timingsFile != null) {
                    Files.writeString(timingsFile, ProvisionReport.timingsCsv(created, deleted, baseline));
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

        private ProvisionPhase run(String label, ProvisionTracker tracker, int volumes, String namePrefix, Action action, boolean creating)
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
            return new ProvisionPhase(label, volumes, seconds, started, latencies, creating ? placed : null, revisions, cpuMs);
        }

        private ProvisionPhase baseline() throws InterruptedException {
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
            return new ProvisionPhase("etcd put", volumes, seconds, started, latencies, null, revisions, cpuMs);
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

        /**
         * CPU this benchmark process used, so a reader can see how much of a shared machine the load
         * generator itself took from the cluster it measures.
         */
        private static long ownCpuNanos() {
            return ((OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                    .getProcessCpuTime();
        }
    }
}
