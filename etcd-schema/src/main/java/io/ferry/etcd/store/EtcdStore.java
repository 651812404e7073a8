package io.ferry.etcd.store;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.election.LeaderKey;
import io.etcd.jetcd.election.NoLeaderException;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.lease.NoSuchLeaseException;
import io.etcd.jetcd.options.DeleteOption;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.PutOption;
import io.ferry.etcd.EtcdClients;
import io.ferry.etcd.EtcdOptions;
import io.ferry.etcd.FerryKeys;
import io.ferry.model.Json;
import io.ferry.model.KeyNamed;
import io.ferry.model.ValidationException;
import io.grpc.Status;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/**
 * Typed access to Ferry's keys: the one way every component reads and writes etcd.
 *
 * <p>Values are encoded and decoded with {@link Json}; a stored value that fails to decode is
 * reported as a {@link BadValueException} naming the key. All operations are asynchronous and
 * bounded by the request timeout; when called on a Vert.x context, completions come back on that
 * context. Thread-safe.
 */
public final class EtcdStore implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(EtcdStore.class);

    /** Most keys in one listing page: keeps single responses small even with 100,000 placements. */
    static final int LIST_PAGE = 2000;

    /**
     * Bytes a listing page aims at once the values' size is known: a few MiB keeps each response
     * well inside {@link EtcdClients#MAX_INBOUND_BYTES} even when values vary in size.
     */
    static final long LIST_PAGE_TARGET_BYTES = 8L << 20;

    private final Client client;
    private final FerryKeys keys;
    private final Duration requestTimeout;
    private final boolean ownsClient;
    /** Why transactions are held back right now (empty: they are sent); see {@link #holdingCommitsWhile}. */
    private final Supplier<Optional<String>> commitHold;

    public EtcdStore(Client client, FerryKeys keys, Duration requestTimeout) {
        this(client, keys, requestTimeout, false, Optional::empty);
    }

    private EtcdStore(Client client, FerryKeys keys, Duration requestTimeout, boolean ownsClient,
                      Supplier<Optional<String>> commitHold) {
        this.client = client;
        this.keys = keys;
        this.requestTimeout = requestTimeout;
        this.ownsClient = ownsClient;
        this.commitHold = commitHold;
    }

    /** Opens a client from the options; {@link #close()} closes it. */
    public static EtcdStore connect(EtcdOptions options) {
        return new EtcdStore(EtcdClients.create(options), options.keys(), options.requestTimeout(), true, Optional::empty);
    }

    /**
     * A view of this store (same client; closing it closes nothing) whose transactions are sent only
     * while {@code hold} answers empty. Otherwise {@link Transaction#commit()} fails at once with a
     * {@link CommitHeldException} carrying the answer, and nothing reaches etcd. For an owner that
     * must be sure no write decided on a view it no longer trusts can land, even one decided before
     * it stopped trusting it: the check is made as each transaction is sent. Reads, and the
     * unconditional writes ({@link #put}, {@link #delete}), are not held.
     *
     * @param hold asked on the thread that commits; must be quick
     */
    public EtcdStore holdingCommitsWhile(Supplier<Optional<String>> hold) {
        return new EtcdStore(client, keys, requestTimeout, false, hold);
    }

    /** Why this store's transactions are held back now, if they are. */
    Optional<String> commitHeld() {
        return commitHold.get();
    }

    /**
     * Opens a client and makes its first request at once, on the calling thread, which must not be
     * an event loop. The first request builds the gRPC channel and loads some thousand classes
     * (gRPC, Netty, protobuf, the retry library): 10-20 s under an emulated CPU. Requests start on
     * their caller's thread (see {@link EtcdClients}), so without this the first one would block
     * whichever event loop made it, long enough for an agent's lease to expire before it
     * registered. The answer itself does not matter: an unreachable etcd is retried by the
     * component's own start-up, so a failure here is only logged.
     *
     * <p>The lease calls are warmed the same way (a throw-away lease granted, kept alive once and
     * revoked): in the testbed an agent's first keep-alive, loading its classes on the event loop,
     * reached etcd only after the first lease had expired, and the node's registration vanished
     * seconds after it was written.
     */
    public static EtcdStore connectAndWarmUp(EtcdOptions options) {
        if (Context.isOnEventLoopThread()) {
            throw new IllegalStateException("connectAndWarmUp blocks; call it from a worker or the main thread");
        }
        EtcdStore store = connect(options);
        try {
            store.currentRevision().toCompletionStage().toCompletableFuture()
                    .get(options.requestTimeout().toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            log.info("etcd did not answer the first request yet ({}); carrying on", e.toString());
            return store;
        }
        long timeout = options.requestTimeout().toMillis();
        var leases = store.client().getLeaseClient();
        try {
            long lease = leases.grant(10).get(timeout, TimeUnit.MILLISECONDS).getID();
            try {
                leases.keepAliveOnce(lease).get(timeout, TimeUnit.MILLISECONDS);
            } finally {
                leases.revoke(lease).get(timeout, TimeUnit.MILLISECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            log.info("warming up etcd's lease calls failed ({}); carrying on", e.toString());
        }
        return store;
    }

    public FerryKeys keys() {
        return keys;
    }

    public Client client() {
        return client;
    }

    public Duration requestTimeout() {
        return requestTimeout;
    }

    // ---- reads ----

    public <T> Future<Optional<Versioned<T>>> get(String key, Class<T> type) {
        return getRaw(key).map(raw -> raw.map(r -> decode(r, type)));
    }

    public Future<Optional<RawEntry>> getRaw(String key) {
        return call(client.getKVClient().get(bytes(key)), "get " + key)
                .map(resp -> resp.getKvs().isEmpty() ? Optional.empty() : Optional.of(raw(resp.getKvs().get(0))));
    }

    /** Lists every key under the prefix at one consistent revision, decoding each value. */
    public <T> Future<Listing<T>> list(String prefix, Class<T> type) {
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

    /** Raw entries under a prefix and the revision they were all read at. */
    public record RawListing(long revision, List<RawEntry> entries) {
    }

    /**
     * Lists in pages pinned to the first page's revision, so the result is one snapshot even when
     * writers are busy, without asking etcd for one unbounded response.
     *
     * <p>Pages are bounded by bytes as well as keys. etcd can only limit a range by key count, so the
     * first page asks for {@link #LIST_PAGE} keys (small values, the usual case, list in one or few
     * round trips); each later page is sized from the bytes per key seen so far to about
     * {@link #LIST_PAGE_TARGET_BYTES}; and a page the client refuses as too large is asked again,
     * from the same key at the same revision, for half as many keys. Only a single value larger
     * than the client's inbound limit fails the listing, naming the key it starts from.
     */
    public Future<RawListing> listRaw(String prefix) {
        List<RawEntry> acc = new ArrayList<>();
        return listPage(prefix, bytes(prefix), 0, LIST_PAGE, acc).map(rev -> new RawListing(rev, acc));
    }

    private Future<Long> listPage(String prefix, ByteSequence from, long revision, int limit, List<RawEntry> acc) {
        GetOption.Builder opt = GetOption.builder()
                .withRange(rangeEnd(prefix))
                .withLimit(limit)
                .withSortField(GetOption.SortTarget.KEY)
                .withSortOrder(GetOption.SortOrder.ASCEND);
        if (revision > 0) {
            opt.withRevision(revision);
        }
        return call(client.getKVClient().get(from, opt.build()), "list " + prefix).compose(resp -> {
            long rev = revision > 0 ? revision : resp.getHeader().getRevision();
            List<KeyValue> kvs = resp.getKvs();
            long pageBytes = 0;
            for (KeyValue kv : kvs) {
                acc.add(raw(kv));
                pageBytes += kv.getKey().size() + kv.getValue().size();
            }
            if (!resp.isMore() || kvs.isEmpty()) {
                return Future.succeededFuture(rev);
            }
            // Continue right after the last key of this page: the key plus a zero byte.
            byte[] last = kvs.get(kvs.size() - 1).getKey().getBytes();
            byte[] next = new byte[last.length + 1];
            System.arraycopy(last, 0, next, 0, last.length);
            return listPage(prefix, ByteSequence.from(next), rev, nextPageLimit(kvs.size(), pageBytes), acc);
        }, err -> {
            if (!responseTooLarge(err)) {
                return Future.failedFuture(err);
            }
            if (limit == 1) {
                return Future.failedFuture(new EtcdUnavailableException("etcd request 'list " + prefix + "' failed:"
                        + " the first value from key " + from.toString(StandardCharsets.UTF_8) + " on is larger than"
                        + " the client accepts (" + EtcdClients.MAX_INBOUND_BYTES + " bytes)", err));
            }
            log.debug("listing {}: a page of {} keys from {} is too large, asking for {}", prefix, limit,
                    from.toString(StandardCharsets.UTF_8), limit / 2);
            return listPage(prefix, from, revision, limit / 2, acc);
        });
    }

    static int nextPageLimit(int keys, long bytes) {
        long perKey = Math.max(1, bytes / Math.max(1, keys));
        return (int) Math.max(1, Math.min(LIST_PAGE, LIST_PAGE_TARGET_BYTES / perKey));
    }

    /** The client refused a response over its inbound limit (not etcd refusing the request). */
    static boolean responseTooLarge(Throwable err) {
        Status status = Status.fromThrowable(err);
        return status.getCode() == Status.Code.RESOURCE_EXHAUSTED && status.getDescription() != null
                && status.getDescription().contains("exceeds maximum size");
    }

    /** The cluster's current revision, without reading any value. */
    public Future<Long> currentRevision() {
        GetOption opt = GetOption.builder().withCountOnly(true).build();
        return call(client.getKVClient().get(bytes(keys.globalConfig()), opt), "read revision")
                .map(resp -> resp.getHeader().getRevision());
    }

    /** Number of keys under a prefix, without transferring them. */
    public Future<Long> count(String prefix) {
        GetOption opt = GetOption.builder().withRange(rangeEnd(prefix)).withCountOnly(true).build();
        return call(client.getKVClient().get(bytes(prefix), opt), "count " + prefix).map(GetResponse::getCount);
    }

    // ---- writes ----

    /** Unconditional write; returns the revision it was written at. Use only for keys this caller alone writes. */
    public Future<Long> put(String key, Object value) {
        return put(key, value, 0);
    }

    /** Unconditional write bound to a lease (0 for none): the key disappears when the lease expires. */
    public Future<Long> put(String key, Object value, long leaseId) {
        byte[] encoded = Json.encode(value);
        PutOption opt = leaseId == 0 ? PutOption.DEFAULT : PutOption.builder().withLeaseId(leaseId).build();
        return call(client.getKVClient().put(bytes(key), ByteSequence.from(encoded), opt), "put " + key)
                .map(resp -> resp.getHeader().getRevision());
    }

    /** Writes raw bytes; only for tools and tests that must store what a careless operator would. */
    public Future<Long> putRaw(String key, byte[] value) {
        return call(client.getKVClient().put(bytes(key), ByteSequence.from(value)), "put " + key)
                .map(resp -> resp.getHeader().getRevision());
    }

    /** Deletes one key; true when it existed. Deleting a missing key succeeds (idempotent). */
    public Future<Boolean> delete(String key) {
        return call(client.getKVClient().delete(bytes(key)), "delete " + key).map(resp -> resp.getDeleted() > 0);
    }

    /** Deletes every key under a prefix; returns how many were deleted. */
    public Future<Long> deletePrefix(String prefix) {
        DeleteOption opt = DeleteOption.builder().withRange(rangeEnd(prefix)).build();
        return call(client.getKVClient().delete(bytes(prefix), opt), "delete " + prefix + "*")
                .map(resp -> resp.getDeleted());
    }

    /**
     * Writes only if the key's mod revision is still {@code expectedModRevision} (0: only if absent).
     * Returns false, without writing, when somebody else changed it first.
     */
    public Future<Boolean> compareAndPut(String key, Object value, long expectedModRevision) {
        return txn().requireModRevision(key, expectedModRevision).put(key, value).commit().map(TxnOutcome::succeeded);
    }

    /** Creates the key only if it does not exist; false when it already did. */
    public Future<Boolean> putIfAbsent(String key, Object value) {
        return compareAndPut(key, value, 0);
    }

    /** Deletes only if the key's mod revision is still {@code expectedModRevision}. */
    public Future<Boolean> compareAndDelete(String key, long expectedModRevision) {
        return txn().requireModRevision(key, expectedModRevision).delete(key).commit().map(TxnOutcome::succeeded);
    }

    /** Starts a multi-key transaction: guards, then writes applied atomically when all guards hold. */
    public Transaction txn() {
        return new Transaction(this);
    }

    /** Compacts history up to a revision; watches older than that must re-list. */
    public Future<Void> compact(long revision) {
        return call(client.getKVClient().compact(revision), "compact").mapEmpty();
    }

    // ---- leases and elections: the primitives the runtime's LeaseSession and LeaderElection build on ----

    /** Grants a lease of the given TTL (whole seconds); returns its id. */
    public Future<Long> grantLease(Duration ttl) {
        return call(client.getLeaseClient().grant(ttl.toSeconds()), "grant lease").map(resp -> resp.getID());
    }

    /**
     * Renews a lease once (a single request, not jetcd's keep-alive stream); returns the TTL etcd
     * granted, in seconds. A TTL of 0 or less, or a failure for which {@link #isNoSuchLease} holds,
     * means etcd no longer knows the lease.
     */
    public Future<Long> keepLeaseAliveOnce(long leaseId) {
        return call(client.getLeaseClient().keepAliveOnce(leaseId), "keep lease alive").map(resp -> resp.getTTL());
    }

    /** Revokes a lease: every key bound to it is deleted at once. */
    public Future<Void> revokeLease(long leaseId) {
        return call(client.getLeaseClient().revoke(leaseId), "revoke lease").mapEmpty();
    }

    /** True when etcd answered that the lease a request named does not exist (expired or revoked). */
    public static boolean isNoSuchLease(Throwable err) {
        for (Throwable t = err; t != null; t = t.getCause()) {
            if (t instanceof NoSuchLeaseException || String.valueOf(t.getMessage()).contains("requested lease not found")) {
                return true;
            }
        }
        return false;
    }

    /**
     * Campaigns in etcd's election {@code election} on a lease, as {@code candidate}; completes once
     * elected, with the election key won. Not bounded by the request timeout: etcd answers only when
     * this candidate leads, which may be never.
     */
    public Future<Leadership> campaign(String election, long leaseId, String candidate) {
        Context context = Vertx.currentContext();
        CompletableFuture<Leadership> won = client.getElectionClient()
                .campaign(bytes(election), leaseId, bytes(candidate))
                .thenApply(resp -> {
                    LeaderKey key = resp.getLeader();
                    return new Leadership(election, key.getKey().toString(StandardCharsets.UTF_8), key.getRevision(),
                            key.getLease());
                });
        return context == null ? Future.fromCompletionStage(won) : Future.fromCompletionStage(won, context);
    }

    /** The candidate value of the election's current leader; empty when nobody leads. */
    public Future<Optional<String>> electionLeader(String election) {
        return call(client.getElectionClient().leader(bytes(election)), "read leader of " + election)
                .map(resp -> Optional.of(resp.getKv().getValue().toString(StandardCharsets.UTF_8)))
                .recover(err -> causedBy(err, NoLeaderException.class)
                        ? Future.succeededFuture(Optional.empty())
                        : Future.failedFuture(err));
    }

    // ---- plumbing shared with Transaction ----

    /**
     * Adapts a jetcd future to a Vert.x future on the caller's context, bounded by the request
     * timeout, with failures that say which operation did not complete.
     */
    <R> Future<R> call(CompletableFuture<R> pending, String what) {
        Context context = Vertx.currentContext();
        // Completed directly (not through a dependent stage) so that callers see our exception itself,
        // not a CompletionException around it.
        CompletableFuture<R> outcome = new CompletableFuture<>();
        pending.orTimeout(requestTimeout.toMillis(), TimeUnit.MILLISECONDS).whenComplete((value, err) -> {
            if (err == null) {
                outcome.complete(value);
            } else {
                outcome.completeExceptionally(describe(err, what));
            }
        });
        return context == null ? Future.fromCompletionStage(outcome) : Future.fromCompletionStage(outcome, context);
    }

    private Throwable describe(Throwable err, String what) {
        Throwable cause = err;
        while (cause instanceof CompletionException && cause.getCause() != null) {
            cause = cause.getCause();
        }
        if (cause instanceof TimeoutException) {
            return new EtcdUnavailableException("etcd did not answer '" + what + "' within " + requestTimeout.toMillis() + " ms", cause);
        }
        String detail = cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
        return new EtcdUnavailableException("etcd request '" + what + "' failed: " + detail, cause);
    }

    /** True when the error or any of its causes is of the given type. */
    public static boolean causedBy(Throwable error, Class<? extends Throwable> type) {
        for (Throwable t = error; t != null; t = t.getCause()) {
            if (type.isInstance(t)) {
                return true;
            }
        }
        return false;
    }

    static ByteSequence bytes(String s) {
        return ByteSequence.from(s, StandardCharsets.UTF_8);
    }

    static ByteSequence rangeEnd(String prefix) {
        byte[] b = prefix.getBytes(StandardCharsets.UTF_8);
        byte[] end = b.clone();
        for (int i = end.length - 1; i >= 0; i--) {
            if (end[i] != (byte) 0xff) {
                end[i]++;
                return ByteSequence.from(java.util.Arrays.copyOf(end, i + 1));
            }
        }
        return ByteSequence.from(new byte[] {0});
    }

    static RawEntry raw(KeyValue kv) {
        return new RawEntry(kv.getKey().toString(StandardCharsets.UTF_8), kv.getValue().getBytes(),
                kv.getCreateRevision(), kv.getModRevision(), kv.getVersion(), kv.getLease());
    }

    /**
     * Decodes a raw entry: the one place where a stored value becomes a model value. A value that
     * names itself ({@link KeyNamed}) must carry the same names as the key it was read from.
     */
    public <T> Versioned<T> decode(RawEntry entry, Class<T> type) {
        try {
            T value = Json.decode(entry.value(), type);
            if (value instanceof KeyNamed named) {
                checkNames(entry.key(), named);
            }
            return new Versioned<>(entry.key(), value, entry.createRevision(), entry.modRevision(), entry.version(), entry.leaseId());
        } catch (ValidationException e) {
            throw new BadValueException(entry.key(), e);
        }
    }

    private void checkNames(String key, KeyNamed value) {
        keys.parse(key).ifPresent(ref -> {
            if (!ref.names().equals(value.keyNames())) {
                throw new ValidationException("the value names " + String.join("/", value.keyNames())
                        + " but its key names " + String.join("/", ref.names())
                        + "; was it pasted under the wrong key?");
            }
        });
    }

    @Override
    public void close() {
        if (ownsClient) {
            client.close();
        }
    }
}
