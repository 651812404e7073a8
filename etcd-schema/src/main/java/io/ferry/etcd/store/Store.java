package io.ferry.etcd.store;

import io.etcd.jetcd.lease.NoSuchLeaseException;
import io.ferry.etcd.FerryKeys;
import io.ferry.model.Json;
import io.ferry.model.KeyNamed;
import io.ferry.model.ValidationException;
import io.vertx.core.Future;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * Ferry's keys as the runtime and the reconcilers read and write them: revisions, compare-and-swap
 * transactions, leases, elections and watches. {@link EtcdStore} is the real one; tests may use an
 * in-memory one with the same semantics (held by a contract test run against both).
 *
 * <p>Every operation is asynchronous. A failed future means the store could not be reached or
 * refused the request; the outcome of a write that failed that way is unknown, and callers re-read.
 */
public interface Store {

    /** Raw entries under a prefix, sorted by key, and the revision they were all read at. */
    record RawListing(long revision, List<RawEntry> entries) {
        public RawListing {
            entries = List.copyOf(entries);
        }
    }

    FerryKeys keys();

    /** How long one request may take before it is reported as unanswered. */
    Duration requestTimeout();

    // ---- reads ----

    Future<Optional<RawEntry>> getRaw(String key);

    default <T> Future<Optional<Versioned<T>>> get(String key, Class<T> type) {
        return getRaw(key).map(raw -> raw.map(r -> decode(r, type)));
    }

    /** Every key under the prefix at one consistent revision. */
    Future<RawListing> listRaw(String prefix);

    /**
     * Exactly one key (no entry when it does not exist) and the revision it was read at: what a
     * follower of one key lists. etcd refuses a range read to a role granted only the key itself,
     * so {@link EtcdStore} reads the key alone; a store without access control may list the key as
     * a prefix and keep the exact match.
     */
    default Future<RawListing> listKeyRaw(String key) {
        return listRaw(key).map(listing -> new RawListing(listing.revision(),
                listing.entries().stream().filter(e -> e.key().equals(key)).toList()));
    }

    /** Lists every key under the prefix at one consistent revision, decoding each value. */
    default <T> Future<Listing<T>> list(String prefix, Class<T> type) {
        return listRaw(prefix).map(page -> {
            List<Versioned<T>> items = new ArrayList<>(page.entries().size());
            List<BadValueException> bad = new ArrayList<>();
            for (RawEntry entry : page.entries()) {
                try {
                    items.add(decode(entry, type));
                } catch (BadValueException e) {
                    bad.add(e);
                }
            }
            return new Listing<>(page.revision(), items, bad);
        });
    }

    /** The store's current revision, without reading any value. */
    Future<Long> currentRevision();

    /** Number of keys under a prefix. */
    Future<Long> count(String prefix);

    // ---- writes ----

    /** Unconditional write bound to a lease (0 for none); returns the revision it was written at. */
    Future<Long> put(String key, Object value, long leaseId);

    /** Unconditional write; use only for keys this caller alone writes. */
    default Future<Long> put(String key, Object value) {
        return put(key, value, 0);
    }

    /** Writes raw bytes; only for tools and tests that must store what a careless operator would. */
    Future<Long> putRaw(String key, byte[] value);

    /** Deletes one key; true when it existed. */
    Future<Boolean> delete(String key);

    /** Deletes every key under a prefix; returns how many were deleted. */
    Future<Long> deletePrefix(String prefix);

    /** Starts a multi-key transaction: guards, then writes applied atomically when all guards hold. */
    Transaction txn();

    /**
     * Writes only if the key's mod revision is still {@code expectedModRevision} (0: only if absent).
     * Returns false, without writing, when somebody else changed it first.
     */
    default Future<Boolean> compareAndPut(String key, Object value, long expectedModRevision) {
        return txn().requireModRevision(key, expectedModRevision).put(key, value).commit().map(TxnOutcome::succeeded);
    }

    /** Creates the key only if it does not exist; false when it already did. */
    default Future<Boolean> putIfAbsent(String key, Object value) {
        return compareAndPut(key, value, 0);
    }

