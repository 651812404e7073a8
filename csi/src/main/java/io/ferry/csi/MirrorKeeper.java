package io.ferry.csi;

import io.ferry.model.MirrorReport;
import io.ferry.model.PartNames;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import java.util.function.Predicate;

/**
 * The node plugin's loop over the mirrors assembled on its node, without any CSI call: it reports
 * each mirror's health when it changes, and gives a mirror back a leg that md dropped once the leg's
 * device is here again (its node back, its NVMe controller reconnected), so that the write-intent
 * bitmap resyncs only what changed meanwhile. A leg that keeps failing is retried less and less
 * often ({@link #FIRST_RETRY}, doubling up to {@link #MAX_RETRY}), so a broken disk does not make md
 * rebuild in a loop. A volume being staged or unstaged is skipped until the next round.
 *
 * <p>It also writes each mirror's {@link MirrorReport} to etcd, which the controller reads to finish
 * a leg's move: when what md says of the legs changes, and while a sync runs, as its progress moves
 * (at most every {@link #PROGRESS_REPORT_INTERVAL}). A report etcd did not take is written again in
 * the next round; a mirror no longer assembled here has its report withdrawn.
 */
final class MirrorKeeper implements AutoCloseable {

    // The node service's log category: operators follow a volume's staging under one name.
    private static final Logger log = LoggerFactory.getLogger(NodeService.class);

    static final Duration INTERVAL = Duration.ofSeconds(5);
    static final Duration FIRST_RETRY = Duration.ofSeconds(30);
    static final Duration MAX_RETRY = Duration.ofMinutes(15);
    static final Duration PROGRESS_REPORT_INTERVAL = Duration.ofSeconds(10);

    private final Mirrors devices;
    private final KeyedLocks locks;
    private final LongSupplier nanoTime;
    private final Map<String, MirrorHealth.State> lastState = new ConcurrentHashMap<>();
    private final Map<String, Retry> retries = new ConcurrentHashMap<>();
    private final Map<String, Written> reports = new ConcurrentHashMap<>();
    // Reports to remove whose removal etcd has not confirmed; cleared when the volume is staged again.
    private final Set<String> withdrawals = ConcurrentHashMap.newKeySet();
    private ScheduledExecutorService executor;

    /** When a leg may be tried again, and how often it was. */
    private record Retry(int attempts, long notBeforeNanos) {
    }

    /** The last report etcd took for a volume, and when. */
    private record Written(MirrorReport report, long atNanos) {
    }

    /** What the keeper needs of the node's devices: {@link VolumeDevices}, a stand-in in unit tests. */
    interface Mirrors {
        /** The mirrors assembled on this node. */
        Set<String> stagedMirrors();

        /** Stops looking after a volume whose array is no longer running here. */
        void forgetMirror(String volume);

        Optional<MirrorHealth> mirrorHealth(String volume);

        /** Gives back the legs {@code health} shows dropped, those {@code mayTry} allows. */
        List<MirrorArrays.Repair> repairMirror(String volume, MirrorHealth health, Predicate<String> mayTry);

        /** Keeps the last leg in sync from failing fast (see {@link VolumeDevices#holdLastLeg}). */
        void holdLastLeg(String volume, MirrorHealth health);

        /** This node's report of the mirror {@code health} was read from; empty when it has no parts record. */
        Optional<MirrorReport> mirrorReport(String volume, MirrorHealth health);

        /** Writes the report to etcd; throws when etcd did not take it. */
        void writeReport(MirrorReport report);

        /** Removes this node's report of the volume from etcd; throws when etcd did not confirm it. */
        void withdrawReport(String volume);
    }

    MirrorKeeper(Mirrors devices, KeyedLocks locks) {
        this(devices, locks, System::nanoTime);
    }

    MirrorKeeper(Mirrors devices, KeyedLocks locks, LongSupplier nanoTime) {
        this.devices = devices;
        this.locks = locks;
        this.nanoTime = nanoTime;
    }

