package io.ferry.csi;

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
 */
final class MirrorKeeper implements AutoCloseable {

    // The node service's log category: operators follow a volume's staging under one name.
    private static final Logger log = LoggerFactory.getLogger(NodeService.class);

    static final Duration INTERVAL = Duration.ofSeconds(5);
    static final Duration FIRST_RETRY = Duration.ofSeconds(30);
    static final Duration MAX_RETRY = Duration.ofMinutes(15);

    private final Mirrors devices;
    private final KeyedLocks locks;
    private final LongSupplier nanoTime;
    private final Map<String, MirrorHealth.State> lastState = new ConcurrentHashMap<>();
    private final Map<String, Retry> retries = new ConcurrentHashMap<>();
    private ScheduledExecutorService executor;

    /** When a leg may be tried again, and how often it was. */
    private record Retry(int attempts, long notBeforeNanos) {
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
                return;
            }
            report(volume, health.get());
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

    @Override
    public synchronized void close() {
        if (executor != null) {
            executor.shutdownNow();
            executor = null;
        }
    }
}