    /** Deletes only if the key's mod revision is still {@code expectedModRevision}. */
    default Future<Boolean> compareAndDelete(String key, long expectedModRevision) {
        return txn().requireModRevision(key, expectedModRevision).delete(key).commit().map(TxnOutcome::succeeded);
    }

    /** Compacts history before a revision; a watch asked to start below it fails with {@link CompactedRevisionException}. */
    Future<Void> compact(long revision);

    /**
     * A view of this store whose transactions are sent only while {@code hold} answers empty (see
     * {@link EtcdStore#holdingCommitsWhile}); reads and unconditional writes are not held.
     */
    Store holdingCommitsWhile(Supplier<Optional<String>> hold);

    // ---- leases and elections ----

    /** Grants a lease of the given TTL (whole seconds); returns its id. */
    Future<Long> grantLease(Duration ttl);

    /**
     * Renews a lease once; returns the TTL granted, in seconds. A TTL of 0 or less, or a failure for
     * which {@link #isNoSuchLease} holds, means the lease no longer exists.
     */
    Future<Long> keepLeaseAliveOnce(long leaseId);

    /** Revokes a lease: every key bound to it is deleted at once. */
    Future<Void> revokeLease(long leaseId);

    /**
     * Campaigns in an election on a lease; completes once this candidate leads, with the election
     * key it won. Not bounded by the request timeout.
     */
    Future<Leadership> campaign(String election, long leaseId, String candidate);

    /** The candidate value of the election's current leader; empty when nobody leads. */
    Future<Optional<String>> electionLeader(String election);

    // ---- watches ----

    /**
     * Watches every key under a prefix from a revision on: the listener hears each revision's
     * changes in order, once, from {@code fromRevision} (inclusive). A revision already compacted
     * is reported through {@link WatchListener#onError} with a {@link CompactedRevisionException}.
     * Listener calls come from the store's own threads; hand them to your context.
     */
    StoreWatch watch(String prefix, long fromRevision, WatchListener listener);

    /**
     * Watches exactly one key, as {@link #watch} watches a prefix ({@code node-1} never hears of
     * {@code node-10}). The default watches the key as a prefix and drops the other keys' changes,
     * which only a store without access control may do: etcd refuses a range watch to a role granted
     * the one key, so {@link EtcdStore} watches the key alone.
     */
    default StoreWatch watchKey(String key, long fromRevision, WatchListener listener) {
        return watch(key, fromRevision, new WatchListener() {
            @Override
            public void onChanges(long revision, List<KeyChange> changes) {
                listener.onChanges(revision, changes.stream().filter(c -> c.entry().key().equals(key)).toList());
            }

            @Override
            public void onError(Throwable error) {
                listener.onError(error);
            }

            @Override
            public void onCompleted() {
                listener.onCompleted();
            }
        });
    }

    /**
     * Asks every open watch to answer, even with no change, so a silent stream can be told from a
     * dead one. Best effort: an answer is not promised.
     */
    void requestWatchProgress();

    // ---- shared rules ----

    /**
     * Decodes a raw entry: the one place where a stored value becomes a model value. A value that
     * names itself ({@link KeyNamed}) must carry the same names as the key it was read from.
     */
    default <T> Versioned<T> decode(RawEntry entry, Class<T> type) {
        try {
            T value = Json.decode(entry.value(), type);
            if (value instanceof KeyNamed named) {
                keys().parse(entry.key()).ifPresent(ref -> {
                    if (!ref.names().equals(named.keyNames())) {
                        throw new ValidationException("the value names " + String.join("/", named.keyNames())
                                + " but its key names " + String.join("/", ref.names())
                                + "; was it pasted under the wrong key?");
                    }
                });
            }
            return new Versioned<>(entry.key(), value, entry.createRevision(), entry.modRevision(), entry.version(),
                    entry.leaseId());
        } catch (ValidationException e) {
            throw new BadValueException(entry.key(), e);
        }
    }

    /** True when the store answered that the lease a request named does not exist (expired or revoked). */
    static boolean isNoSuchLease(Throwable err) {
        for (Throwable t = err; t != null; t = t.getCause()) {
            if (t instanceof LeaseNotFoundException
                    || t instanceof NoSuchLeaseException
                    || String.valueOf(t.getMessage()).contains("requested lease not found")) {
                return true;
            }
        }
        return false;
    }
}
