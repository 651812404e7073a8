package io.ferry.runtime.informer;

import io.ferry.etcd.store.CompactedRevisionException;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.store.KeyChange;
import io.ferry.etcd.store.RawEntry;
import io.ferry.etcd.store.Store;
import io.ferry.etcd.store.Versioned;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Function;

/**
 * Keeps a decoded, local copy of every key under one prefix (or of exactly one key, {@link #ofKey})
 * and tells a handler about each change.
 *
 * <p>It lists the prefix at revision R, then watches from R+1 through its {@link Store}. A store's
 * watch does not repair itself (jetcd's does not), so the informer does: a watch that reports
 * compaction triggers a fresh listing (compared with the cache, so only real differences are
 * delivered) and a new watch; a watch that errors or
 * ends is re-created from the last revision seen + 1 with capped, jittered backoff; a watch that goes
 * silent is probed with a progress request and replaced if etcd does not answer (this covers etcd
 * restarts and leader loss, after which jetcd's stream may hang without an error). A periodic resync
 * lists again and repairs anything missed.
 *
 * <p>An etcd restored from a backup goes back in time: its revision is the backup's, lower than what
 * the informer has seen. A watch resumed from the informer's revision would wait silently for a
 * revision etcd reaches much later, skipping every change until then. Whenever etcd shows a revision
 * below the informer's (a watch answer, a resync listing, a watch resumed after a failure), the
 * informer asks etcd for its current revision with a linearizable read; if that too is below, it
 * counts a rewind ({@code ferry.informer.rewinds}), lists the prefix again as the whole truth (values
 * going back in time and keys that no longer exist included) and watches from the restored revision.
 * {@link RewindListener}s hear of it first; {@link #listAgainAsTruth()} lets an owner of several
 * informers make the others list the restored etcd too (they may not notice by themselves yet).
 *
 * <p>A value that fails to decode is counted ({@code ferry.informer.decode.failures}), logged,
 * passed to {@link InformerHandler#onBadValue}, and skipped; later values keep arriving.
 *
 * <p>All state changes and handler calls happen on the Vert.x context that called {@link #start()};
 * the cache can be read from any thread. The cache and its rules are {@link InformerCache}'s, the
 * watch stream and its liveness {@link InformerStream}'s, when to list and what a listing means
 * (compaction, resync, rewind) {@link InformerListings}'; this class runs the watch and its retries.
 */
