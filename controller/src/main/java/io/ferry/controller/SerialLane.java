package io.ferry.controller;

import io.vertx.core.Future;
import io.vertx.core.Promise;

import java.util.ArrayDeque;
import java.util.function.Supplier;

/**
 * Runs asynchronous tasks one at a time, in submission order. Every commit that changes a pool's
 * ledger goes through one lane, so the leader never races itself for the same ledger revision; a
 * second controller is kept out by the leadership guard instead. Confined to one Vert.x context.
 */
final class SerialLane {

    private final ArrayDeque<Runnable> waiting = new ArrayDeque<>();
    private boolean busy;
    private boolean draining;

    <T> Future<T> submit(Supplier<Future<T>> task) {
        Promise<T> result = Promise.promise();
        waiting.add(() -> {
            Future<T> running;
            try {
                running = task.get();
            } catch (RuntimeException e) {
                running = Future.failedFuture(e);
            }
            running.onComplete(ar -> {
                result.handle(ar);
                busy = false;
                next();
            });
        });
        next();
        return result.future();
    }

    // A loop rather than recursion: tasks that complete synchronously must not grow the stack.
    private void next() {
        if (draining) {
            return;
        }
        draining = true;
        try {
            while (!busy && !waiting.isEmpty()) {
                busy = true;
                waiting.poll().run();
            }
        } finally {
            draining = false;
        }
    }
}
