package io.ferry.runtime.reconcile;

import java.time.Duration;

/**
 * @param concurrency  reconciles running at once across all keys (never more than one per key)
 * @param initialDelay first retry delay after a retryable failure; doubles with each further failure
 * @param maxDelay     cap of the retry delay
 */
public record RuntimeOptions(int concurrency, Duration initialDelay, Duration maxDelay) {

    public RuntimeOptions {
        if (concurrency < 1) {
            throw new IllegalArgumentException("concurrency must be at least 1, was " + concurrency);
        }
        if (initialDelay.isNegative() || initialDelay.isZero() || maxDelay.compareTo(initialDelay) < 0) {
            throw new IllegalArgumentException("need 0 < initialDelay <= maxDelay, got " + initialDelay + " and " + maxDelay);
        }
    }

    public static RuntimeOptions defaults() {
        return new RuntimeOptions(16, Duration.ofMillis(500), Duration.ofSeconds(60));
    }

    public RuntimeOptions withConcurrency(int value) {
        return new RuntimeOptions(value, initialDelay, maxDelay);
    }

    public RuntimeOptions withDelays(Duration initial, Duration max) {
        return new RuntimeOptions(concurrency, initial, max);
    }
}
