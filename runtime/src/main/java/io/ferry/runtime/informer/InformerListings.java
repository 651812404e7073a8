package io.ferry.runtime.informer;

import io.ferry.etcd.store.Store;
import io.vertx.core.Promise;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * When an {@link Informer} lists its prefix and what a listing means: the first listing, one after a
 * compaction, a periodic resync (which must not undo what the watch delivered), and a listing as the
 * whole truth once etcd's history went back (a restore from a backup), with the callers of
 * {@link Informer#listAgainAsTruth()} waiting for one. Runs on the informer's context; the watch
 * and the retries stay the informer's.
 */
final class InformerListings<T> {

    // Logged as the informer: these lines are part of its story.
    private static final Logger log = LoggerFactory.getLogger(Informer.class);

    /** A {@link Informer#listAgainAsTruth()} call: done by the first listing as the truth issued after {@code issuedAfter}. */
    private record TruthWaiter(long issuedAfter, Promise<Void> done) {
    }

    private final Informer<T> informer;
    private final Store store;
    private final InformerScope scope;
    private final InformerCache<T> cache;
    private final InformerMeters meters;
    private final List<Informer.RewindListener> rewindListeners = new CopyOnWriteArrayList<>();
    private final List<TruthWaiter> truthWaiters = new ArrayList<>();
    private boolean relisting;
    /** The listing under way (or waiting to be retried) is applied as the truth (a rewind). */
    private boolean relistingAsTruth;
    /** Listings issued so far, numbering each one so that a waiter knows which came after it asked. */
    private long listingsIssued;
    private boolean checkingRewind;

    InformerListings(Informer<T> informer, Store store, InformerScope scope, InformerCache<T> cache,
                     InformerMeters meters) {
        this.informer = informer;
        this.store = store;
        this.scope = scope;
        this.cache = cache;
        this.meters = meters;
    }

    /** A listing is under way or waits to be retried: it opens the watch itself when it is done. */
    boolean relisting() {
        return relisting;
    }

    void addRewindListener(Informer.RewindListener listener) {
        rewindListeners.add(listener);
    }

    /** Completes {@code done} once a listing as the truth issued after this call was delivered. */
    void awaitTruth(Promise<Void> done) {
        long after = relisting && relistingAsTruth ? listingsIssued - 1 : listingsIssued;
        truthWaiters.add(new TruthWaiter(after, done));
        if (!relisting) {
            relistThenWatch(null, true);
        }
        // Otherwise the listing under way ends by issuing one as the truth if it does not count.
    }

    void failWaiters() {
        truthWaiters.forEach(w -> w.done().tryFail(new IllegalStateException("informer on " + scope.path() + " closed")));
        truthWaiters.clear();
    }

    /**
     * @param rewound etcd's history went back (a restored backup): the listing replaces the cache
     *                whatever the revisions say, and the informer's revision becomes the listing's
     */
    void relistThenWatch(Promise<Void> started, boolean rewound) {
        informer.stopWatch();
        // Stays set while a failed listing waits to be retried, so that nothing else starts a second
        // listing (and a second watch) meanwhile.
        relisting = true;
        relistingAsTruth = rewound;
        long issued = ++listingsIssued;
        meters.relists().increment();
        scope.list(store).onComplete(ar -> {
            if (informer.isClosed()) {
                return;
            }
            if (ar.failed()) {
                informer.retryLater("listing " + scope.path() + " failed", ar.cause(),
                        () -> relistThenWatch(started, rewound));
                return;
            }
            relisting = false;
            relistingAsTruth = false;
            if (rewound) {
                // After a rewind the revision goes back to the listing's, whatever the cache had seen.
                cache.applyRewoundListing(ar.result());
                applied(ar.result(), true);
                truthWaiters.removeIf(w -> {
                    boolean answered = w.issuedAfter() < issued;
                    if (answered) {
                        w.done().tryComplete();
                    }
                    return answered;
                });
            } else {
                cache.applyListing(ar.result(), true);
                applied(ar.result(), false);
            }
            informer.succeeded();
            if (started != null) {
                started.tryComplete();
            }
            if (!truthWaiters.isEmpty()) {
                // Somebody asked for a listing as the truth after this one was issued.
                relistThenWatch(null, true);
                return;
            }
            informer.startWatch();
        });
    }

    private void applied(Store.RawListing listing, boolean asTruth) {
        informer.listed(listing.revision(), asTruth);
        cache.synced(listing.revision());
    }

    /**
     * etcd showed a revision below the informer's. That alone does not prove a rewind (a listing
     * taken just before a watch event arrived, an answer from a member that lags), so ask etcd for
     * its current revision with a linearizable read: it is at least every revision the informer has
     * applied, unless etcd's history went back.
     */
    void checkForRewind(String what, long shown) {
        if (informer.isClosed() || checkingRewind || relisting) {
            return;
        }
        checkingRewind = true;
        long ours = informer.revision();
        store.currentRevision().onComplete(ar -> {
            checkingRewind = false;
            if (informer.isClosed() || relisting || ar.failed() || ar.result() >= ours) {
                return;
            }
            rewound(what + " showed revision " + shown, ar.result(), ours);
        });
    }

    void rewound(String evidence, long current, long ours) {
        meters.rewinds().increment();
        log.warn("etcd went back in time under {}: {}, its current revision is {} but this informer had seen {}"
                + " (etcd restored from a backup?); listing again as the truth", scope.path(), evidence, current, ours);
        relistThenWatch(null, true);
        for (Informer.RewindListener listener : rewindListeners) {
            cache.safely(() -> listener.rewound(informer, current, ours));
        }
    }

    void resync() {
        if (informer.isClosed() || relisting || !informer.watchOpen()) {
            return;
        }
        meters.relists().increment();
        scope.list(store).onComplete(ar -> {
            if (informer.isClosed() || ar.failed()) {
                return;
            }
            if (informer.revision() > ar.result().revision()) {
                // Either the watch delivered changes newer than this listing (the listing could undo
                // them, so this round is skipped) or etcd went back in time: find out which.
                checkForRewind("resync listing", ar.result().revision());
                return;
            }
            // Not authoritative: see InformerCache#applyListing.
            cache.applyListing(ar.result(), false);
            applied(ar.result(), false);
        });
    }
}
