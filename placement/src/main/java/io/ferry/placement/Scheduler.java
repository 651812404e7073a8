package io.ferry.placement;

import io.ferry.model.FailureDomainLevel;
import io.ferry.model.GlobalConfig;
import io.ferry.model.PositionAdvice;
import io.ferry.model.Sizes;
import io.ferry.placement.PartsDecision.Part;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
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

    /** The most legs a mirror may have: a third copy is the last one worth its space and its writes. */
    public static final int MAX_LEGS = 3;
    /** The most stripes a striped volume may have: one more device to connect each, and one more node whose loss takes it. */
    public static final int MAX_STRIPES = 4;

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

    /**
     * Places the {@code legs} legs of a mirrored volume in one decision, all or none. Every leg passes
     * the filters a volume of one part passes and takes the volume's size; the legs are pairwise in
     * distinct failure domains at the intent's level, and apart from the other members of its spread
     * group if it has one. The domains of the legs already chosen are taken for the next leg, so a
     * pool in one of them is refused as {@code spread <level>}; and, as for a spread-group member, a
     * pool whose node does not show its domain at that level cannot prove it is elsewhere. The space a
     * leg takes is subtracted from its pool before the next leg is chosen.
     *
     * <p>Legs are chosen one after another, each by {@link #decide}: the first where a volume of one
     * part would go, each next one the best pool outside the domains taken. That order loses no
     * placement: the legs are all the same size, and a leg in one domain changes nothing a filter reads
     * of a pool in another (free space, disk, remote cap and labels are per pool or per node, and a
     * node lies in one domain), so when N domains can each hold a leg, N legs are placed whichever
     * domains the first ones take. A leg after the first that finds no pool therefore means that fewer
     * domains than legs can hold one, which the refusal says with {@link PartsDecision#fewerDomainsThanLegs}.
     *
     * @param legs    1 to {@link #MAX_LEGS}; 1 is a volume of one part
     * @param explain keep every pool's verdict in each leg's decision
     * @throws IllegalArgumentException when {@code legs} is out of range
     */
    public PartsDecision decideLegs(Request request, int legs, Iterable<Candidate> candidates, GlobalConfig global,
                                    ScoringPolicy policy, boolean explain) {
        if (legs < 1 || legs > MAX_LEGS) {
            throw new IllegalArgumentException("a mirror has 1 to " + MAX_LEGS + " legs, not " + legs);
        }
        // The pools as given stay beside the pools the scheduler reads, whose ledgers carry the legs
        // placed so far: a part names its pool as given, whose ledger revision guards the commit.
        List<Candidate> given = new ArrayList<>();
        candidates.forEach(given::add);
        List<Candidate> pools = new ArrayList<>(given);
        FailureDomainLevel level = request.intent().failureDomainLevel();
        Set<String> legDomains = new HashSet<>();
        List<Part> parts = new ArrayList<>(legs);
        List<Decision> decisions = new ArrayList<>(legs);
        for (int leg = 0; leg < legs; leg++) {
            Decision decision = decide(request.forLeg(legs, legDomains), pools, global, policy, explain);
            decisions.add(decision);
            Candidate chosen = decision.chosen();
            if (chosen == null) {
                SortedMap<String, Integer> reasons = new TreeMap<>(decision.reasonCounts());
                // Without the spread rule (the simulator's baselines) legs need no domains of their own.
                if (leg > 0 && filters.contains(Filters.SPREAD)) {
                    reasons.put(PartsDecision.fewerDomainsThanLegs(level.value()), legs - leg);
                }
                return new PartsDecision(List.of(), reasons, decisions);
            }
            int at = indexOf(pools, chosen);
            parts.add(new Part(given.get(at), request.sizeBytes()));
            pools.set(at, chosen.withLedger(chosen.ledger().add(request.sizeBytes()), chosen.ledgerRevision()));
            String domain = chosen.domain(level);
            if (domain != null) {
                legDomains.add(domain);
            }
        }
        return new PartsDecision(parts, new TreeMap<>(), decisions);
    }

    /** Why a pool is refused for the leg that replaces a lost one: the lost leg's own pool. */
    public static final String LOST_LEG_POOL = "the lost leg's pool";

    /**
     * Places one leg of a mirror of {@code legs} legs, in place of a leg declared lost, by the rules of
     * {@link #decideLegs}: in a failure domain none of the surviving legs is in ({@code survivingDomains},
     * at the intent's level), and never on {@code lostPool}, the pool the lost leg is on. Whatever made
     * the leg lost (a dead disk, a pool that returns errors) is most likely still there, and the lost
     * leg's space is not released until its deletion.
     *
     * @return a decision of one part, or none with the refusals counted per reason
     */
    public PartsDecision decideReplacementLeg(Request request, int legs, Set<String> survivingDomains, String lostPool,
                                              Iterable<Candidate> candidates, GlobalConfig global, ScoringPolicy policy,
                                              boolean explain) {
        if (legs < 2 || legs > MAX_LEGS) {
            throw new IllegalArgumentException("a mirror whose leg is replaced has 2 to " + MAX_LEGS + " legs, not " + legs);
        }
        List<Candidate> pools = new ArrayList<>();
        int skipped = 0;
        for (Candidate candidate : candidates) {
            if (candidate.pool().equals(lostPool)) {
                skipped++;
            } else {
                pools.add(candidate);
            }
        }
        Decision decision = decide(request.forLeg(legs, survivingDomains), pools, global, policy, explain);
        if (decision.chosen() == null) {
            SortedMap<String, Integer> reasons = new TreeMap<>(decision.reasonCounts());
            if (skipped > 0) {
                reasons.merge(LOST_LEG_POOL, skipped, Integer::sum);
            }
            return new PartsDecision(List.of(), reasons, List.of(decision));
        }
        return new PartsDecision(List.of(new Part(decision.chosen(), request.sizeBytes())), new TreeMap<>(),
                List.of(decision));
    }

    /**
     * Places a striped volume's {@code stripes} equal stripes, all or none, each on a pool of its own:
     * two stripes on one pool would share its disks, and interleaving them would only add a layer.
     * Each stripe passes every filter a volume of one part of its size passes and is ranked by the
     * scoring policy, so position advice and spread groups act on every stripe; the pools chosen
     * for earlier stripes are out of the running for later ones. Choosing one by one misses no
     * placement that exists: the stripes are the same size, so any pool that admits one admits any.
     * Stripes may share a node or a failure domain: a striped volume has no redundancy to keep apart.
     *
     * @param request the request of one stripe: a single volume of the stripe's size
     * @return every stripe's pool, or none with the refusals counted per reason
     * @throws IllegalArgumentException when {@code stripes} is outside 2 to 4
     */
    public PartsDecision decideStripes(Request request, int stripes, Iterable<Candidate> candidates, GlobalConfig global,
                                       ScoringPolicy policy, boolean explain) {
        if (stripes < 2 || stripes > MAX_STRIPES) {
            throw new IllegalArgumentException("a striped volume has 2 to " + MAX_STRIPES + " stripes, not " + stripes);
        }
        List<Candidate> pools = new ArrayList<>();
        candidates.forEach(pools::add);
        List<Part> parts = new ArrayList<>(stripes);
        List<Decision> decisions = new ArrayList<>(stripes);
        for (int stripe = 0; stripe < stripes; stripe++) {
            Decision decision = decide(request, pools, global, policy, explain);
            decisions.add(decision);
            Candidate chosen = decision.chosen();
            if (chosen == null) {
                SortedMap<String, Integer> reasons = new TreeMap<>(decision.reasonCounts());
                if (stripe > 0) {
                    reasons.put(PartsDecision.FEWER_POOLS_THAN_STRIPES, stripes - stripe);
                }
                return new PartsDecision(List.of(), reasons, decisions);
            }
            parts.add(new Part(chosen, request.sizeBytes()));
            pools.remove(indexOf(pools, chosen));
        }
        return new PartsDecision(parts, new TreeMap<>(), decisions);
    }

    /**
     * Places a linear volume in at most {@code maxSegments} segments, all or none: segments whose
     * sizes sum to the volume's size exactly, each on a pool of its own and within what that pool
     * admits by every filter ({@link #largestFit}: free space and the disk included), so no pool is
     * overcommitted. Segments may share a failure domain: a linear volume has no redundancy to keep
     * apart. Position advice ranks nothing here; {@code MustLocal} and {@code MustRemote} still filter.
     *
     * <p>It fills the pools with the most room first, each to the brim before opening the next (ties
     * to the pool name that sorts first, so decisions are reproducible), which gives the fewest
     * segments that can hold the volume. Fewer is better: every segment is one more device the
     * consumer connects and assembles, and one more node whose loss takes the whole volume with it.
     * Equal stripes for a striped volume are another rule, not this one.
     *
     * @param maxSegments at least 1; fewer segments are used when they suffice
     * @throws IllegalArgumentException when {@code maxSegments} is below 1
     */
    public PartsDecision decideSegments(Request request, int maxSegments, Iterable<Candidate> candidates,
                                        GlobalConfig global) {
        if (maxSegments < 1) {
            throw new IllegalArgumentException("a volume has at least 1 segment, not " + maxSegments);
        }
        // Whether a pool takes any segment at all is asked with the smallest one: asked with the
        // volume's size, a pool with room for a part of it would be refused for free space.
        Request smallest = new Request(request.intent().withSizeBytes(Sizes.ALIGNMENT), request.requiredPool(),
                request.takenDomains(), request.consumer());
        SortedMap<String, Integer> counts = new TreeMap<>();
        List<Part> room = new ArrayList<>();
        for (Candidate candidate : candidates) {
            long fit = largestFit(request, candidate, global);
            if (fit > 0) {
                room.add(new Part(candidate, fit));
            } else {
                counts.merge(firstFailure(smallest, candidate, global), 1, Integer::sum);
            }
        }
        room.sort(Comparator.comparingLong(Part::sizeBytes).reversed().thenComparing(p -> p.pool().pool()));
        List<Part> parts = new ArrayList<>();
        long left = request.sizeBytes();
        for (int i = 0; i < room.size() && parts.size() < maxSegments && left > 0; i++) {
            long segment = Math.min(left, room.get(i).sizeBytes());
            parts.add(new Part(room.get(i).pool(), segment));
            left -= segment;
        }
        if (left > 0) {
            if (!room.isEmpty()) {
                counts.merge(Filters.FREE_SPACE.reason(request), room.size(), Integer::sum);
            }
            return new PartsDecision(List.of(), counts, List.of());
        }
        return new PartsDecision(parts, new TreeMap<>(), List.of());
    }

    private static int indexOf(List<Candidate> pools, Candidate candidate) {
        for (int i = 0; i < pools.size(); i++) {
            if (pools.get(i) == candidate) {
                return i;
            }
        }
        throw new IllegalStateException("the scheduler chose " + candidate.pool() + ", which it was not given");
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
