package io.ferry.tools.bench;

import io.vertx.core.Future;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * How the scale run waits within one step: for a condition it polls, or for an etcd call. Either is
 * bounded by the step timeout; past it the wait throws, which the run records as a violation and
 * which stops it.
 */
final class StepWaits {

    private final Duration stepTimeout;

    StepWaits(Duration stepTimeout) {
        this.stepTimeout = stepTimeout;
    }

    /** Polls every 50 ms. */
    void require(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + stepTimeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("waited " + stepTimeout.toSeconds() + " s for " + what);
            }
            Thread.sleep(50);
        }
    }

    <T> T await(Future<T> future) {
        try {
            return future.toCompletionStage().toCompletableFuture().get(stepTimeout.toSeconds(), TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("an etcd step of the scale run failed: " + e.getMessage(), e);
        }
    }
}
