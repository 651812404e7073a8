package io.ferry.tools.chaos;

import io.ferry.etcd.store.Versioned;
import io.ferry.model.Attachment;
import io.ferry.model.SnapshotIntent;
import io.ferry.model.VolumeIntent;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.LoggerFactory;

/**
 * {@code ferryctl bench chaos}: a Ferry cluster of separate processes on this machine, a steady
 * workload against it, SIGKILLs of random components meanwhile, and then the invariants. In order:
 * <ol>
 * <li>start the cluster ({@link ChaosCluster}) and wait until it serves a first volume;</li>
 * <li>run the workload ({@link Workload}) and the faults ({@link FaultInjector}) for the duration;</li>
 * <li>restart whatever is down, and time how long until a new volume is Ready again (recovery);</li>
 * <li>let the workers finish their cycles, then wait until the {@link Invariants} hold (converged),
 *     reporting what still fails at the deadline;</li>
 * <li>read back every acknowledged pattern of the volumes kept to the end;</li>
 * <li>delete everything and check that nothing is left.</li>
 * </ol>
 */
public final class ChaosRun {

    /**
     * @param duration  how long the workload runs under faults
     * @param workers   workload threads
     * @param seed      what the faults and patterns are drawn from
     * @param dataDir   where the cluster lives (null: a new temporary directory)
     * @param keepFiles keep the directory (etcd data, pools, logs) afterwards; it is always kept when
     *                  there are violations, to look at
     * @param deadline  how long any one step, the convergence and the final clean-up may take
     */
    public record Options(Duration duration, int workers, long seed, Path dataDir, boolean keepFiles, Duration deadline) {
        public static Options defaults(Duration duration) {
            return new Options(duration, 3, System.nanoTime(), null, false, Duration.ofMinutes(5));
        }
    }

    /**
     * What a run found.
     *
     * @param recoverySeconds   from the last restart after the last fault to a new volume Ready (NaN: never)
     * @param convergedSeconds  from the same moment to all invariants holding, workers finished (NaN: never)
     */
    public record Result(Map<String, Long> operations, Map<String, Long> faults, List<String> violations,
            double recoverySeconds, double convergedSeconds, Path dataDir) {
        public long operationCount() {
            return operations.values().stream().mapToLong(Long::longValue).sum();
        }
    }

    private ChaosRun() {
    }

    public static Result run(Options options, PrintWriter out) throws Exception {
        Path root = options.dataDir() != null ? Files.createDirectories(options.dataDir().toAbsolutePath())
                : Files.createTempDirectory("ferry-chaos-");
        // Every fault makes the etcd client log its retries; the run's own lines are what a reader needs.
        if (LoggerFactory.getLogger("io.etcd.jetcd") instanceof ch.qos.logback.classic.Logger jetcd) {
            jetcd.setLevel(ch.qos.logback.classic.Level.ERROR);
        }
        Queue<String> violations = new ConcurrentLinkedQueue<>();
        Patient patient = new Patient(options.deadline());
        ChaosCluster cluster = ChaosCluster.start(root, out);
        Result result;
        try {
            Workload workload = new Workload(cluster.store, patient, violations);
            Invariants invariants = new Invariants(cluster, patient);
            probe(workload, "chaos-warm-up");
            out.println("cluster serves volumes; " + options.workers() + " workers and faults for " + options.duration().toSeconds() + " s");
            out.flush();

            FaultInjector faults = new FaultInjector(cluster, options.seed(), out);
            workload.start(options.workers(), options.seed());
            faults.start();
            Thread.sleep(options.duration().toMillis());
            long lastRestart = faults.stopAndRestoreAll();
            long restored = System.nanoTime();
            long from = lastRestart == 0 ? restored : lastRestart;
            out.println("faults stopped; every component started again");
            out.flush();

            double recovery = Double.NaN;
            try {
                probe(workload, "chaos-recovery");
                recovery = (System.nanoTime() - from) / 1e9;
            } catch (Patient.StuckException | Violation e) {
                violations.add("no recovery after the last fault: " + e.getMessage());
            }
            workload.stop();

            double converged = Double.NaN;
            List<String> last = List.of();
            long end = System.nanoTime() + options.deadline().toNanos();
            while (System.nanoTime() < end) {
                last = invariants.converged();
                if (last.isEmpty()) {
                    converged = (System.nanoTime() - from) / 1e9;
                    break;
                }
                Thread.sleep(1000);
            }
            last.forEach(v -> violations.add("after " + options.deadline().toSeconds() + " s to converge: " + v));

            for (Workload.Kept kept : workload.kept()) {
                try {
                    workload.verify(kept.volume(), workload.attach(kept.volume()), kept.patterns());
                    workload.detach(kept.volume());
                } catch (Patient.StuckException | Violation e) {
                    violations.add("final read-back: " + e.getMessage());
                }
            }
            out.println("read back " + workload.kept().size() + " volume(s) kept to the end; deleting everything");
            out.flush();

            deleteAll(cluster, workload, patient, violations);
            List<String> left = List.of();
            end = System.nanoTime() + options.deadline().toNanos();
            while (System.nanoTime() < end) {
                left = invariants.empty();
                if (left.isEmpty()) {
                    break;
                }
                Thread.sleep(1000);
            }
            left.forEach(v -> violations.add("after the final delete-all: " + v));
            result = new Result(counts(workload.completed()), counts(faults.injected()), List.copyOf(violations), recovery,
                    converged, root);
        } finally {
            cluster.close();
        }
        report(result, options, out);
        if (!options.keepFiles() && result.violations().isEmpty()) {
            cluster.deleteFiles();
        } else {
            out.println("kept " + root + " (etcd data, pools, logs of every component)");
        }
        out.flush();
        return result;
    }

