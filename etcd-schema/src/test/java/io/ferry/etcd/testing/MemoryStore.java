package io.ferry.etcd.testing;

import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.CompactedRevisionException;
import io.ferry.etcd.store.KeyChange;
import io.ferry.etcd.store.LeaseNotFoundException;
import io.ferry.etcd.store.Leadership;
import io.ferry.etcd.store.RawEntry;
import io.ferry.etcd.store.Store;
import io.ferry.etcd.store.StoreWatch;
import io.ferry.etcd.store.Transaction;
import io.ferry.etcd.store.TxnOutcome;
import io.ferry.etcd.store.WatchListener;
import io.ferry.model.Json;
import io.vertx.core.Future;
import io.vertx.core.Promise;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Supplier;

/**
 * An in-memory {@link Store} with etcd's semantics, for fast unit tests of the runtime and the
 * reconcilers: one revision counter for the whole store (every write or successful transaction
 * moves it by one), create and mod revisions and versions per key, compare-and-swap transactions,
 * leases that expire on a manual clock ({@link #advanceTime}), elections, and watches that deliver
 * every revision's changes in order from any revision not yet compacted. {@code StoreContract}
 * holds it to the same tests as {@code EtcdStore} against a real etcd.
 *
 * <p>It lives in the test jar, not in production code: nothing in Ferry may run on it.
 *
 * <p>Operations complete at once, on the calling thread. Watch deliveries and elections won are
 * handed out after the write that caused them, outside the store's lock, in revision order, so a
 * listener may call the store again.
 */
public final class MemoryStore implements Store {

    private record Lease(long id, long ttlSeconds, long expiresAtMillis) {
    }

    private record Watcher(String prefix, WatchListener listener, boolean[] closed) {
    }

    private record Campaign(String election, String key, long leaseId, Promise<Leadership> won) {
    }

    private final FerryKeys keys;
    private final Supplier<Optional<String>> commitHold;
    private final State state;

    /** Everything a store and its {@link #holdingCommitsWhile} views share. */
    private static final class State {
        final TreeMap<String, RawEntry> data = new TreeMap<>();
        final List<List<KeyChange>> history = new ArrayList<>();
        final Map<Long, Lease> leases = new HashMap<>();
        final List<Watcher> watchers = new ArrayList<>();
        final List<Campaign> campaigns = new ArrayList<>();
        final Deque<Runnable> deliveries = new ArrayDeque<>();
        final Object deliveryLock = new Object();
        long revision = 1;
        long compacted;
        long nextLease = 0x7000;
        long nowMillis;
    }

    public MemoryStore(FerryKeys keys) {
        this(keys, Optional::empty, new State());
    }

    private MemoryStore(FerryKeys keys, Supplier<Optional<String>> commitHold, State state) {
        this.keys = keys;
        this.commitHold = commitHold;
        this.state = state;
    }

    @Override
    public FerryKeys keys() {
        return keys;
    }

    @Override
    public Duration requestTimeout() {
        return Duration.ofSeconds(5);
    }

    @Override
    public MemoryStore holdingCommitsWhile(Supplier<Optional<String>> hold) {
        return new MemoryStore(keys, hold, state);
    }

    // ---- the manual clock ----

    /** Moves the store's clock on; leases whose TTL ran out meanwhile expire, deleting their keys. */
    public void advanceTime(Duration by) {
        synchronized (state) {
            state.nowMillis += by.toMillis();
            List<Long> expired = new ArrayList<>();
            for (Lease lease : state.leases.values()) {
                if (lease.expiresAtMillis() <= state.nowMillis) {
                    expired.add(lease.id());
                }
            }
            expired.forEach(this::dropLease);
        }
        deliver();
    }

    // ---- reads ----

    @Override
    public Future<Optional<RawEntry>> getRaw(String key) {
        synchronized (state) {
            return Future.succeededFuture(Optional.ofNullable(state.data.get(key)));
        }
    }

