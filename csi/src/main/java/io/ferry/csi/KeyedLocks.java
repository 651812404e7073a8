package io.ferry.csi;

import io.grpc.Status;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Serializes CSI calls per key (a volume name, a volume id, a snapshot id): each key has a queue of
 * futures, and a caller's turn comes when the previous holder releases. Several keys are taken in
 * sorted order so two calls can never wait for each other.
 */
final class KeyedLocks {

    /** Releases what was acquired; idempotent. */
    interface Held extends AutoCloseable {
        @Override
        void close();
    }

    private final Map<String, CompletableFuture<Void>> tails = new HashMap<>();

    /** Queues for {@code key}; the future completes when it is this caller's turn. */
    CompletableFuture<Held> acquire(String key) {
        CompletableFuture<Void> mine = new CompletableFuture<>();
        CompletableFuture<Void> previous;
        synchronized (this) {
            previous = tails.put(key, mine);
        }
        Held held = () -> {
            synchronized (KeyedLocks.this) {
                tails.remove(key, mine);
            }
            mine.complete(null);
        };
        return previous == null ? CompletableFuture.completedFuture(held) : previous.thenApply(v -> held);
    }

    /** Holds {@code key} if nobody does, without waiting: for background work that can come back later. */
    Optional<Held> tryLock(String key) {
        CompletableFuture<Held> turn = acquire(key);
        if (turn.isDone()) {
            return Optional.of(turn.join());
        }
        // Our turn still comes later; pass it straight on.
        turn.thenAccept(Held::close);
        return Optional.empty();
    }

    /**
     * Blocks until every key is held or the call's deadline is near; then fails with ABORTED, the
     * code the CSI specification gives for "an operation on this volume is already in progress".
     */
    Held lock(String... keys) {
        List<Held> taken = new ArrayList<>();
        try {
            for (String key : new TreeSet<>(List.of(keys))) {
                CompletableFuture<Held> turn = acquire(key);
                try {
                    taken.add(turn.get(Calls.remaining().toNanos(), TimeUnit.NANOSECONDS));
                } catch (TimeoutException e) {
                    // Our turn still comes later; pass it straight on.
                    turn.thenAccept(Held::close);
                    throw Status.ABORTED.withDescription("another operation on " + key + " is in progress")
                            .asRuntimeException();
                }
            }
        } catch (RuntimeException e) {
            taken.forEach(Held::close);
            throw e;
        } catch (Exception e) {
            taken.forEach(Held::close);
            throw Status.ABORTED.withDescription("interrupted while waiting for " + String.join(", ", keys))
                    .asRuntimeException();
        }
        return () -> {
            for (int i = taken.size() - 1; i >= 0; i--) {
                taken.get(i).close();
            }
        };
    }

    synchronized int size() {
        return tails.size();
    }
}
