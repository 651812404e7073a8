package io.ferry.agent;

import io.ferry.etcd.store.Store;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.Condition;
import io.ferry.model.OrphanReport;
import io.ferry.model.PoolStatus;
import io.ferry.model.SnapshotStatus;
import io.ferry.model.VolumeStatus;
import io.vertx.core.Future;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * Writes the agent's status keys only when their content changes (timestamps aside), so a resync
 * of 10,000 healthy volumes costs no etcd writes. The agent is the only writer of these keys, so
 * what it last wrote is the truth; the informer caches are only consulted after a restart, when
 * nothing has been written yet.
 */
final class StatusWriter {

    private final Store store;
    private final Map<String, Object> lastWritten = new ConcurrentHashMap<>();
    /** The etcd revision of each of this process's last writes, to tell its own older writes coming back from a change. */
    private final Map<String, Long> writtenRevision = new ConcurrentHashMap<>();
    /**
     * Values being written, per key: the watch may deliver a write before its own answer arrives,
     * and taking it then for somebody else's change re-ran the work, whose next write could again
     * come back first (a failure's attempts climbed by themselves under load).
     */
    private final Map<String, Set<Object>> inFlight = new ConcurrentHashMap<>();

    StatusWriter(Store store) {
        this.store = store;
    }

    Future<Boolean> volume(String key, VolumeStatus desired, Optional<VolumeStatus> stored) {
        List<Condition> before = this.<VolumeStatus>previous(key, stored).map(VolumeStatus::conditions).orElse(List.of());
        VolumeStatus carried = desired.withConditions(Condition.carryTransitions(before, desired.conditions(),
                desired.updatedAt()));
        return write(key, carried, stored, s -> VolumeStatus.of(s.volume(), s.node(), s.pool(), s.phase(), s.devicePath(),
                s.sizeBytes(), s.export(), s.observedGeneration(), s.message(), Instant.EPOCH)
                .withConditions(s.conditions()));
    }

    /** Writes a volume status only where there is none: false when one exists (nothing is overwritten). */
    Future<Boolean> volumeIfAbsent(String key, VolumeStatus desired) {
        return store.putIfAbsent(key, desired).map(written -> {
            if (written) {
                lastWritten.put(key, desired);
            }
            return written;
        });
    }

    Future<Boolean> snapshot(String key, SnapshotStatus desired, Optional<SnapshotStatus> stored) {
        List<Condition> before = this.<SnapshotStatus>previous(key, stored).map(SnapshotStatus::conditions)
                .orElse(List.of());
        return write(key, desired.withConditions(Condition.carryTransitions(before, desired.conditions(),
                Clock.now())), stored, s -> s);
    }

    /**
     * Pool statuses have no informer on the agent: the first write after a start reads the stored one
     * (once), so that the conditions' transition times survive a restart.
     */
    Future<Boolean> pool(String key, PoolStatus desired) {
        Future<Optional<PoolStatus>> stored = lastWritten.containsKey(key) ? Future.succeededFuture(Optional.empty())
                : store.get(key, PoolStatus.class).map(v -> v.map(Versioned::value))
                        .otherwise(Optional.empty());
        return stored.compose(s -> pool(key, desired, s));
    }

    private Future<Boolean> pool(String key, PoolStatus desired, Optional<PoolStatus> stored) {
        List<Condition> before = this.<PoolStatus>previous(key, stored).map(PoolStatus::conditions).orElse(List.of());
        PoolStatus carried = PoolStatus.of(desired.node(), desired.pool(), desired.engine(), desired.capacityBytes(),
                desired.freeBytes(), desired.thinDataPercent(), desired.thinMetadataPercent(),
                Condition.carryTransitions(before, desired.conditions(), desired.observedAt()), desired.healthy(),
                desired.observedAt());
        return write(key, carried, stored, s -> PoolStatus.of(s.node(), s.pool(), s.engine(), s.capacityBytes(),
                s.freeBytes(), s.thinDataPercent(), s.thinMetadataPercent(), s.conditions(), s.healthy(),
                Instant.EPOCH));
    }

    Future<Boolean> orphans(String key, OrphanReport desired) {
        return write(key, desired, Optional.empty(), r -> OrphanReport.of(r.node(), r.orphans(), Instant.EPOCH));
    }

    /**
     * What the key holds as far as this process knows: what it last wrote, else what was stored.
     * Conditions carry their transition times over from it ({@link Condition#carryTransitions}),
     * so that a rewrite on every pass does not make a condition look freshly changed.
     */
    @SuppressWarnings("unchecked")
    private <T> Optional<T> previous(String key, Optional<T> stored) {
        T mine = (T) lastWritten.get(key);
        return mine != null ? Optional.of(mine) : stored;
    }

    /** What this process last wrote under the key, if anything. */
    @SuppressWarnings("unchecked")
    <T> Optional<T> last(String key) {
        return Optional.ofNullable((T) lastWritten.get(key));
    }

    /** Someone else changed the key: what we wrote is no longer what is stored. */
    void forget(String key) {
        lastWritten.remove(key);
        writtenRevision.remove(key);
    }

    /**
     * Whether a value seen under the key at {@code modRevision} is one of this process's own writes
     * older than its last one: the watch delivering it late is no change by anyone else (taking it
     * for one re-ran the work and counted a failure's attempts twice).
     */
    private boolean olderThanMine(String key, long modRevision) {
        return modRevision < writtenRevision.getOrDefault(key, 0L);
    }

    /**
     * Whether a value the watch delivers under the key is this process's own doing: what it last
     * wrote, one of its writes still waiting for an answer, or an older write of its own.
     */
    boolean isMine(String key, Object value, long modRevision) {
        return olderThanMine(key, modRevision) || value.equals(lastWritten.get(key))
                || inFlight.getOrDefault(key, Set.of()).contains(value);
    }

    Future<Boolean> delete(String key) {
        return store.delete(key).onSuccess(d -> {
            lastWritten.remove(key);
            writtenRevision.remove(key);
        });
    }

    @SuppressWarnings("unchecked")
    private <T> Future<Boolean> write(String key, T desired, Optional<T> stored, Function<T, T> withoutTime) {
        T current = (T) lastWritten.get(key);
        if (current == null) {
            current = stored.orElse(null);
        }
        if (current != null && withoutTime.apply(current).equals(withoutTime.apply(desired))) {
            lastWritten.putIfAbsent(key, current);
            return Future.succeededFuture(false);
        }
        inFlight.computeIfAbsent(key, k -> ConcurrentHashMap.newKeySet()).add(desired);
        return store.put(key, desired).map(rev -> {
            lastWritten.put(key, desired);
            writtenRevision.put(key, rev);
            return true;
        }).onComplete(ar -> inFlight.computeIfPresent(key, (k, values) -> {
            values.remove(desired);
            return values.isEmpty() ? null : values;
        }));
    }
}