    @Override
    public Future<RawListing> listRaw(String prefix) {
        synchronized (state) {
            return Future.succeededFuture(new RawListing(state.revision, List.copyOf(under(prefix).values())));
        }
    }

    @Override
    public Future<Long> currentRevision() {
        synchronized (state) {
            return Future.succeededFuture(state.revision);
        }
    }

    @Override
    public Future<Long> count(String prefix) {
        synchronized (state) {
            return Future.succeededFuture((long) under(prefix).size());
        }
    }

    private Map<String, RawEntry> under(String prefix) {
        return state.data.subMap(prefix, true, prefix + Character.MAX_VALUE, false);
    }

    // ---- writes ----

    @Override
    public Future<Long> put(String key, Object value, long leaseId) {
        return write(List.of(new Transaction.Put(key, Json.encode(value), leaseId)));
    }

    @Override
    public Future<Long> putRaw(String key, byte[] value) {
        return write(List.of(new Transaction.Put(key, value.clone(), 0)));
    }

    @Override
    public Future<Boolean> delete(String key) {
        boolean existed;
        synchronized (state) {
            existed = state.data.containsKey(key);
        }
        return write(List.of(new Transaction.Delete(key))).map(rev -> existed);
    }

    @Override
    public Future<Long> deletePrefix(String prefix) {
        List<Transaction.Write> deletes = new ArrayList<>();
        synchronized (state) {
            for (String key : under(prefix).keySet()) {
                deletes.add(new Transaction.Delete(key));
            }
        }
        long count = deletes.size();
        return write(deletes).map(rev -> count);
    }

    private Future<Long> write(List<Transaction.Write> writes) {
        Future<TxnOutcome> outcome = send(List.of(), writes, "write");
        return outcome.map(TxnOutcome::revision);
    }

    @Override
    public Transaction txn() {
        return new Transaction(commitHold, this::send);
    }

    private Future<TxnOutcome> send(List<Transaction.Guard> guards, List<Transaction.Write> writes, String what) {
        try {
            synchronized (state) {
                for (Transaction.Write write : writes) {
                    if (write instanceof Transaction.Put put && put.leaseId() != 0 && !state.leases.containsKey(put.leaseId())) {
                        throw new LeaseNotFoundException(put.leaseId());
                    }
                }
                for (Transaction.Guard guard : guards) {
                    if (!holds(guard)) {
                        return Future.succeededFuture(new TxnOutcome(false, state.revision));
                    }
                }
                List<KeyChange> changes = new ArrayList<>();
                long rev = state.revision + 1;
                for (Transaction.Write write : writes) {
                    apply(write, rev, changes);
                }
                if (!changes.isEmpty()) {
                    commitRevision(changes);
                }
                return Future.succeededFuture(new TxnOutcome(true, state.revision));
            }
        } catch (RuntimeException e) {
            return Future.failedFuture(e);
        } finally {
            deliver();
        }
    }

    private boolean holds(Transaction.Guard guard) {
        RawEntry current = state.data.get(guard.key());
        if (guard instanceof Transaction.CreateRevisionIs g) {
            return (current == null ? 0 : current.createRevision()) == g.revision();
        }
        Transaction.ModRevisionIs g = (Transaction.ModRevisionIs) guard;
        return (current == null ? 0 : current.modRevision()) == g.revision();
    }

    private void apply(Transaction.Write write, long rev, List<KeyChange> changes) {
        if (write instanceof Transaction.Put put) {
            RawEntry before = state.data.get(put.key());
            RawEntry after = new RawEntry(put.key(), put.value().clone(), before == null ? rev : before.createRevision(),
                    rev, before == null ? 1 : before.version() + 1, put.leaseId());
            state.data.put(put.key(), after);
            changes.add(new KeyChange(KeyChange.Kind.PUT, after));
        } else if (state.data.remove(write.key()) != null) {
            changes.add(KeyChange.deleted(write.key(), rev));
        }
    }