    /** Creates a volume, waits until it is Ready and deletes it: the cluster serves requests. */
    private static void probe(Workload workload, String name) throws Exception {
        workload.createVolume(VolumeIntent.builder(name, Workload.SIZE).thin(true).createdBy("chaos").createdAt(Instant.now()).build());
        workload.deleteVolume(name);
    }

    /** Volumes made from snapshots first, then the snapshots, then the rest: each waits for its users to go. */
    private static void deleteAll(ChaosCluster cluster, Workload workload, Patient patient, Queue<String> violations)
            throws InterruptedException {
        var keys = cluster.store.keys();
        try {
            for (Versioned<Attachment> a : patient.call("list attachments",
                    () -> cluster.store.list(keys.attachments(), Attachment.class)).items()) {
                patient.call("detach", () -> cluster.store.delete(a.key()));
            }
            List<VolumeIntent> volumes = patient.call("list volumes", () -> cluster.store.list(keys.volumes(), VolumeIntent.class))
                    .items().stream().map(Versioned::value).toList();
            for (VolumeIntent v : volumes) {
                if (v.sourceSnapshot() != null) {
                    workload.deleteVolume(v.name());
                }
            }
            for (Versioned<SnapshotIntent> s : patient.call("list snapshots",
                    () -> cluster.store.list(keys.snapshots(), SnapshotIntent.class)).items()) {
                workload.deleteSnapshot(s.value().name());
            }
            for (VolumeIntent v : volumes) {
                if (v.sourceSnapshot() == null) {
                    workload.deleteVolume(v.name());
                }
            }
        } catch (Patient.StuckException | Violation e) {
            violations.add("final delete-all: " + e.getMessage());
        }
    }

    private static Map<String, Long> counts(Map<String, LongAdder> adders) {
        Map<String, Long> result = new TreeMap<>();
        adders.forEach((k, v) -> result.put(k, v.sum()));
        return result;
    }

    private static void report(Result r, Options options, PrintWriter out) {
        out.println();
        out.println("chaos run: " + options.duration().toSeconds() + " s, " + options.workers() + " workers, seed " + options.seed());
        out.println("operations completed: " + r.operationCount() + "  " + joined(r.operations()));
        out.println("faults injected:      " + r.faults().values().stream().mapToLong(Long::longValue).sum() + "  "
                + joined(r.faults()));
        out.println("checked: ledgers = placements; one backing file and at most one device per volume; nothing in a pool"
                + " without a record or an orphan report; no stuck intent; every component running; every acknowledged"
                + " write read back; nothing left after deleting everything");
        out.println(String.format("time to recover after the last fault: %s (a new volume Ready); all invariants held after %s",
                seconds(r.recoverySeconds()), seconds(r.convergedSeconds())));
        out.println("violations: " + r.violations().size());
        r.violations().forEach(v -> out.println("  - " + v));
        out.flush();
    }

    private static String seconds(double s) {
        return Double.isNaN(s) ? "never" : String.format("%.1f s", s);
    }

    private static String joined(Map<String, Long> counts) {
        List<String> parts = new ArrayList<>();
        new LinkedHashMap<>(counts).forEach((k, v) -> parts.add(k + " " + v));
        return parts.isEmpty() ? "" : "(" + String.join(", ", parts) + ")";
    }
}
