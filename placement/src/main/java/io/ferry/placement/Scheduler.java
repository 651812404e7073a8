package io.ferry.placement;

import io.ferry.model.GlobalConfig;
import io.ferry.model.PositionAdvice;
import io.ferry.model.Sizes;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Chooses a pool for a volume: every pool goes through every filter (the shared rules no policy
 * can override); the survivors are ranked first by the tier of their position relative to the
 * consumer ({@link #tier}: a {@code PreferLocal} volume goes to a pool on its consumer's node
 * whenever one fits), then by the configured policy's score, and the best wins; ties go to the
 * pool name that sorts first (for a spread-group member, to a fixed order scattered over the names:
 * {@link #breaksTie}), so decisions are reproducible.
 *
 * <p>Pure and stateless apart from its configuration: safe to call from any thread.
 */
public final class Scheduler {

    private final List<Filter> filters;

    public Scheduler() {
        this(Filters.ALL);
    }

    public Scheduler(List<Filter> filters) {
        this.filters = List.copyOf(filters);
    }

    /**
     * @param explain keep a verdict for every pool (for the explain endpoint); costs an allocation per pool
     */
    public Decision decide(Request request, Iterable<Candidate> candidates, GlobalConfig global, ScoringPolicy policy,
                           boolean explain) {
        // Only the filters that can refuse something for this request run, and refusals are counted
        // by index: the per-pool loop allocates nothing unless an explanation was asked for.
        List<Filter> active = new ArrayList<>(filters.size());
        for (Filter filter : filters) {
            if (filter.appliesTo(request, global)) {
                active.add(filter);
            }
        }
        Filter[] checks = active.toArray(Filter[]::new);
        int[] refusedBy = new int[checks.length];
        Map<String, Integer> counts = new HashMap<>();
        List<PoolVerdict> verdicts = explain ? new ArrayList<>() : null;
        Candidate best = null;
        double bestScore = Double.NEGATIVE_INFINITY;
        int bestTier = Integer.MAX_VALUE;
        boolean tiered = isTiered(request);
        boolean grouped = request.intent().spreadGroup() != null;
        for (Candidate candidate : candidates) {
            String failed = candidate.staticRefusal();
            if (failed != null) {
                counts.merge(failed, 1, Integer::sum);
            } else {
                for (int i = 0; i < checks.length; i++) {
                    if (!checks[i].admits(request, candidate, global)) {
                        refusedBy[i]++;
                        failed = explain ? checks[i].reason(request) : "";
                        break;
                    }
                }
            }
            if (failed != null) {
                if (explain) {
                    verdicts.add(new PoolVerdict(candidate.pool(), candidate.node(), failed, 0, freeOrZero(request, candidate)));
                }
                continue;
            }
            int tier = tiered ? tier(request, candidate) : 0;
            double score = policy.score(request, candidate);
            if (explain) {
                verdicts.add(new PoolVerdict(candidate.pool(), candidate.node(), null, score, candidate.free(request.thin()), tier));
            }
            if (tier < bestTier || tier == bestTier
                    && (score > bestScore || score == bestScore && breaksTie(grouped, candidate, best))) {
                best = candidate;
                bestScore = score;
                bestTier = tier;
            }
        }
        for (int i = 0; i < checks.length; i++) {
            if (refusedBy[i] > 0) {
                counts.merge(checks[i].reason(request), refusedBy[i], Integer::sum);
            }
        }
        if (explain) {
            verdicts.sort((a, b) -> a.passed() != b.passed() ? (a.passed() ? -1 : 1)
                    : !a.passed() ? a.pool().compareTo(b.pool())
                    : a.tier() != b.tier() ? Integer.compare(a.tier(), b.tier()) : Double.compare(b.score(), a.score()));
        }
        return new Decision(best, best == null ? 0 : bestScore, new TreeMap<>(counts), verdicts);
    }

    /** The reason the pool would be refused for this request, or null if it passes; for tests and tools. */
    public String firstFailure(Request request, Candidate candidate, GlobalConfig global) {
        if (candidate.staticRefusal() != null) {
            return candidate.staticRefusal();
        }
        for (Filter filter : filters) {
            if (filter.appliesTo(request, global) && !filter.admits(request, candidate, global)) {
                return filter.reason(request);
            }
        }
        return null;
    }

    /**
     * The largest volume like {@code request} (whatever its own size) that the pool would take: the
     * smallest limit of the filters that apply, in whole allocation units; 0 when the pool refuses
     * such a volume at any size. What the pool contributes to a capacity report, by the very rules
     * that place volumes.
     */
    public long largestFit(Request request, Candidate candidate, GlobalConfig global) {
        if (candidate.staticRefusal() != null) {
            return 0;
        }
        long largest = Long.MAX_VALUE;
        for (Filter filter : filters) {
            if (filter.appliesTo(request, global)) {
                largest = Math.min(largest, filter.largestAdmitted(request, candidate, global));
            }
        }
        return largest <= 0 ? 0 : largest / Sizes.ALIGNMENT * Sizes.ALIGNMENT;
    }

    private static long freeOrZero(Request request, Candidate candidate) {
        return candidate.status() == null ? 0 : candidate.free(request.thin());
    }

    /**
     * Whether {@code candidate} wins a tie of tier and score against {@code best}. Normally the pool
     * name that sorts first. For a member of a spread group, the name whose hash ({@link #scatter})
     * is smallest: pools named in sequence are on neighbouring nodes of the same racks, and binpack
     * opening equally empty pools in name order leaves the cluster's last free space in the few
     * racks whose names sort last, where a group whose first members landed there has no room for
     * its third (the simulator's seed 3 refused one at 92.9 % full; with this order 99.0 %). A fixed
     * hash keeps decisions reproducible.
     */
    static boolean breaksTie(boolean grouped, Candidate candidate, Candidate best) {
        if (grouped) {
            int a = scatter(candidate.pool().hashCode());
            int b = scatter(best.pool().hashCode());
            if (a != b) {
                return a < b;
            }
        }
        return candidate.pool().compareTo(best.pool()) < 0;
    }

    /** Spreads neighbouring hashes (names differing in their last character) over the int range. */
    static int scatter(int hash) {
        int h = hash * 0x9E3779B9;
        return h ^ (h >>> 16);
    }

    /** Whether the request's position advice ranks pools in tiers (a preference and a consumer to prefer it to). */
    static boolean isTiered(Request request) {
        PositionAdvice advice = request.intent().positionAdvice();
        return request.intent().consumerNode() != null
                && (advice == PositionAdvice.PREFER_LOCAL || advice == PositionAdvice.PREFER_REMOTE);
    }

    /**
     * 0 for the pools the position advice prefers (on the consumer's node for {@code PreferLocal},
     * off it for {@code PreferRemote}), 1 for the others: a preferred pool that fits always wins
     * over any other, whatever the policy's scores; the policy ranks pools within a tier.
     */
    static int tier(Request request, Candidate candidate) {
        boolean local = request.localTo(candidate);
        return request.intent().positionAdvice() == PositionAdvice.PREFER_LOCAL == local ? 0 : 1;
    }
}
