package io.ferry.csi;

import io.ferry.runtime.informer.InformerHandler;
import io.ferry.etcd.store.Versioned;

import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;

/**
 * The waits of the CSI calls on a {@link ClusterView}: each pending condition re-evaluated after
 * every change the view's informers deliver, and the count of those changes.
 */
final class ViewWaits {

    private final Set<Waiter<?>> waiters = ConcurrentHashMap.newKeySet();
    /** Changes (upserts and deletions, first listings included) the informers delivered to the view. */
    private final LongAdder changes = new LongAdder();

    /** A handler that counts each change and re-evaluates every pending wait. */
    <T> InformerHandler<T> wake() {
        return new InformerHandler<>() {
            @Override
            public void onUpsert(Versioned<T> current, Versioned<T> previous) {
                changes.increment();
                recheck();
            }

            @Override
            public void onDelete(String key, Versioned<T> lastKnown) {
                changes.increment();
                recheck();
            }

            @Override
            public void onSynced(long revision) {
                recheck();
            }
        };
    }

    long changesReceived() {
        return changes.sum();
    }

    /**
     * Waits until {@code condition} returns a value, re-evaluating it after every change the
     * watches deliver. The condition runs on informer threads and must only read this view; it may
     * throw (typically a gRPC status) to end the wait with that failure.
     */
    <T> CompletableFuture<T> await(Supplier<Optional<T>> condition, Duration timeout) {
        Waiter<T> waiter = new Waiter<>(condition);
        // Registered before the first evaluation, so a change landing in between is not missed.
        waiters.add(waiter);
        waiter.check();
        waiter.result.orTimeout(Math.max(1, timeout.toMillis()), TimeUnit.MILLISECONDS)
                .whenComplete((v, e) -> waiters.remove(waiter));
        return waiter.result;
    }

    void recheck() {
        for (Waiter<?> waiter : waiters) {
            waiter.check();
        }
    }

    private static final class Waiter<T> {
        final Supplier<Optional<T>> condition;
        final CompletableFuture<T> result = new CompletableFuture<>();

        Waiter(Supplier<Optional<T>> condition) {
            this.condition = condition;
        }

        void check() {
            if (result.isDone()) {
                return;
            }
            try {
                condition.get().ifPresent(result::complete);
            } catch (RuntimeException e) {
                result.completeExceptionally(e);
            }
        }
    }

    /** Ends every pending wait: the view is closing. */
    void cancelAll() {
        for (Waiter<?> waiter : waiters) {
            waiter.result.cancel(false);
        }
    }
}
