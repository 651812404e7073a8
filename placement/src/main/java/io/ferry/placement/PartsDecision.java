package io.ferry.placement;

import java.util.List;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The outcome of placing every part of one volume (the legs of a mirror, or the segments of a
 * linear volume) in one decision: all parts, or none and the number of pools refused for each
 * reason.
 *
 * @param parts        the chosen pools and the bytes each part takes, in part order; empty when refused
 * @param reasonCounts why not, when refused: the counts of the part that could not be placed, as a
 *                     single volume's decision gives them, plus {@link #fewerDomainsThanLegs} for a
 *                     mirror short of failure domains
 * @param legs         for a mirror, the decision of each leg tried, in order (the last one the refused
 *                     leg when refused), with the per-pool verdicts when an explanation was asked for;
 *                     likewise each stripe's for a striped volume; empty for segments
 */
public record PartsDecision(List<Part> parts, SortedMap<String, Integer> reasonCounts, List<Decision> legs) {

    /**
     * One part: the pool as it was given to the scheduler (its ledger revision is what a commit
     * guards on) and the bytes the part takes from it.
     */
    public record Part(Candidate pool, long sizeBytes) {
    }

    public PartsDecision {
        parts = List.copyOf(parts);
        reasonCounts = new TreeMap<>(reasonCounts);
        legs = List.copyOf(legs);
    }

    /**
     * The reason a mirror is refused when the legs placed so far took every failure domain that could
     * hold a leg; counted in legs left without a domain of their own.
     */
    /** Why a striped volume is refused when pools took some of its stripes but too few remain for the rest. */
    public static final String FEWER_POOLS_THAN_STRIPES = "fewer pools than stripes";

    public static String fewerDomainsThanLegs(String level) {
        return "fewer " + level + " domains than legs";
    }

    public boolean placed() {
        return !parts.isEmpty();
    }

    /** {@code no pool fits: spread rack 4, fewer rack domains than legs 1}, as {@link Decision#refusal()} words it. */
    public String refusal() {
        return Decision.refusal(reasonCounts);
    }
}
