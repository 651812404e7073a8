package io.ferry.runtime.informer;

import io.ferry.etcd.store.Store;
import io.ferry.runtime.lease.LeaseSession;
import io.ferry.etcd.store.RawEntry;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.ValidationException;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Objects;

/**
 * A key that this process alone writes and keeps bound to its lease session, such as an agent's
 * registration: liveness reconciled like everything else rather than written once.
 *
 * <p>The key is written whenever etcd's copy is missing, differs from the wanted value, or is bound
 * to a lease other than the session's current one: after the first grant, after every new lease,
 * after an operator's {@code etcdctl del} or overwrite, after another process with the same name
 * took it with it. A write refused because its lease is gone invalidates that lease at once, so a
 * lease that expired while the process was stalled (an event loop blocked at start on a slow
 * machine) is replaced at the first refusal instead of being retried forever.
 *
 * <p>A watch on the key (an {@link Informer}, with its relists and resyncs) is the source of truth
 * for {@link #present()}: the key counts as present only once etcd has shown it back with the wanted
 * value and the current lease. All methods run on the context that called {@link #start}.
 */
public final class LeasedKey<T> implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(LeasedKey.class);
    /** A value that keeps being replaced by somebody else is rewritten at most this often. */
    private static final long MIN_REWRITE_MILLIS = 1000;
    private static final long MAX_RETRY_MILLIS = 5000;

    private final Vertx vertx;
    private final Store store;
    private final LeaseSession session;
    private final String key;
    private final Informer<T> informer;

    private T wanted;
    private boolean writing;
    private boolean again;
    private long retryTimer = -1;
    private int failures;
    private long lastWriteMillis;
    private volatile boolean present;
    private final Promise<Void> firstPresent = Promise.promise();
    private volatile boolean closed;

    public LeasedKey(Vertx vertx, Store store, LeaseSession session, String key, Class<T> type,
            InformerOptions options, MeterRegistry registry) {
        this.vertx = vertx;
        this.store = store;
        this.session = session;
        this.key = key;
        // The key itself is the informer's prefix; longer keys that share it are not ours.
        this.informer = new Informer<>(vertx, store, key, k -> k.equals(key) ? type : null, new Watcher(),
                options, registry);
    }

    /**
     * Starts watching the key and writes {@code value}; completes once etcd has shown the key back
     * with it (retrying, like the informers, for as long as etcd is unreachable).
     */
    public Future<Void> start(T value) {
        wanted = Objects.requireNonNull(value, "value");
        return informer.start().compose(v -> {
            ensure();
            return firstPresent.future();
        });
    }

    /** Changes the value to keep; written at once if it differs from etcd's. */
    public void set(T value) {
        wanted = Objects.requireNonNull(value, "value");
        ensure();
    }

    /** Call when the session granted a new lease: the key must move to it. */
    public void leaseChanged() {
        present = false;
        ensure();
    }

    /** True when etcd, as last seen through the watch, holds the wanted value on the current lease. */
    public boolean present() {
        return present;
    }

    public String key() {
        return key;
    }

    private boolean matches(Versioned<T> stored) {
        long lease = session.leaseId();
        return stored != null && lease != 0 && stored.leaseId() == lease && stored.value().equals(wanted);
    }

    /** Writes the wanted value unless etcd already holds it; one write in flight at a time. */
    private void ensure() {
        if (closed || wanted == null) {
            return;
        }
        Versioned<T> stored = informer.get(key).orElse(null);
        if (matches(stored) && !informer.badKeys().contains(key)) {
            confirmed();
            return;
        }
        present = false;
        if (writing || retryTimer != -1) {
            again = true;
            return;
        }
        long lease = session.leaseId();
        if (lease == 0) {
            return; // a new lease is being granted; leaseChanged() comes next
        }
        writing = true;
        again = false;
        lastWriteMillis = System.currentTimeMillis();
        store.put(key, wanted, lease).onComplete(ar -> {
            writing = false;
            if (closed) {
                return;
            }
            if (ar.succeeded()) {
                failures = 0;
                if (again) {
                    ensure();
                }
                return;
            }
            if (Store.isNoSuchLease(ar.cause())) {
                log.warn("{}: lease {} no longer exists; moving to a new one", key, Long.toHexString(lease));
                session.invalidate(lease);
                return;
            }
            long delay = Math.min(MAX_RETRY_MILLIS, 250L << Math.min(failures++, 5));
            log.warn("cannot write {} ({}); retrying in {} ms", key, ar.cause().getMessage(), delay);
            retryLater(delay);
        });
    }

    private void confirmed() {
        present = true;
        failures = 0;
        firstPresent.tryComplete();
    }

    private void retryLater(long delayMillis) {
        if (retryTimer == -1) {
            retryTimer = vertx.setTimer(delayMillis, t -> {
                retryTimer = -1;
                ensure();
            });
        }
    }

    /** A change that is not ours: rewrite, but not faster than once a second (two writers would race). */
    private void changedOutside(String what) {
        if (closed || matches(informer.get(key).orElse(null)) && !informer.badKeys().contains(key)) {
            ensure();
            return;
        }
        present = false;
        long since = System.currentTimeMillis() - lastWriteMillis;
        if (writing || since >= MIN_REWRITE_MILLIS) {
            log.info("{} {}; writing it again", key, what);
            ensure();
        } else {
            log.warn("{} {} within {} ms of our last write: another process may be writing it; rewriting in {} ms",
                    key, what, since, MIN_REWRITE_MILLIS - since);
            retryLater(MIN_REWRITE_MILLIS - since);
        }
    }

    private final class Watcher implements InformerHandler<T> {
        @Override
        public void onUpsert(Versioned<T> current, Versioned<T> previous) {
            if (matches(current)) {
                confirmed();
            } else if (current.leaseId() != 0 && current.leaseId() == session.leaseId()) {
                ensure(); // our own write of a value that was replaced meanwhile
            } else {
                changedOutside("holds another value or lease");
            }
        }

        @Override
        public void onDelete(String deleted, Versioned<T> lastKnown) {
            changedOutside("was deleted");
        }

        @Override
        public void onBadValue(RawEntry raw, ValidationException error) {
            changedOutside("holds a value that does not decode");
        }

        @Override
        public void onSynced(long revision) {
            ensure();
        }
    }

    /** Stops watching; the key itself goes with the lease (revoke the session to remove it at once). */
    @Override
    public void close() {
        closed = true;
        present = false;
        if (retryTimer != -1) {
            vertx.cancelTimer(retryTimer);
        }
        informer.close();
    }
}