public final class Informer<T> implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Informer.class);

    /** Told when an informer has confirmed that etcd's history went back (see the class comment). */
    @FunctionalInterface
    public interface RewindListener {
        /**
         * Runs on the informer's context, after the informer has started listing the prefix again as
         * the truth and before any of that listing's changes reach the handler.
         *
         * @param etcdRevision     etcd's current revision, read linearizably
         * @param informerRevision the revision this informer had seen, from the history etcd lost
         */
        void rewound(Informer<?> informer, long etcdRevision, long informerRevision);
    }

    private final Vertx vertx;
    private final Store store;
    private final InformerScope scope;
    private final InformerOptions options;
    private final InformerCache<T> cache;
    private final InformerMeters meters;
    private final InformerListings<T> listings;

    private Context context;
    private InformerStream stream;
    private volatile long revision;
    private int failures;
    private long watchdogTimer = -1;
    private long resyncTimer = -1;
    private volatile boolean synced;
    private volatile boolean closed;

    public Informer(Vertx vertx, Store store, String prefix, Class<T> type, InformerHandler<T> handler,
                    InformerOptions options, MeterRegistry registry) {
        this(vertx, store, prefix, key -> type, handler, options, registry);
    }

    /**
     * An informer over a prefix that holds several kinds of value (such as {@code /ferry/nodes/}).
     *
     * @param typeOfKey the type to decode each key as, or null for keys this informer ignores
     *                  entirely (they are neither cached nor reported)
     */
    public Informer(Vertx vertx, Store store, String prefix, Function<String, Class<? extends T>> typeOfKey,
                    InformerHandler<T> handler, InformerOptions options, MeterRegistry registry) {
        this(vertx, store, InformerScope.prefix(prefix), typeOfKey, handler, options, registry);
    }

    private Informer(Vertx vertx, Store store, InformerScope scope, Function<String, Class<? extends T>> typeOfKey,
                     InformerHandler<T> handler, InformerOptions options, MeterRegistry registry) {
        this.vertx = vertx;
        this.store = store;
        this.scope = scope;
        this.options = options;
        this.meters = InformerMeters.register(registry, scope.path());
        this.cache = new InformerCache<>(store, scope.path(), typeOfKey, handler, meters.decodeFailures());
        this.listings = new InformerListings<>(this, store, scope, cache, meters);
    }

    /**
     * An informer that follows exactly one key: its listing reads that key alone and its watch
     * watches that key alone, so a role granted only the key may run it, and {@code .../node-1} never
     * sees {@code .../node-10}. Everything else (rewinds, compaction, silence, resync) is as for a prefix.
     */
    public static <T> Informer<T> ofKey(Vertx vertx, Store store, String key, Class<T> type, InformerHandler<T> handler,
            InformerOptions options, MeterRegistry registry) {
        return new Informer<>(vertx, store, InformerScope.key(key), k -> type, handler, options, registry);
    }

    /**
     * Lists the prefix, delivers every value to the handler, then starts watching. The future
     * completes after the first listing was delivered; it retries while etcd is unreachable.
     */
    public Future<Void> start() {
        context = vertx.getOrCreateContext();
        stream = new InformerStream(context, store, scope, options.watchdogInterval(), new InformerStream.Events() {
            @Override
            public void onResponse(long shown, List<KeyChange> changes) {
                Informer.this.onResponse(shown, changes);
            }

            @Override
            public void onFailure(Throwable error) {
                onWatchFailure(error);
            }
        });
        Promise<Void> started = Promise.promise();
        context.runOnContext(v -> {
            listings.relistThenWatch(started, false);
            watchdogTimer = vertx.setPeriodic(options.watchdogInterval().toMillis(), t -> watchdog());
            resyncTimer = vertx.setPeriodic(options.resyncInterval().toMillis(), t -> listings.resync());
        });
        return started.future();
    }

    /** The prefix followed, or the one key. */
    public String prefix() {
        return scope.path();
    }

    /** The last good value of a key, if any. */
    public Optional<Versioned<T>> get(String key) {
        return Optional.ofNullable(cache.entries.get(key));
    }

    /** A read-only live view of the cache; iterate it, do not keep it. */
    public Collection<Versioned<T>> values() {
        return Collections.unmodifiableCollection(cache.entries.values());
    }

    public Map<String, Versioned<T>> snapshot() {
        return Map.copyOf(cache.entries);
    }

    /** Keys whose latest stored value does not decode. */
    public Set<String> badKeys() {
        return Set.copyOf(cache.badKeys);
    }

    /** The etcd revision up to which every change under the prefix has been delivered. */
    public long revision() {
        return revision;
    }

    /** True once the first listing was delivered. */
    public boolean synced() {
        return synced;
    }

    /** Adds a listener told whenever this informer finds that etcd went back in time. */
    public void addRewindListener(RewindListener listener) {
        listings.addRewindListener(listener);
    }

    /**
     * Lists the prefix again as the whole truth, as after a rewind this informer found itself: every
     * key whose value differs is delivered, keys no longer listed are deleted, the revision becomes the
     * listing's, and the watch starts again from there. For an owner whose other informers found that
     * etcd was restored from a backup: this one may not notice for a while (a quiet prefix), or ever
     * (its revision was below the backup's), and its cache may hold values of the lost history.
     *
     * <p>The future completes once a listing issued after this call (or the listing as the truth
     * already under way, which was issued after etcd's rewind was confirmed) has been delivered. A
     * listing that fails is retried with backoff for as long as it takes (etcd down); the future fails
     * only if the informer is closed. An informer not started yet completes at once: its first
     * listing is of the etcd it will watch.
     */
    public Future<Void> listAgainAsTruth() {
        if (context == null) {
            return Future.succeededFuture();
        }
        Promise<Void> done = Promise.promise();
        try {
            context.runOnContext(v -> {
                if (closed) {
                    done.tryFail(new IllegalStateException("informer on " + scope.path() + " is closed"));
                    return;
                }
                listings.awaitTruth(done);
            });
        } catch (RejectedExecutionException e) {
            done.tryFail(new IllegalStateException("informer on " + scope.path() + " is closed", e));
        }
        return done.future();
    }

    /** A listing was applied: the revision becomes the listing's after a rewind, else never goes back. */
    void listed(long listingRevision, boolean asTruth) {
        revision = asTruth ? listingRevision : Math.max(revision, listingRevision);
        synced = true;
    }

    /** A listing went through: the next failure starts the backoff from its shortest delay again. */
    void succeeded() {
        failures = 0;
    }

    boolean isClosed() {
        return closed;
    }

    boolean watchOpen() {
        return stream.isOpen();
    }

    // ---- watching ----

    void startWatch() {
        if (closed) {
            return;
        }
        stream.open(revision + 1);
    }

    private void onResponse(long shown, List<KeyChange> changes) {
        failures = 0;
        if (shown > 0 && shown < revision) {
            // No healthy etcd answers below a revision it has already sent (a progress answer of a
            // watch resumed beyond a restored etcd's revision is the usual sign).
            listings.checkForRewind("a watch answer", shown);
        }
        for (KeyChange change : changes) {
            RawEntry entry = change.entry();
            if (entry.modRevision() <= revision) {
                continue;
            }
            switch (change.kind()) {
                case PUT -> cache.applyPut(entry, false);
                case DELETE -> cache.applyDelete(entry.key());
                default -> log.warn("ignoring unrecognized watch event for {}", entry.key());
            }
            // Revisions within one response can repeat (one transaction, many keys), so only a later
            // response may skip them: advance after the whole batch.
        }
        for (KeyChange change : changes) {
            revision = Math.max(revision, change.entry().modRevision());
        }
        // A progress notification proves the stream alive (noted above) and nothing more. Its
        // revision is not taken as "everything up to here was delivered": etcd before the fix of its
        // issue 15220 (3.4.23 in Debian among them) can send a requested one ahead of events still
        // queued for the stream, jetcd asks on every stream of a client at once, and an informer
        // that advanced on it would skip those events for good (an agent in the provisioning
        // benchmark missed a work item's deletion until the next resync, minutes later).
    }

    private void onWatchFailure(Throwable error) {
        stopWatch();
        if (isCompaction(error)) {
            log.info("watch on {} fell behind a compaction; listing again", scope.path());
            listings.relistThenWatch(null, false);
            return;
        }
        meters.watchRestarts().increment();
        String why = error == null ? "watch on " + scope.path() + " ended" : "watch on " + scope.path() + " failed";
        retryLater(why, error, this::resumeWatch);
    }

    /**
     * Opens the watch again after a failure, once etcd answers, from the last revision seen; unless
     * etcd's revision is now below it (etcd came back from a backup), then lists again first.
     */
    private void resumeWatch() {
        if (closed) {
            return;
        }
        long ours = revision;
        store.currentRevision().onComplete(ar -> {
            if (closed || listings.relisting() || stream.isOpen()) {
                // Closed, or a listing (after a compaction or a rewind) opens the watch itself.
                return;
            }
            if (ar.failed()) {
                retryLater("etcd unreachable while resuming the watch on " + scope.path(), ar.cause(), this::resumeWatch);
            } else if (ar.result() < ours) {
                listings.rewound("resuming the watch", ar.result(), ours);
            } else {
                startWatch();
            }
        });
    }

    private static boolean isCompaction(Throwable error) {
        return EtcdStore.causedBy(error, CompactedRevisionException.class);
    }

    /**
     * Replaces a silent watch (see {@link InformerStream#silentDespiteProgressRequest}) from
     * revision + 1, so nothing is lost and nothing repeats beyond what handlers already tolerate.
     */
    private void watchdog() {
        if (closed || !stream.isOpen() || listings.relisting()) {
            return;
        }
        long silentMillis = stream.silentDespiteProgressRequest();
        if (silentMillis < 0) {
            return;
        }
        log.warn("watch on {} silent for {} ms despite a progress request; re-creating it from revision {}",
                scope.path(), silentMillis, revision + 1);
        meters.watchRestarts().increment();
        stopWatch();
        resumeWatch();
    }

    void stopWatch() {
        stream.stop();
    }

    /** The watch and the listings are retried after a capped, jittered backoff that grows with each failure. */
    void retryLater(String what, Throwable cause, Runnable action) {
        long cap = options.maxBackoff().toMillis();
        long delay = Math.min(cap, 100L << Math.min(failures++, 10));
        delay = delay / 2 + ThreadLocalRandom.current().nextLong(delay / 2 + 1);
        log.warn("{}; retrying in {} ms: {}", what, delay, cause == null ? "stream closed" : cause.getMessage());
        vertx.setTimer(Math.max(1, delay), t -> {
            if (!closed) {
                action.run();
            }
        });
    }

    /**
     * Test hook: silences the current watch the way a stalled jetcd stream does (no events, no
     * error), so tests can prove the watchdog notices and recovers.
     */
    void silenceWatchForTest() {
        context.runOnContext(v -> stream.silenceForTest());
    }

    @Override
    public void close() {
        closed = true;
        if (context == null) {
            return;
        }
        stream.close();
        context.runOnContext(v -> {
            listings.failWaiters();
            stopWatch();
            vertx.cancelTimer(watchdogTimer);
            vertx.cancelTimer(resyncTimer);
        });
    }

    @Override
    public String toString() {
        return "Informer[" + scope.path() + " @" + revision + ", " + cache.entries.size() + " keys]";
    }
}
