package io.ferry.tools.chaos;

import io.ferry.csi.HostDevices;
import io.ferry.etcd.ClusterIdentities;
import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.Attachment;
import io.ferry.model.ClusterIdentity;
import io.ferry.model.FailureReason;
import io.ferry.model.NoFitReasons;
import io.ferry.model.NodeRegistration;
import io.ferry.model.Placement;
import io.ferry.model.PoolConfig;
import io.ferry.model.SchedulingPhase;
import io.ferry.model.SnapshotIntent;
import io.ferry.model.SnapshotScheduling;
import io.ferry.model.SnapshotStatus;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeProgress;
import io.ferry.model.VolumeScheduling;
import io.ferry.model.VolumeStatus;
import io.ferry.runtime.exec.ProcessCommandRunner;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Queue;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;

/**
 * The steady workload: each worker, in a loop, creates a volume, attaches it through its local device
 * and writes a checksummed pattern, grows it and writes past its old end, snapshots it, makes a volume
 * from the snapshot and checks the patterns there, checks them on the volume, detaches, and deletes
 * what it made. Every step waits on the records (through {@link VolumeProgress} for volumes) and only
 * an answer counts as done. Some volumes are kept to the end, with what was acknowledged on them, for
 * the final read-back.
 *
 * <p>Anything that ends a step other than success is a violation: a failure Ferry reports for a request
 * that can succeed, a step still not done at its (generous) deadline, a pattern that reads back
 * different, a device Ferry did not make.
 */
final class Workload {

    static final long SIZE = 64L << 20;
    static final long GROWN = 96L << 20;
    static final int PATTERN = 256 << 10;
    /** Volumes each worker keeps to the end of the run, for the final read-back. */
    static final int KEPT_PER_WORKER = 3;

    /** A volume kept to the end of the run with the patterns acknowledged on it. */
    record Kept(String volume, List<Pattern> patterns) {
    }

    private final EtcdStore store;
    private final FerryKeys keys;
    private final Patient patient;
    private final Queue<String> violations;
    private final Map<String, LongAdder> completed = new ConcurrentHashMap<>();
    private final Queue<Kept> kept = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean stopping = new AtomicBoolean();
    private final HostDevices devices = HostDevices.onThisHost(new ProcessCommandRunner());
    private final List<Thread> workers = new ArrayList<>();

    Workload(EtcdStore store, Patient patient, Queue<String> violations) {
        this.store = store;
        this.keys = store.keys();
        this.patient = patient;
        this.violations = violations;
    }

    Map<String, LongAdder> completed() {
        return completed;
    }

    List<Kept> kept() {
        return List.copyOf(kept);
    }

    void start(int count, long seed) {
        for (int w = 1; w <= count; w++) {
            int worker = w;
            Thread t = new Thread(() -> run(worker, new SplittableRandom(seed * 31 + worker)), "chaos-worker-" + w);
            t.setDaemon(true);
            workers.add(t);
            t.start();
        }
    }

    /** Lets every worker finish the cycle it is in (each step has its deadline) and waits for them. */
    void stop() throws InterruptedException {
        stopping.set(true);
        for (Thread t : workers) {
            t.join();
        }
    }

