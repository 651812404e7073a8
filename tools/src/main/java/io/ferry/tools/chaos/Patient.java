package io.ferry.tools.chaos;

import io.vertx.core.Future;

import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/**
 * Calls etcd and waits for outcomes across the outages the chaos run causes: a call that fails (no
 * leader, quorum lost, a member killed under the client) is tried again with a growing pause until its
 * deadline. Only the deadline, never a failed call, ends a step; it is generous, so that a slow,
 * shared machine is not mistaken for a bug.
 */
final class Patient {

    /** A step that did not reach its outcome before its deadline; {@code waitingFor} says what was missing. */
    static final class StuckException extends Exception {
        StuckException(String message) {
            super(message);
        }
    }

    /** What one look at the records says: done (with a value), still waiting (and for what). */
    sealed interface Look<T> permits Ready, Waiting {
    }

    record Ready<T>(T value) implements Look<T> {
    }

    record Waiting<T>(String forWhat) implements Look<T> {
    }

    private final Duration deadline;

    Patient(Duration deadline) {
        this.deadline = deadline;
    }

    Duration deadline() {
        return deadline;
    }

    /** One etcd call, tried until it answers or the deadline passes. */
    <T> T call(String what, Supplier<Future<T>> call) throws StuckException, InterruptedException {
        long end = System.nanoTime() + deadline.toNanos();
        long pause = 100;
        Throwable last = null;
        while (System.nanoTime() < end) {
            try {
                return call.get().toCompletionStage().toCompletableFuture().get(15, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                last = e.getCause();
            } catch (TimeoutException e) {
                last = e;
            }
            Thread.sleep(pause);
            pause = Math.min(2000, pause * 2);
        }
        throw new StuckException(what + ": etcd did not answer within " + deadline.toSeconds() + " s"
                + (last == null ? "" : " (last error: " + last.getMessage() + ")"));
    }

    interface Check<T> {
        Look<T> look() throws StuckException, InterruptedException, Violation;
    }

    /**
     * Looks at the records until {@code check} says ready. The looks are cheap reads spaced by a
     * growing pause (at most a second); what decides is always the records, never the time waited.
     */
    <T> T until(String what, Check<T> check) throws StuckException, InterruptedException, Violation {
        long end = System.nanoTime() + deadline.toNanos();
        long pause = 50;
        String waitingFor = what;
        while (true) {
            Look<T> look = check.look();
            if (look instanceof Ready<T> ready) {
                return ready.value();
            }
            waitingFor = ((Waiting<T>) look).forWhat();
            if (System.nanoTime() > end) {
                throw new StuckException(what + " not done after " + deadline.toSeconds() + " s: waiting for " + waitingFor);
            }
            Thread.sleep(pause);
            pause = Math.min(1000, pause * 2);
        }
    }
}
