package io.ferry.etcd.store;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.Watch;
import io.etcd.jetcd.common.exception.CompactedException;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.WatchOption;
import io.etcd.jetcd.watch.WatchEvent;
import io.etcd.jetcd.watch.WatchResponse;
import io.etcd.jetcd.election.LeaderKey;
import io.etcd.jetcd.election.NoLeaderException;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.options.DeleteOption;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.PutOption;
import io.ferry.etcd.EtcdClients;
import io.ferry.etcd.EtcdOptions;
import io.ferry.etcd.FerryKeys;
import io.ferry.model.Json;
import io.grpc.Status;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.Arrays;
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
public final class EtcdStore implements Store, AutoCloseable {

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
    @Override
    public EtcdStore holdingCommitsWhile(Supplier<Optional<String>> hold) {
        return new EtcdStore(client, keys, requestTimeout, false, hold);
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

    @Override
    public FerryKeys keys() {
        return keys;
    }

    /** The jetcd client, for tools and tests that need etcd itself; components go through the {@link Store} API. */
    public Client client() {
        return client;
    }

    @Override
    public Duration requestTimeout() {
        return requestTimeout;
    }

    // ---- reads ----

    @Override
    public Future<Optional<RawEntry>> getRaw(String key) {
        return call(client.getKVClient().get(bytes(key)), "get " + key)
                .map(resp -> resp.getKvs().isEmpty() ? Optional.empty() : Optional.of(raw(resp.getKvs().get(0))));
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
    @Override
    public Future<RawListing> listRaw(String prefix) {
        List<RawEntry> acc = new ArrayList<>();
        return listPage(prefix, bytes(prefix), 0, LIST_PAGE, acc).map(rev -> new RawListing(rev, acc));
    }

    @Override
    public Future<RawListing> listKeyRaw(String key) {
        return call(client.getKVClient().get(bytes(key)), "get " + key)
                .map(resp -> new RawListing(resp.getHeader().getRevision(),
                        resp.getKvs().isEmpty() ? List.of() : List.of(raw(resp.getKvs().get(0)))));
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
    @Override
    public Future<Long> currentRevision() {
        GetOption opt = GetOption.builder().withCountOnly(true).build();
        return call(client.getKVClient().get(bytes(keys.globalConfig()), opt), "read revision")
                .map(resp -> resp.getHeader().getRevision());
    }

    /** Number of keys under a prefix, without transferring them. */
    @Override
    public Future<Long> count(String prefix) {
        GetOption opt = GetOption.builder().withRange(rangeEnd(prefix)).withCountOnly(true).build();
        return call(client.getKVClient().get(bytes(prefix), opt), "count " + prefix).map(GetResponse::getCount);
    }

    // ---- writes ----

    /** Unconditional write bound to a lease (0 for none): the key disappears when the lease expires. */
    @Override
    public Future<Long> put(String key, Object value, long leaseId) {
        byte[] encoded = Json.encode(value);
        PutOption opt = leaseId == 0 ? PutOption.DEFAULT : PutOption.builder().withLeaseId(leaseId).build();
        return call(client.getKVClient().put(bytes(key), ByteSequence.from(encoded), opt), "put " + key)
                .map(resp -> resp.getHeader().getRevision());
    }

    /** Writes raw bytes; only for tools and tests that must store what a careless operator would. */
    @Override
    public Future<Long> putRaw(String key, byte[] value) {
        return call(client.getKVClient().put(bytes(key), ByteSequence.from(value)), "put " + key)
                .map(resp -> resp.getHeader().getRevision());
    }

    /** Deletes one key; true when it existed. Deleting a missing key succeeds (idempotent). */
    @Override
    public Future<Boolean> delete(String key) {
        return call(client.getKVClient().delete(bytes(key)), "delete " + key).map(resp -> resp.getDeleted() > 0);
    }

    /** Deletes every key under a prefix; returns how many were deleted. */
    @Override
    public Future<Long> deletePrefix(String prefix) {
        DeleteOption opt = DeleteOption.builder().withRange(rangeEnd(prefix)).build();
        return call(client.getKVClient().delete(bytes(prefix), opt), "delete " + prefix + "*")
                .map(resp -> resp.getDeleted());
    }

    /** Starts a multi-key transaction: guards, then writes applied atomically when all guards hold. */
    @Override
    public Transaction txn() {
        return new Transaction(commitHold, this::send);
    }

    private Future<TxnOutcome> send(List<Transaction.Guard> guards, List<Transaction.Write> writes, String what) {
        List<Cmp> cmps = new ArrayList<>(guards.size());
        for (Transaction.Guard guard : guards) {
            if (guard instanceof Transaction.CreateRevisionIs g) {
                cmps.add(new Cmp(bytes(g.key()), Cmp.Op.EQUAL, CmpTarget.createRevision(g.revision())));
            } else if (guard instanceof Transaction.ModRevisionIs g) {
                cmps.add(new Cmp(bytes(g.key()), Cmp.Op.EQUAL, CmpTarget.modRevision(g.revision())));
            }
        }
        List<Op> ops = new ArrayList<>(writes.size());
        for (Transaction.Write write : writes) {
            if (write instanceof Transaction.Put w) {
                ops.add(Op.put(bytes(w.key()), ByteSequence.from(w.value()),
                        w.leaseId() == 0 ? PutOption.DEFAULT : PutOption.builder().withLeaseId(w.leaseId()).build()));
            } else if (write instanceof Transaction.Delete w) {
                ops.add(Op.delete(bytes(w.key()), DeleteOption.DEFAULT));
            }
        }
        var txn = client.getKVClient().txn().If(cmps.toArray(Cmp[]::new)).Then(ops.toArray(Op[]::new));
        return call(txn.commit(), what).map(resp -> new TxnOutcome(resp.isSucceeded(), resp.getHeader().getRevision()));
    }

    /** Compacts history up to a revision; watches older than that must re-list. */
    @Override
    public Future<Void> compact(long revision) {
        return call(client.getKVClient().compact(revision), "compact").mapEmpty();
    }

    // ---- leases and elections: the primitives the runtime's LeaseSession and LeaderElection build on ----

    /** Grants a lease of the given TTL (whole seconds); returns its id. */
    @Override
    public Future<Long> grantLease(Duration ttl) {
        return call(client.getLeaseClient().grant(ttl.toSeconds()), "grant lease").map(resp -> resp.getID());
    }

    /**
     * Renews a lease once (a single request, not jetcd's keep-alive stream); returns the TTL etcd
     * granted, in seconds. A TTL of 0 or less, or a failure for which {@link Store#isNoSuchLease} holds,
     * means etcd no longer knows the lease.
     */
    @Override
    public Future<Long> keepLeaseAliveOnce(long leaseId) {
        return call(client.getLeaseClient().keepAliveOnce(leaseId), "keep lease alive").map(resp -> resp.getTTL());
    }

    /** Revokes a lease: every key bound to it is deleted at once. */
    @Override
    public Future<Void> revokeLease(long leaseId) {
        return call(client.getLeaseClient().revoke(leaseId), "revoke lease").mapEmpty();
    }

    /**
     * Campaigns in etcd's election {@code election} on a lease, as {@code candidate}; completes once
     * elected, with the election key won. Not bounded by the request timeout: etcd answers only when
     * this candidate leads, which may be never.
     */
    @Override
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
    @Override
    public Future<Optional<String>> electionLeader(String election) {
        return call(client.getElectionClient().leader(bytes(election)), "read leader of " + election)
                .map(resp -> Optional.of(resp.getKv().getValue().toString(StandardCharsets.UTF_8)))
                .recover(err -> causedBy(err, NoLeaderException.class)
                        ? Future.succeededFuture(Optional.empty())
                        : Future.failedFuture(err));
    }

    // ---- watches ----

    @Override
    public StoreWatch watch(String prefix, long fromRevision, WatchListener listener) {
        return watch(prefix, true, fromRevision, listener);
    }

    @Override
    public StoreWatch watchKey(String key, long fromRevision, WatchListener listener) {
        return watch(key, false, fromRevision, listener);
    }

    private StoreWatch watch(String prefix, boolean isPrefix, long fromRevision, WatchListener listener) {
        WatchOption option = WatchOption.builder()
                .isPrefix(isPrefix)
                .withRevision(fromRevision)
                .withProgressNotify(true)
                .build();
        Watch.Watcher watcher = client.getWatchClient().watch(bytes(prefix), option, new Watch.Listener() {
            @Override
            public void onNext(WatchResponse response) {
                long revision = response.getHeader() == null ? 0 : response.getHeader().getRevision();
                List<KeyChange> changes = new ArrayList<>(response.getEvents().size());
                for (WatchEvent event : response.getEvents()) {
                    KeyValue kv = event.getKeyValue();
                    switch (event.getEventType()) {
                        case PUT -> changes.add(new KeyChange(KeyChange.Kind.PUT, raw(kv)));
                        case DELETE -> changes.add(KeyChange.deleted(kv.getKey().toString(StandardCharsets.UTF_8),
                                kv.getModRevision()));
                        default -> log.warn("ignoring unrecognized watch event for {}",
                                kv.getKey().toString(StandardCharsets.UTF_8));
                    }
                }
                listener.onChanges(revision, changes);
            }

            @Override
            public void onError(Throwable error) {
                listener.onError(compacted(error, fromRevision));
            }

            @Override
            public void onCompleted() {
                listener.onCompleted();
            }
        });
        return watcher::close;
    }

    /** etcd's refusal of a compacted start revision, as the typed error every store reports it with. */
    private static Throwable compacted(Throwable error, long fromRevision) {
        for (Throwable t = error; t != null; t = t.getCause()) {
            if (t instanceof CompactedException compacted) {
                return new CompactedRevisionException(fromRevision, compacted.getCompactedRevision(), error);
            }
            if (String.valueOf(t.getMessage()).contains("required revision has been compacted")) {
                return new CompactedRevisionException(fromRevision, 0, error);
            }
        }
        return error;
    }

    @Override
    public void requestWatchProgress() {
        client.getWatchClient().requestProgress();
    }

    // ---- plumbing ----

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
                return ByteSequence.from(Arrays.copyOf(end, i + 1));
            }
        }
        return ByteSequence.from(new byte[] {0});
    }

    static RawEntry raw(KeyValue kv) {
        return new RawEntry(kv.getKey().toString(StandardCharsets.UTF_8), kv.getValue().getBytes(),
                kv.getCreateRevision(), kv.getModRevision(), kv.getVersion(), kv.getLease());
    }

    @Override
    public void close() {
        if (ownsClient) {
            client.close();
        }
    }
}
