package io.ferry.runtime.reconcile;

import io.vertx.core.Future;

/**
 * Makes the world match the keys for one key. Must be idempotent: it may run any number of times
 * for the same state, after crashes, and with events collapsed.
 *
 * <p>Fail the returned future with {@link TerminalException} (or a validation error) when retrying
 * cannot help until the inputs change; any other failure is retried with backoff.
 */
@FunctionalInterface
public interface Reconciler {
    Future<ReconcileResult> reconcile(String key);
}