    private void run(int worker, SplittableRandom random) {
        int keptHere = 0;
        for (int cycle = 1; !stopping.get(); cycle++) {
            boolean keep = keptHere < KEPT_PER_WORKER && cycle % 3 == 1;
            try {
                cycle("w" + worker + "-" + cycle, keep, random);
                if (keep) {
                    keptHere++;
                }
            } catch (Patient.StuckException | Violation e) {
                violations.add(e.getMessage());
            } catch (IOException e) {
                violations.add("I/O error on a Ferry device: " + e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (RuntimeException e) {
                violations.add("worker " + worker + " failed: " + e);
            }
        }
    }

    private void cycle(String name, boolean keep, SplittableRandom random)
            throws Patient.StuckException, Violation, IOException, InterruptedException {
        String snapshot = name + "-snap";
        String clone = name + "-clone";
        createVolume(VolumeIntent.builder(name, SIZE).thin(true).createdBy("chaos").createdAt(Instant.now()).build());
        count("create");
        Path device = attach(name);
        count("attach");
        List<Pattern> patterns = new ArrayList<>();
        patterns.add(Pattern.of(aligned(random, SIZE - PATTERN), PATTERN, random.nextLong()));
        patterns.get(0).write(device);
        count("write");
        grow(name, GROWN);
        count("grow");
        // The device is the same after a growth; the new end is what is written now.
        device = attach(name);
        count("attach");
        Pattern beyond = Pattern.of(SIZE + aligned(random, GROWN - SIZE - PATTERN), PATTERN, random.nextLong());
        beyond.write(device);
        patterns.add(beyond);
        count("write");
        snapshot(snapshot, name);
        count("snapshot");
        createVolume(VolumeIntent.builder(clone, GROWN).thin(true).sourceSnapshot(snapshot).createdBy("chaos")
                .createdAt(Instant.now()).build());
        count("clone");
        Path cloneDevice = attach(clone);
        count("attach");
        verify(clone, cloneDevice, patterns);
        count("verify");
        detach(clone);
        count("detach");
        verify(name, device, patterns);
        count("verify");
        detach(name);
        count("detach");
        deleteVolume(clone);
        count("delete");
        deleteSnapshot(snapshot);
        count("delete-snapshot");
        if (keep) {
            kept.add(new Kept(name, List.copyOf(patterns)));
        } else {
            deleteVolume(name);
            count("delete");
        }
    }

    private static long aligned(SplittableRandom random, long below) {
        return random.nextLong(below / Pattern.ALIGN) * Pattern.ALIGN;
    }

    private void count(String kind) {
        completed.computeIfAbsent(kind, k -> new LongAdder()).increment();
    }

    void verify(String volume, Path device, List<Pattern> patterns) throws IOException, Violation {
        for (Pattern p : patterns) {
            String found = p.readBack(device);
            if (!found.equals(p.sha256())) {
                throw new Violation("acknowledged write lost: volume " + volume + " at offset " + p.offset() + " ("
                        + p.length() + " bytes) reads back with SHA-256 " + found + ", " + p.sha256() + " was written");
            }
        }
    }

    /** Writes the intent unless it exists (a retried write may have landed) and waits until it is Ready. */
    void createVolume(VolumeIntent intent) throws Patient.StuckException, Violation, InterruptedException {
        String key = keys.volume(intent.name());
        patient.call("create volume " + intent.name(), () -> store.putIfAbsent(key, intent));
        long created = patient.call("read volume " + intent.name(), () -> store.get(key, VolumeIntent.class))
                .map(Versioned::createRevision).orElseThrow(() -> new Violation("volume " + intent.name()
                        + ": its intent vanished right after it was written"));
        untilVolume("create volume " + intent.name(), intent.name(), (scheduling, placement, status) ->
                VolumeProgress.created(intent.name(), scheduling, created, placement, status));
    }

    void grow(String volume, long size) throws Patient.StuckException, Violation, InterruptedException {
        String key = keys.volume(volume);
        while (true) {
            Versioned<VolumeIntent> current = patient.call("read volume " + volume, () -> store.get(key, VolumeIntent.class))
                    .orElseThrow(() -> new Violation("volume " + volume + ": intent missing before its growth"));
            if (current.value().sizeBytes() >= size || patient.call("grow volume " + volume, () ->
                    store.compareAndPut(key, current.value().withSizeBytes(size), current.modRevision()))) {
                break;
            }
        }
        untilVolume("grow volume " + volume, volume, (scheduling, placement, status) ->
                VolumeProgress.grown(volume, scheduling, placement, status, size));
    }

    /** Attaches the volume to the node that holds it and returns its local device, checked as Ferry's own. */
    Path attach(String volume) throws Patient.StuckException, Violation, InterruptedException {
        Placement placement = patient.until("placement of " + volume, () -> read(keys.placement(volume), Placement.class)
                .<Patient.Look<Placement>>map(Patient.Ready::new).orElse(new Patient.Waiting<>("placement of " + volume)));
        String node = placement.node();
        String hostNqn = patient.until("registration of " + node, () -> read(keys.registration(node), NodeRegistration.class)
                .<Patient.Look<String>>map(r -> new Patient.Ready<>(r.hostNqn()))
                .orElse(new Patient.Waiting<>("the agent of " + node + " to register")));
        String key = keys.attachment(volume, node);
        patient.call("attach " + volume, () -> store.putIfAbsent(key, Attachment.of(volume, node, hostNqn, false, Instant.now())));
        VolumeStatus status = untilVolume("serve volume " + volume + " on " + node, volume, (scheduling, p, s) ->
                VolumeProgress.servedTo(volume, p, s, node, hostNqn, null, null, true));
        PoolConfig pool = read(keys.poolConfig(placement.pool()), PoolConfig.class)
                .orElseThrow(() -> new Violation("volume " + volume + " is placed on pool " + placement.pool() + ", which has no config"));
        String cluster = patient.call("cluster id", () -> ClusterIdentities.read(store)).map(ClusterIdentity::id).orElse(null);
        try {
            return devices.local(volume, pool, status.devicePath(), cluster);
        } catch (HostDevices.UntrustedDeviceException e) {
            throw new Violation("volume " + volume + ": its status names a device Ferry did not make: " + e.getMessage());
        }
    }

    void detach(String volume) throws Patient.StuckException, InterruptedException {
        for (Versioned<Attachment> a : patient.call("attachments of " + volume,
                () -> store.list(keys.attachmentsOf(volume), Attachment.class)).items()) {
            patient.call("detach " + volume, () -> store.delete(a.key()));
        }
    }

    void snapshot(String snapshot, String volume) throws Patient.StuckException, Violation, InterruptedException {
        patient.call("snapshot " + snapshot, () -> store.putIfAbsent(keys.snapshot(snapshot),
                SnapshotIntent.of(snapshot, volume, "chaos", Instant.now())));
        patient.until("snapshot " + snapshot + " of " + volume, () -> {
            SnapshotScheduling s = read(keys.snapshotScheduling(snapshot), SnapshotScheduling.class).orElse(null);
            if (s == null) {
                return new Patient.Waiting<>("the controller to place snapshot " + snapshot);
            }
            if (s.phase() == SchedulingPhase.NO_FIT || s.phase() == SchedulingPhase.INVALID) {
                throw new Violation("snapshot " + snapshot + " refused: " + s.message());
            }
            if (s.node() == null) {
                return new Patient.Waiting<>("the controller to place snapshot " + snapshot + " (now " + s.phase().value() + ")");
            }
            boolean ready = read(keys.snapshotStatus(s.node(), snapshot), SnapshotStatus.class)
                    .map(SnapshotStatus::readyToUse).orElse(false);
            return ready ? new Patient.Ready<>(true) : new Patient.Waiting<>("the agent on " + s.node() + " to cut snapshot " + snapshot);
        });
    }

    /** Asks for the deletion unless asked already and waits until the controller has removed the intent. */
    void deleteVolume(String volume) throws Patient.StuckException, InterruptedException, Violation {
        String key = keys.volume(volume);
        while (true) {
            Optional<Versioned<VolumeIntent>> current = patient.call("read volume " + volume, () -> store.get(key, VolumeIntent.class));
            if (current.isEmpty() || current.get().value().deletionRequested() || patient.call("delete volume " + volume, () ->
                    store.compareAndPut(key, current.get().value().withDeletionRequested(), current.get().modRevision()))) {
                break;
            }
        }
        patient.until("delete volume " + volume, () -> read(key, VolumeIntent.class).isEmpty() ? new Patient.Ready<>(true)
                : new Patient.Waiting<>("the controller to finish deleting volume " + volume + read(keys.volumeScheduling(volume),
                        VolumeScheduling.class).map(s -> " (" + s.phase().value() + (s.message() == null ? "" : ": " + s.message()) + ")")
                        .orElse("")));
    }

    void deleteSnapshot(String snapshot) throws Patient.StuckException, InterruptedException, Violation {
        String key = keys.snapshot(snapshot);
        while (true) {
            Optional<Versioned<SnapshotIntent>> current = patient.call("read snapshot " + snapshot, () -> store.get(key, SnapshotIntent.class));
            if (current.isEmpty() || current.get().value().deletionRequested() || patient.call("delete snapshot " + snapshot, () ->
                    store.compareAndPut(key, current.get().value().withDeletionRequested(), current.get().modRevision()))) {
                break;
            }
        }
        patient.until("delete snapshot " + snapshot, () -> read(key, SnapshotIntent.class).isEmpty() ? new Patient.Ready<>(true)
                : new Patient.Waiting<>("the controller to finish deleting snapshot " + snapshot));
    }

    private interface Evaluation {
        VolumeProgress.Outcome of(VolumeScheduling scheduling, Placement placement, VolumeStatus status);
    }

    /** Waits on {@link VolumeProgress}: done returns the status, a failure it reports is a violation. */
    private VolumeStatus untilVolume(String what, String volume, Evaluation evaluation)
            throws Patient.StuckException, InterruptedException, Violation {
        return patient.until(what, () -> {
            VolumeScheduling scheduling = read(keys.volumeScheduling(volume), VolumeScheduling.class).orElse(null);
            Placement placement = read(keys.placement(volume), Placement.class).orElse(null);
            VolumeStatus status = placement == null ? null
                    : read(keys.volumeStatus(placement.node(), volume), VolumeStatus.class).orElse(null);
            VolumeProgress.Outcome outcome = evaluation.of(scheduling, placement, status);
            if (outcome instanceof VolumeProgress.Failed f && f.reason() == FailureReason.NO_FIT && scheduling != null
                    && NoFitReasons.mayResolveByItself(scheduling)) {
                // Both agents down, or one restarting: the controller places the volume once they are back.
                return new Patient.Waiting<>("a pool to come back: " + f.message());
            }
            if (outcome instanceof VolumeProgress.Failed f) {
                throw new Violation(what + " failed (" + f.reason() + "): " + f.message());
            }
            if (outcome instanceof VolumeProgress.Done d) {
                return new Patient.Ready<>(d.status());
            }
            return new Patient.Waiting<>(((VolumeProgress.InProgress) outcome).waitingFor());
        });
    }

    private <T> Optional<T> read(String key, Class<T> type) throws Patient.StuckException, InterruptedException {
        return patient.call("read " + key, () -> store.get(key, type)).map(Versioned::value);
    }
}