    /** Makes the changes (already applied to the data) one new revision, and hands them to the watchers. */
    private void commitRevision(List<KeyChange> changes) {
        state.revision++;
        state.history.add(List.copyOf(changes));
        long rev = state.revision;
        for (Watcher watcher : state.watchers) {
            List<KeyChange> seen = matching(changes, watcher.prefix());
            if (!seen.isEmpty()) {
                state.deliveries.add(() -> {
                    if (!watcher.closed()[0]) {
                        watcher.listener().onChanges(rev, seen);
                    }
                });
            }
        }
        settleCampaigns();
    }

    private static List<KeyChange> matching(List<KeyChange> changes, String prefix) {
        List<KeyChange> out = new ArrayList<>();
        for (KeyChange change : changes) {
            if (change.entry().key().startsWith(prefix)) {
                out.add(change);
            }
        }
        return out;
    }

    @Override
    public Future<Void> compact(long revision) {
        synchronized (state) {
            if (revision > state.revision) {
                return Future.failedFuture(new IllegalArgumentException(
                        "required revision " + revision + " is a future revision (current " + state.revision + ")"));
            }
            if (revision <= state.compacted) {
                return Future.failedFuture(new CompactedRevisionException(revision, state.compacted, null));
            }
            state.compacted = revision;
            return Future.succeededFuture();
        }
    }

    // ---- leases ----

    @Override
    public Future<Long> grantLease(Duration ttl) {
        synchronized (state) {
            long id = ++state.nextLease;
            state.leases.put(id, new Lease(id, ttl.toSeconds(), state.nowMillis + ttl.toSeconds() * 1000));
            return Future.succeededFuture(id);
        }
    }

    @Override
    public Future<Long> keepLeaseAliveOnce(long leaseId) {
        synchronized (state) {
            Lease lease = state.leases.get(leaseId);
            if (lease == null) {
                return Future.failedFuture(new LeaseNotFoundException(leaseId));
            }
            state.leases.put(leaseId, new Lease(leaseId, lease.ttlSeconds(), state.nowMillis + lease.ttlSeconds() * 1000));
            return Future.succeededFuture(lease.ttlSeconds());
        }
    }

    @Override
    public Future<Void> revokeLease(long leaseId) {
        try {
            synchronized (state) {
                if (!state.leases.containsKey(leaseId)) {
                    return Future.failedFuture(new LeaseNotFoundException(leaseId));
                }
                dropLease(leaseId);
                return Future.succeededFuture();
            }
        } finally {
            deliver();
        }
    }

    /** Removes a lease and, in one revision, every key bound to it. Call with the lock held. */
    private void dropLease(long leaseId) {
        state.leases.remove(leaseId);
        List<KeyChange> changes = new ArrayList<>();
        long rev = state.revision + 1;
        for (RawEntry entry : List.copyOf(state.data.values())) {
            if (entry.leaseId() == leaseId) {
                apply(new Transaction.Delete(entry.key()), rev, changes);
            }
        }
        if (!changes.isEmpty()) {
            commitRevision(changes);
        }
    }

    // ---- elections: a candidate's key is election/<lease>; the oldest one leads ----

    @Override
    public Future<Leadership> campaign(String election, long leaseId, String candidate) {
        Promise<Leadership> won = Promise.promise();
        String key = election + "/" + Long.toHexString(leaseId);
        try {
            synchronized (state) {
                if (!state.leases.containsKey(leaseId)) {
                    return Future.failedFuture(new LeaseNotFoundException(leaseId));
                }
                if (!state.data.containsKey(key)) {
                    List<KeyChange> changes = new ArrayList<>();
                    apply(new Transaction.Put(key, candidate.getBytes(StandardCharsets.UTF_8), leaseId),
                            state.revision + 1, changes);
                    state.campaigns.add(new Campaign(election, key, leaseId, won));
                    commitRevision(changes);
                } else {
                    state.campaigns.add(new Campaign(election, key, leaseId, won));
                    settleCampaigns();
                }
            }
        } finally {
            deliver();
        }
        return won.future();
    }

