package io.ferry.placement;

/** Puts each volume on the emptiest pool, spreading load and blast radius across nodes. */
public final class SpreadPolicy implements ScoringPolicy {
    @Override
    public double score(Request request, Candidate candidate) {
        return 1.0 - ScoringPolicy.utilizationAfter(request, candidate);
    }

    @Override
    public String toString() {
        return "spread";
    }
}
