package io.ferry.model;

import java.util.Set;

/**
 * Whether a {@code NoFit} can go away by itself: the one rule for every waiter that would rather wait
 * than give up (ferryctl's {@code --wait}, the chaos run's workload).
 */
public final class NoFitReasons {

    /**
     * Reasons that go away by themselves: a pool its agent has not reported yet (just added), a
     * node whose agent is restarting. A NoFit made only of other reasons (free space, selectors,
     * spread) will not change without the user.
     */
    public static final Set<String> TRANSIENT = Set.of("pool not reported", "pool unhealthy", "node down");

    private NoFitReasons() {
    }

    /**
     * A NoFit naming any reason that goes away by itself. Waiting for a source to be placed is not a
     * NoFit: the record says {@code SourceNotPlaced}, which is not terminal.
     */
    public static boolean mayResolveByItself(VolumeScheduling s) {
        return s.reasonCounts().keySet().stream().anyMatch(TRANSIENT::contains);
    }
}