    @Override
    public Future<Optional<String>> electionLeader(String election) {
        synchronized (state) {
            return Future.succeededFuture(leaderOf(election)
                    .map(e -> new String(e.value(), StandardCharsets.UTF_8)));
        }
    }

    private Optional<RawEntry> leaderOf(String election) {
        RawEntry oldest = null;
        for (RawEntry entry : under(election + "/").values()) {
            if (oldest == null || entry.createRevision() < oldest.createRevision()) {
                oldest = entry;
            }
        }
        return Optional.ofNullable(oldest);
    }

    /** Completes the campaigns whose key now leads; fails those whose key is gone. Call with the lock held. */
    private void settleCampaigns() {
        for (Iterator<Campaign> it = state.campaigns.iterator(); it.hasNext(); ) {
            Campaign campaign = it.next();
            RawEntry mine = state.data.get(campaign.key());
            if (mine == null) {
                it.remove();
                state.deliveries.add(() -> campaign.won().tryFail(new LeaseNotFoundException(campaign.leaseId())));
                continue;
            }
            Optional<RawEntry> leader = leaderOf(campaign.election());
            if (leader.isPresent() && leader.get().key().equals(campaign.key())) {
                it.remove();
                Leadership leadership = new Leadership(campaign.election(), mine.key(), mine.createRevision(), campaign.leaseId());
                state.deliveries.add(() -> campaign.won().tryComplete(leadership));
            }
        }
    }

    // ---- watches ----

    @Override
    public StoreWatch watch(String prefix, long fromRevision, WatchListener listener) {
        boolean[] closed = {false};
        try {
            synchronized (state) {
                if (fromRevision > 0 && fromRevision < state.compacted) {
                    state.deliveries.add(() -> listener.onError(
                            new CompactedRevisionException(fromRevision, state.compacted, null)));
                    return () -> closed[0] = true;
                }
                // History entry i holds revision i + 2 (the store starts at revision 1 with no changes);
                // revision 0 asks, as in etcd, for changes after the current revision only.
                int first = fromRevision <= 0 ? state.history.size() : (int) Math.max(0, fromRevision - 2);
                for (int i = first; i < state.history.size(); i++) {
                    long rev = i + 2;
                    List<KeyChange> seen = matching(state.history.get(i), prefix);
                    if (!seen.isEmpty()) {
                        state.deliveries.add(() -> {
                            if (!closed[0]) {
                                listener.onChanges(rev, seen);
                            }
                        });
                    }
                }
                Watcher watcher = new Watcher(prefix, listener, closed);
                state.watchers.add(watcher);
                return () -> {
                    closed[0] = true;
                    synchronized (state) {
                        state.watchers.remove(watcher);
                    }
                };
            }
        } finally {
            deliver();
        }
    }

    @Override
    public void requestWatchProgress() {
        synchronized (state) {
            long rev = state.revision;
            for (Watcher watcher : state.watchers) {
                state.deliveries.add(() -> {
                    if (!watcher.closed()[0]) {
                        watcher.listener().onChanges(rev, List.of());
                    }
                });
            }
        }
        deliver();
    }

    /** Hands out queued deliveries in order, outside the store's lock; one caller at a time delivers. */
    private void deliver() {
        synchronized (state.deliveryLock) {
            while (true) {
                Runnable next;
                synchronized (state) {
                    next = state.deliveries.poll();
                }
                if (next == null) {
                    return;
                }
                next.run();
            }
        }
    }

    /** The keys held now, for assertions. */
    public Set<String> keySet() {
        synchronized (state) {
            return new HashSet<>(state.data.keySet());
        }
    }

    @Override
    public String toString() {
        synchronized (state) {
            return "MemoryStore[rev " + state.revision + ", " + state.data.size() + " keys]";
        }
    }
}
