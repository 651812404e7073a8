package io.ferry.runtime.reconcile;

import java.time.Duration;

/** How a successful reconcile wants to be followed up: not at all, or again after a delay. */
public record ReconcileResult(Duration requeueAfter) {

    private static final ReconcileResult DONE = new ReconcileResult(null);

    public static ReconcileResult done() {
        return DONE;
    }

    /** Run again after the delay even if nothing changes, e.g. to poll a slow external operation. */
    public static ReconcileResult requeueAfter(Duration delay) {
        return new ReconcileResult(delay);
    }
}
