package io.ferry.tools.bench;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;

import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntFunction;

/**
 * The scale run's calls to the CSI controller service, made as a CO makes them: many at a time, and
 * a call that ran out of time or found etcd slow made again until the step's timeout.
 */
final class ParallelCalls {

    private static final Set<Status.Code> RETRIED = EnumSet.of(Status.Code.UNAVAILABLE,
            Status.Code.DEADLINE_EXCEEDED, Status.Code.ABORTED);

    private final ExecutorService pool;
    private final Duration stepTimeout;
    private final PrintWriter out;
    /** Calls made again after UNAVAILABLE, DEADLINE_EXCEEDED or ABORTED. */
    private final AtomicInteger retries = new AtomicInteger();

    ParallelCalls(ExecutorService pool, Duration stepTimeout, PrintWriter out) {
        this.pool = pool;
        this.stepTimeout = stepTimeout;
        this.out = out;
    }

    /** The calls made again since the last time this was asked. */
    int takeRetries() {
        return retries.getAndSet(0);
    }

    /** Runs {@code count} calls on the pool; returns how many failed (the first few are printed). */
    int run(int count, IntFunction<Runnable> call) throws InterruptedException {
        AtomicInteger failures = new AtomicInteger();
        AtomicInteger done = new AtomicInteger();
        List<CompletableFuture<Void>> running = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            Runnable r = call.apply(i);
            running.add(CompletableFuture.runAsync(() -> {
                try {
                    long deadline = System.nanoTime() + stepTimeout.toNanos();
                    while (true) {
                        try {
                            r.run();
                            break;
                        } catch (StatusRuntimeException e) {
                            // As a CO does: a call that ran out of time or found etcd slow is made again.
                            if (!RETRIED.contains(e.getStatus().getCode()) || System.nanoTime() > deadline) {
                                throw e;
                            }
                            retries.incrementAndGet();
                            Thread.sleep(200);
                        }
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } catch (RuntimeException e) {
                    if (failures.incrementAndGet() <= 5) {
                        synchronized (out) {
                            out.println("call failed: " + e.getMessage());
                        }
                    }
                } finally {
                    done.incrementAndGet();
                }
            }, pool));
        }
        long started = System.nanoTime();
        while (done.get() < count) {
            Thread.sleep(200);
            if (System.nanoTime() - started > TimeUnit.SECONDS.toNanos(15)) {
                started = System.nanoTime();
                synchronized (out) {
                    out.printf("  %d of %d calls done%n", done.get(), count);
                    out.flush();
                }
            }
        }
        for (CompletableFuture<Void> f : running) {
            try {
                f.get();
            } catch (ExecutionException e) {
                failures.incrementAndGet();
            }
        }
        return failures.get();
    }
}
