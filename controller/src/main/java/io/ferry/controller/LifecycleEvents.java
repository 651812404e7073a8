package io.ferry.controller;

import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.Store;
import io.ferry.etcd.store.Leadership;
import io.ferry.etcd.store.Transaction;
import io.ferry.model.EventReason;
import io.ferry.model.LifecycleEvent;
import io.ferry.model.ValidationException;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * Records lifecycle events ({@link LifecycleEventRules}) while this controller leads. Events are
 * for people: losing one (etcd unreachable, a failover) is acceptable, costing the cluster is not.
 * So they are written in batches (one transaction for a burst, which keeps a thousand creations
 * from costing a thousand more revisions), on a lease that is never kept alive (they expire by
 * themselves), at most {@link #PER_OBJECT} per object (older ones are deleted in the same
 * transaction), and dropped, counted, when etcd does not take them.
 *
 * <p>Runs on the controller's context, like the informers that feed it.
 */
final class LifecycleEvents {

    private static final Logger log = LoggerFactory.getLogger(LifecycleEvents.class);

    /** The newest events kept per volume or snapshot. */
    static final int PER_OBJECT = 20;
    /** Writes per transaction: etcd refuses transactions of more than 128 operations by default. */
    static final int MAX_BATCH_OPS = 100;
    /** Events waiting for etcd beyond this are dropped: the recorder must not grow while etcd is away. */
    static final int MAX_QUEUED = 10_000;
    static final Duration FLUSH_DELAY = Duration.ofMillis(200);

    private final Vertx vertx;
    private final Store store;
    private final FerryKeys keys;
    private final String reporter;
    private final Clock clock;
    private final Duration retention;
    private final Supplier<Optional<Leadership>> leadership;
    private final ArrayDeque<LifecycleEvent> queued = new ArrayDeque<>();
    /** Ids this recorder wrote per object, oldest first, to delete the oldest beyond {@link #PER_OBJECT}. */
    private final Map<String, ArrayDeque<String>> written = new HashMap<>();
    private final Counter recorded;
    private final Counter dropped;
    private long sequence;
    private boolean flushing;
    private boolean flushScheduled;
    private long leaseId;
    private Instant leaseRenewAfter = Instant.MIN;
    private boolean closed;

    /**
     * @param retention how long an event lives at least; each lease lives {@code retention} plus a
     *                  sixth of it, and a new one is granted every sixth, so no event outlives
     *                  {@code retention * 7/6}
     */
    LifecycleEvents(Vertx vertx, Store store, String reporter, Clock clock, Duration retention,
                    Supplier<Optional<Leadership>> leadership, MeterRegistry registry) {
        this.vertx = vertx;
        this.store = store;
        this.keys = store.keys();
        this.reporter = reporter;
        this.clock = clock;
        this.retention = retention;
        this.leadership = leadership;
        this.recorded = Counter.builder("ferry.controller.events").description("lifecycle events written to etcd")
                .register(registry);
        this.dropped = Counter.builder("ferry.controller.events.dropped")
                .description("lifecycle events not written (etcd unreachable, leadership lost, queue full)")
                .register(registry);
    }

    /** A key changed from {@code before} to {@code after} (either null when absent). */
    void changed(Object before, Object after) {
        if (closed || (before == null && after == null) || leadership.get().isEmpty()) {
            return;
        }
        for (LifecycleEventRules.Draft draft : LifecycleEventRules.derive(before, after)) {
            Instant now = clock.instant();
            String id = LifecycleEvent.idFor(now, sequence++);
            LifecycleEvent event;
            try {
                event = LifecycleEvent.of(draft.objectKind(), draft.object(), id, draft.reason(), draft.detail(),
                        draft.node(), draft.message(), now, reporter);
            } catch (ValidationException e) {
                // A reason written by a newer Ferry may not fit our detail rule; the event still counts.
                event = LifecycleEvent.of(draft.objectKind(), draft.object(), id, draft.reason(), null, draft.node(),
                        draft.message(), now, reporter);
            }
            if (queued.size() >= MAX_QUEUED) {
                queued.pollFirst();
                dropped.increment();
            }
            queued.addLast(event);
        }
        flushSoon();
    }

    private void flushSoon() {
        if (flushScheduled || flushing || queued.isEmpty()) {
            return;
        }
        flushScheduled = true;
        vertx.setTimer(FLUSH_DELAY.toMillis(), t -> {
            flushScheduled = false;
            flush();
        });
    }

    private void flush() {
        Optional<Leadership> leading = leadership.get();
        if (closed || flushing || queued.isEmpty()) {
            return;
        }
        if (leading.isEmpty()) {
            dropped.increment(queued.size());
            queued.clear();
            return;
        }
        flushing = true;
        lease().compose(lease -> {
            Transaction txn = store.txn().requireLeadership(leading.get());
            List<LifecycleEvent> batch = new ArrayList<>();
            List<String> deletes = new ArrayList<>();
            while (!queued.isEmpty() && txn.writeCount() + 2 <= MAX_BATCH_OPS) {
                LifecycleEvent e = queued.pollFirst();
                batch.add(e);
                txn.put(keys.event(e.objectKind(), e.object(), e.id()), e, lease);
                ArrayDeque<String> ids = written.computeIfAbsent(e.objectKind() + "/" + e.object(), k -> new ArrayDeque<>());
                ids.addLast(e.id());
                if (e.reason() == EventReason.DELETED) {
                    // Its events expire with their lease; a new object of the same name starts its own count.
                    written.remove(e.objectKind() + "/" + e.object());
                } else if (ids.size() > PER_OBJECT) {
                    String oldest = ids.pollFirst();
                    String key = keys.event(e.objectKind(), e.object(), oldest);
                    deletes.add(key);
                    txn.delete(key);
                }
            }
            return txn.commit().map(outcome -> {
                if (outcome.succeeded()) {
                    recorded.increment(batch.size());
                } else {
                    dropped.increment(batch.size());
                }
                return null;
            }).onFailure(err -> dropped.increment(batch.size()));
        }).onComplete(ar -> {
            flushing = false;
            if (ar.failed()) {
                log.debug("lifecycle events not written: {}", ar.cause().getMessage());
            }
            flushSoon();
        });
    }

    /** The lease events are written on now; a new one every sixth of the retention. */
    private Future<Long> lease() {
        Instant now = clock.instant();
        if (leaseId != 0 && now.isBefore(leaseRenewAfter)) {
            return Future.succeededFuture(leaseId);
        }
        Duration bucket = retention.dividedBy(6);
        return store.grantLease(retention.plus(bucket)).map(id -> {
            leaseId = id;
            leaseRenewAfter = now.plus(bucket);
            return id;
        });
    }

    /** Forgets what it wrote: after a failover another recorder's ids are unknown, and a new leader starts afresh. */
    void deposed() {
        written.clear();
        dropped.increment(queued.size());
        queued.clear();
    }

    void close() {
        closed = true;
        queued.clear();
        written.clear();
    }
}
