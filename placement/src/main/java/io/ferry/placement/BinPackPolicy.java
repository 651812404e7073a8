package io.ferry.placement;

/**
 * Fills the fullest pool that still fits first, keeping large contiguous free space on the other
 * pools for large volumes later (the utilization argument behind disaggregation).
 */
public final class BinPackPolicy implements ScoringPolicy {
    @Override
    public double score(Request request, Candidate candidate) {
        return ScoringPolicy.utilizationAfter(request, candidate);
    }

    @Override
    public String toString() {
        return "binpack";
    }
}
