package io.ferry.runtime.lease;

import io.ferry.etcd.store.Store;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.LongConsumer;

/**
 * An etcd lease that stays alive for as long as the session is open, and is replaced by a new one
 * when it is lost (expired during an etcd outage, revoked by an operator).
 *
 * <p>Keep-alives are single requests on a timer at a third of the TTL rather than jetcd's
 * streaming keep-alive, whose stream can end silently; a missed beat is simply retried at the next
 * tick. The session declares the lease lost when etcd says it no longer exists, or when no beat
 * succeeded for a whole TTL (etcd will have expired it by then). Listeners then get the new lease
 * id and must rewrite whatever they had bound to the old one.
 *
 * <p>All callbacks run on the Vert.x context that opened the session.
 */
public final class LeaseSession implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(LeaseSession.class);

    private final Vertx vertx;
    private final Store store;
    private final Duration ttl;
    private final LongConsumer onNewLease;
    private final Runnable onLost;
    private volatile long leaseId;
    private long lastBeatNanos;
    private long timerId = -1;
    private volatile boolean closed;
    private int grantFailures;

    private LeaseSession(Vertx vertx, Store store, Duration ttl, LongConsumer onNewLease, Runnable onLost) {
        this.vertx = vertx;
        this.store = store;
        this.ttl = ttl;
        this.onNewLease = onNewLease;
        this.onLost = onLost;
    }

    /**
     * Grants the first lease and starts keeping it alive. The returned future completes with the
     * session once the first lease exists (retrying while etcd is unreachable).
     *
     * @param onNewLease called with every lease granted after the first one (re-bind keys to it)
     * @param onLost     called as soon as the current lease is known lost, before a new one is granted
     */
    public static Future<LeaseSession> open(Vertx vertx, Store store, Duration ttl, LongConsumer onNewLease, Runnable onLost) {
        if (ttl.toSeconds() < 2) {
            throw new IllegalArgumentException("lease TTL must be at least 2 seconds, was " + ttl);
        }
        LeaseSession session = new LeaseSession(vertx, store, ttl, onNewLease, onLost);
        Promise<LeaseSession> ready = Promise.promise();
        session.grant(ready);
        return ready.future();
    }

    /** The current lease, or 0 while a lost one is being replaced (write nothing bound to 0). */
    public long leaseId() {
        return leaseId;
    }

    /**
     * Declares {@code lease} lost now, because a request bound to it was refused as unknown (see
     * {@link Store#isNoSuchLease}), instead of waiting for the next keep-alive to find out. Does nothing
     * when that lease was already replaced. Call it on the session's context.
     */
    public void invalidate(long lease) {
        if (!closed && lease != 0 && lease == leaseId) {
            lost("etcd refused a request bound to it: the lease no longer exists");
        }
    }

    public Duration ttl() {
        return ttl;
    }

    private void grant(Promise<LeaseSession> firstGrant) {
        if (closed) {
            return;
        }
        store.grantLease(ttl).onComplete(ar -> {
            if (closed) {
                if (ar.succeeded()) {
                    store.revokeLease(ar.result());
                }
                return;
            }
            if (ar.failed()) {
                long delay = Math.min(5000, 200L << Math.min(grantFailures++, 5)) + ThreadLocalRandom.current().nextLong(100);
                log.warn("cannot grant an etcd lease, retrying in {} ms: {}", delay, ar.cause().getMessage());
                vertx.setTimer(delay, t -> grant(firstGrant));
                return;
            }
            grantFailures = 0;
            leaseId = ar.result();
            lastBeatNanos = System.nanoTime();
            log.info("holding etcd lease {} (ttl {} s)", Long.toHexString(leaseId), ttl.toSeconds());
            scheduleBeat();
            if (firstGrant != null) {
                firstGrant.complete(this);
            } else {
                onNewLease.accept(leaseId);
            }
        });
    }

    private void scheduleBeat() {
        timerId = vertx.setTimer(Math.max(500, ttl.toMillis() / 3), t -> beat());
    }

    private void beat() {
        if (closed) {
            return;
        }
        long current = leaseId;
        if (current == 0) {
            return;
        }
        store.keepLeaseAliveOnce(current).onComplete(ar -> {
            if (closed || current != leaseId) {
                return;
            }
            if (ar.succeeded() && ar.result() > 0) {
                lastBeatNanos = System.nanoTime();
                scheduleBeat();
            } else if (ar.succeeded() || Store.isNoSuchLease(ar.cause())) {
                lost("etcd no longer knows the lease");
            } else if (System.nanoTime() - lastBeatNanos > ttl.toNanos()) {
                lost("no keep-alive succeeded for a whole TTL: " + ar.cause().getMessage());
            } else {
                scheduleBeat();
            }
        });
    }

    private void lost(String why) {
        log.warn("etcd lease {} lost ({}); granting a new one", Long.toHexString(leaseId), why);
        vertx.cancelTimer(timerId);
        leaseId = 0;
        onLost.run();
        grant(null);
    }

    /** Stops the keep-alives and revokes the lease, so lease-bound keys vanish at once. Idempotent. */
    public Future<Void> revoke() {
        if (closed) {
            return Future.succeededFuture();
        }
        closed = true;
        vertx.cancelTimer(timerId);
        if (leaseId == 0) {
            return Future.succeededFuture();
        }
        return store.revokeLease(leaseId).recover(err -> Future.succeededFuture());
    }

    @Override
    public void close() {
        revoke();
    }
}
