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
     * The largest volume this filter admits on the pool for a request like this one, its size
     * aside: {@link Long#MAX_VALUE} when the size plays no part and the pool is admitted, negative
     * when it is refused at every size. Capacity reports (CSI GetCapacity) are answered from this,
     * so that they never count room the scheduler would refuse; a filter whose verdict depends on
     * the size must override it and derive {@link #admits} from it (see {@code Filters.sized}).
     */
    default long largestAdmitted(Request request, Candidate candidate, GlobalConfig global) {
        return admits(request, candidate, global) ? Long.MAX_VALUE : -1;
    }

    /**
     * False when the filter cannot refuse any pool for this request (no selector, no spread group,
     * no cap...): the scheduler then skips it for all pools.
     */
    default boolean appliesTo(Request request, GlobalConfig global) {
        return true;
    }
}
