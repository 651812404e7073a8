package io.ferry.placement;

import io.ferry.model.SchedulerPolicyName;

/**
 * Ranks the pools that passed every filter; higher is better. Scores are in [0, 1] so that the
 * scheduler's local-affinity bonus weighs the same under every policy.
 */
public interface ScoringPolicy {

    double score(Request request, Candidate candidate);

    static ScoringPolicy named(SchedulerPolicyName name) {
        return switch (name) {
            case BINPACK -> new BinPackPolicy();
            case SPREAD -> new SpreadPolicy();
        };
    }

    /** Fraction of the pool's usable capacity that would be allocated once the volume is placed. */
    static double utilizationAfter(Request request, Candidate candidate) {
        long capacity = candidate.effectiveCapacity(request.thin());
        if (capacity <= 0) {
            return 1.0;
        }
        double used = (double) (candidate.allocated() + request.sizeBytes()) / capacity;
        return Math.min(1.0, Math.max(0.0, used));
    }
}