    /** Looks at every mirror each {@code interval}; a zero interval starts nothing. */
    synchronized MirrorKeeper start(Duration interval) {
        if (executor == null && !interval.isZero()) {
            executor = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread thread = new Thread(r, "mirror-keeper");
                thread.setDaemon(true);
                return thread;
            });
            executor.scheduleWithFixedDelay(this::checkAll, interval.toMillis(), interval.toMillis(), TimeUnit.MILLISECONDS);
        }
        return this;
    }

    void checkAll() {
        try {
            Set<String> staged = devices.stagedMirrors();
            lastState.keySet().retainAll(staged);
            reports.keySet().retainAll(staged);
            withdrawals.removeAll(staged);
            for (String volume : Set.copyOf(withdrawals)) {
                withdraw(volume);
            }
            retries.keySet().removeIf(part -> PartNames.parse(part).map(p -> !staged.contains(p.volume())).orElse(true));
            for (String volume : staged) {
                try {
                    check(volume);
                } catch (RuntimeException e) {
                    log.warn("volume {}: checking its mirror failed (tried again in the next round): {}", volume,
                            e.toString());
                }
            }
        } catch (Throwable e) {
            // Anything escaping would end the scheduled task for good, with nothing said.
            log.error("checking the mirrors of this node failed (tried again in the next round)", e);
        }
    }

    void check(String volume) {
        Optional<KeyedLocks.Held> held = locks.tryLock("volume:" + volume);
        if (held.isEmpty()) {
            return;
        }
        try (KeyedLocks.Held ignored = held.get()) {
            Optional<MirrorHealth> health = devices.mirrorHealth(volume);
            if (health.isEmpty()) {
                // Unstaged (perhaps re-added by a stats call that raced the unstage): nothing to look after.
                lastState.remove(volume);
                devices.forgetMirror(volume);
                reports.remove(volume);
                withdrawals.add(volume);
                withdraw(volume);
                return;
            }
            report(volume, health.get());
            publish(volume, health.get());
            devices.holdLastLeg(volume, health.get());
            for (MirrorHealth.Leg leg : health.get().legs()) {
                if (leg.state() == MirrorHealth.LegState.IN_SYNC) {
                    retries.remove(leg.part());
                }
            }
            for (MirrorArrays.Repair repair : devices.repairMirror(volume, health.get(), this::mayTry)) {
                if (repair.attempted()) {
                    Retry before = retries.get(repair.part());
                    int attempts = before == null ? 1 : before.attempts() + 1;
                    long wait = Math.min(MAX_RETRY.toNanos(), FIRST_RETRY.toNanos() << Math.min(attempts - 1, 20));
                    retries.put(repair.part(), new Retry(attempts, nanoTime.getAsLong() + wait));
                    log.info("volume {}: {}", volume, repair.what());
                } else {
                    log.debug("volume {}: {}", volume, repair.what());
                }
            }
        }
    }

    private boolean mayTry(String part) {
        Retry retry = retries.get(part);
        return retry == null || nanoTime.getAsLong() - retry.notBeforeNanos() >= 0;
    }

    private void report(String volume, MirrorHealth health) {
        MirrorHealth.State state = health.state();
        if (lastState.put(volume, state) != state) {
            if (health.abnormal()) {
                log.warn("volume {}: {}", volume, health.message());
            } else {
                log.info("volume {}: {}", volume, health.message());
            }
        }
    }

    /**
     * Writes the mirror's report when it says something the last one etcd took did not, or when a
     * sync's progress moved and the last write is {@link #PROGRESS_REPORT_INTERVAL} old.
     */
    private void publish(String volume, MirrorHealth health) {
        try {
            Optional<MirrorReport> report = devices.mirrorReport(volume, health);
            if (report.isEmpty()) {
                return;
            }
            Written last = reports.get(volume);
            long now = nanoTime.getAsLong();
            boolean due = last == null || !report.get().sameLegs(last.report())
                    || report.get().syncPercent() >= 0 && report.get().syncPercent() != last.report().syncPercent()
                    && now - last.atNanos() >= PROGRESS_REPORT_INTERVAL.toNanos();
            if (due) {
                devices.writeReport(report.get());
                reports.put(volume, new Written(report.get(), now));
            }
        } catch (RuntimeException e) {
            // Only the report is missed: the legs are still looked after in this round.
            log.warn("volume {}: its mirror report could not be written (tried again in the next round): {}", volume,
                    e.toString());
        }
    }

    /**
     * Stops looking after a mirror unstaged from this node (its array stopped) and removes its report,
     * now or, when etcd does not confirm it, in the following rounds unless it is staged again. The
     * caller holds the volume's lock, so no round writes a report of it meanwhile.
     */
    void forget(String volume) {
        devices.forgetMirror(volume);
        lastState.remove(volume);
        reports.remove(volume);
        withdrawals.add(volume);
        withdraw(volume);
    }

    private void withdraw(String volume) {
        try {
            devices.withdrawReport(volume);
            withdrawals.remove(volume);
        } catch (RuntimeException e) {
            log.warn("volume {}: its mirror report could not be removed (tried again in the next round): {}", volume,
                    e.toString());
        }
    }

    @Override
    public synchronized void close() {
        if (executor != null) {
            executor.shutdownNow();
            executor = null;
        }
    }
}
