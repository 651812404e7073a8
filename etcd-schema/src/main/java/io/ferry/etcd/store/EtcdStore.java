package io.ferry.etcd.store;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.op.Op;
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
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import static io.ferry.etcd.store.EtcdRequests.bytes;
import static io.ferry.etcd.store.EtcdRequests.rangeEnd;
import static io.ferry.etcd.store.EtcdRequests.raw;

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

    /** Most keys in one listing page; see {@link PagedListing}. */
    static final int LIST_PAGE = PagedListing.LIST_PAGE;

    private final Client client;
    private final FerryKeys keys;
    private final EtcdRequests requests;
    private final PagedListing listing;
    private final EtcdWatches watches;
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
        this.requests = new EtcdRequests(requestTimeout);
        this.listing = new PagedListing(client.getKVClient(), requests);
        this.watches = new EtcdWatches(client.getWatchClient());
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
        return new EtcdStore(client, keys, requests.requestTimeout(), false, hold);
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
        return requests.requestTimeout();
    }

    // ---- reads ----

    @Override
    public Future<Optional<RawEntry>> getRaw(String key) {
        return call(client.getKVClient().get(bytes(key)), "get " + key)
                .map(resp -> resp.getKvs().isEmpty() ? Optional.empty() : Optional.of(raw(resp.getKvs().get(0))));
    }

    /** Lists in pages pinned to one revision and bounded by bytes; see {@link PagedListing}. */
    @Override
    public Future<RawListing> listRaw(String prefix) {
        return listing.list(prefix);
    }

    @Override
    public Future<RawListing> listKeyRaw(String key) {
        return call(client.getKVClient().get(bytes(key)), "get " + key)
                .map(resp -> new RawListing(resp.getHeader().getRevision(),
                        resp.getKvs().isEmpty() ? List.of() : List.of(raw(resp.getKvs().get(0)))));
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
        return EtcdRequests.onCallerContext(won, context);
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
        return watches.watch(prefix, true, fromRevision, listener);
    }

    @Override
    public StoreWatch watchKey(String key, long fromRevision, WatchListener listener) {
        return watches.watch(key, false, fromRevision, listener);
    }

    @Override
    public void requestWatchProgress() {
        watches.requestProgress();
    }

    // ---- plumbing ----

    private <R> Future<R> call(CompletableFuture<R> pending, String what) {
        return requests.call(pending, what);
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

    @Override
    public void close() {
        if (ownsClient) {
            client.close();
        }
    }
}
