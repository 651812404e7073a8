package io.ferry.placement;

import io.ferry.model.GlobalConfig;

/**
 * One rule a pool must pass to take a volume. The reason is what users read in refusal counts
 * ({@code no pool fits: free space 3, spread rack 2}), so it is short and specific.
 */
public interface Filter {

    /** The reason reported for pools this filter refuses; may depend on the request (e.g. the spread level). */
    String reason(Request request);

    boolean admits(Request request, Candidate candidate, GlobalConfig global);

    /**
     * False when the filter cannot refuse any pool for this request (no selector, no spread group,
     * no cap...): the scheduler then skips it for all pools.
     */
    default boolean appliesTo(Request request, GlobalConfig global) {
        return true;
    }
}
