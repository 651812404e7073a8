package io.ferry.tools.bench;

import io.ferry.placement.BinPackPolicy;
import io.ferry.placement.Candidate;
import io.ferry.placement.Filter;
import io.ferry.placement.Filters;
import io.ferry.placement.PartsDecision;
import io.ferry.placement.PartsDecision.Part;
import io.ferry.placement.Request;
import io.ferry.placement.Scheduler;
import io.ferry.placement.ScoringPolicy;
import io.ferry.placement.SpreadPolicy;
import io.ferry.model.Engine;
import io.ferry.model.FailureDomainLevel;
import io.ferry.model.GlobalConfig;
import io.ferry.model.Ledger;
import io.ferry.model.NodeRegistration;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolSource;
import io.ferry.model.PoolStatus;
import io.ferry.model.PositionAdvice;
import io.ferry.model.VolumeIntent;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;

/**
 * Places a seeded stream of volume requests on a synthetic heterogeneous cluster, one after another,
 * with the real {@link Scheduler} and real ledger updates, once per strategy, and compares how much
 * of the cluster each strategy fills before it first refuses a volume, how much it fills by the end
 * of the stream, and how many spread-group members it puts in a failure domain another member of
 * the group already uses. With {@code --legs N} every volume is a mirror of N legs, placed in one
 * decision ({@link Scheduler#decideLegs}), and it also counts the volumes with two legs in one failure
 * domain at the intent's level and the pools overcommitted.
 *
 * <pre>
 * java -cp 'tools/target/ferry-tools-0.1.0-SNAPSHOT.jar:tools/target/lib/*' io.ferry.tools.bench.PlacementSimulator
 *      [--seeds 1,2,3] [--racks-per-switch 4] [--nodes-per-rack 8] [--load 1.3] [--legs 1]
 * </pre>
 */
public final class PlacementSimulator {

    static final long GI = 1L << 30;
    static final long TI = 1L << 40;
    static final Instant T = Instant.parse("2026-11-21T10:00:00Z");

    /** Cluster shape and stream length. */
    record Config(long seed, int zones, int switchesPerZone, int racksPerSwitch, int nodesPerRack, double load) {
        static Config defaults(long seed) {
            return new Config(seed, 3, 2, 4, 8, 1.3);
        }
    }

    /** A named way of choosing pools: the filters that apply and the score that ranks survivors. */
    record Strategy(String name, List<Filter> filters, ScoringPolicy policy) {
    }

    /**
     * @param legViolations legs placed in a failure domain (at the intent's level) another leg of the same
     *                      volume took, or in none the pool's node shows
     * @param overcommits   parts placed on a pool without the room for them
     */
    record Result(String strategy, int requests, int placed, int refusals, int spreadViolations, int legViolations,
                  int overcommits, double filledAtFirstRefusal, double filledAtEnd, double localShare, int couldBeLocal, int localWhenCould,
                  Map<String, Integer> refusalReasons) {

        /** Among the PreferLocal requests some pool on the consumer's node could take when they came, those placed there. */
        double localHitWhenCould() {
            return couldBeLocal == 0 ? 0 : (double) localWhenCould / couldBeLocal;
        }
    }

    /** Ferry's filters without the spread filter: what a spread-unaware scheduler admits. */
    static List<Filter> withoutSpread() {
        List<Filter> filters = new ArrayList<>(Filters.ALL);
        filters.remove(Filters.SPREAD);
        return filters;
    }

    static List<Strategy> strategies(List<Candidate> cluster) {
        long largest = cluster.stream().mapToLong(c -> c.effectiveCapacity(false)).max().orElse(1);
        // LiteIO-style LeastResource: the pool with the least free bytes left after placing wins.
        ScoringPolicy leastResource = (r, c) -> 1.0 - (double) (c.free(r.thin()) - r.sizeBytes()) / largest;
        // OpenEBS-LVM-style SpaceWeighted: the pool (volume group) with the most free bytes wins.
        ScoringPolicy spaceWeighted = (r, c) -> (double) c.free(r.thin()) / largest;
        return List.of(
                new Strategy("ferry-binpack", Filters.ALL, new BinPackPolicy()),
                new Strategy("ferry-spread", Filters.ALL, new SpreadPolicy()),
                new Strategy("liteio-leastresource", withoutSpread(), leastResource),
                new Strategy("openebs-spaceweighted", withoutSpread(), spaceWeighted));
    }

    // ---------------------------------------------------------------- cluster and stream

    /**
     * Compute-heavy nodes (about 60 %) carry one small pool (0.5-2 TiB); storage-heavy nodes carry
     * two or three large ones (4-16 TiB). Every node has zone, switch and rack labels.
     */
    static List<Candidate> cluster(Config config, GlobalConfig global) {
        SplittableRandom random = new SplittableRandom(config.seed() * 31 + 1);
        List<Candidate> result = new ArrayList<>();
        int node = 0;
        for (int z = 0; z < config.zones(); z++) {
            for (int s = 0; s < config.switchesPerZone(); s++) {
                for (int r = 0; r < config.racksPerSwitch(); r++) {
                    String rack = String.format("z%d-s%d-r%d", z, s, r);
                    for (int n = 0; n < config.nodesPerRack(); n++, node++) {
                        String name = String.format("node%04d", node);
                        boolean storage = random.nextInt(10) < 4;
                        Map<String, String> labels = Map.of("zone", "z" + z, "switch", String.format("z%d-s%d", z, s),
                                "rack", rack, "role", storage ? "storage" : "compute");
                        NodeRegistration registration = NodeRegistration.of(name, "10.1." + (node >> 8) + "." + (node & 255), null,
                                BenchCluster.hostNqn(name), EnumSet.of(Engine.LVM), labels, "0.1.0", T);
                        int pools = storage ? 2 + random.nextInt(2) : 1;
                        for (int p = 0; p < pools; p++) {
                            long capacity = storage ? (4L << random.nextInt(3)) * TI : (512L << random.nextInt(3)) * GI;
                            String pool = name + "-p" + p;
                            PoolConfig poolConfig = PoolConfig.builder(pool, name, Engine.LVM, PoolSource.volumeGroup("vg" + p)).build();
                            PoolStatus status = PoolStatus.of(name, pool, Engine.LVM, capacity, capacity, null, null, List.of(), true, T);
                            result.add(Candidate.of(poolConfig, status, registration, Ledger.empty(pool), 1, 0, global));
                        }
                    }
                }
            }
        }
        return result;
    }

    /**
     * Requests until their total size reaches {@code load} times the cluster's capacity: sizes from
     * 10 GiB to 2 TiB, 40 % of them in spread groups of three (two thirds at rack level, one third at
     * node level), half PreferLocal with a compute node as consumer.
     */
    static List<VolumeIntent> stream(Config config, List<Candidate> cluster) {
        SplittableRandom random = new SplittableRandom(config.seed() * 17 + 3);
        long capacity = cluster.stream().mapToLong(c -> c.effectiveCapacity(false)).sum();
        List<String> computeNodes = cluster.stream().filter(c -> "compute".equals(c.labels().get("role")))
                .map(Candidate::node).distinct().toList();
        long[] sizes = {10 * GI, 50 * GI, 200 * GI, TI, 2 * TI};
        int[] weights = {30, 30, 25, 10, 5};
        List<VolumeIntent> result = new ArrayList<>();
        long total = 0;
        int groups = 0;
        while (total < capacity * config.load()) {
            boolean grouped = random.nextInt(10) < 4;
            int members = grouped ? 3 : 1;
            String group = grouped ? String.format("grp%05d", groups++) : null;
            FailureDomainLevel level = random.nextInt(3) < 2 ? FailureDomainLevel.RACK : FailureDomainLevel.NODE;
            long size = pick(random, sizes, weights);
            for (int m = 0; m < members; m++) {
                boolean local = random.nextBoolean() && !computeNodes.isEmpty();
                VolumeIntent.Builder b = VolumeIntent.builder(String.format("vol%06d", result.size()), size)
                        .positionAdvice(PositionAdvice.PREFER_LOCAL)
                        .consumerNode(local ? computeNodes.get(random.nextInt(computeNodes.size())) : null);
                if (grouped) {
                    b.spreadGroup(group).failureDomainLevel(level);
                }
                result.add(b.build());
                total += size;
            }
        }
        return result;
    }

    private static long pick(SplittableRandom random, long[] values, int[] weights) {
        int sum = 0;
        for (int w : weights) {
            sum += w;
        }
        int x = random.nextInt(sum);
        for (int i = 0; i < values.length; i++) {
            x -= weights[i];
            if (x < 0) {
                return values[i];
            }
        }
        return values[values.length - 1];
    }

    // ---------------------------------------------------------------- simulation

    static Result simulate(List<Candidate> initial, List<VolumeIntent> stream, GlobalConfig global, Strategy strategy) {
        return simulate(initial, stream, global, strategy, 1);
    }

    /** Every volume of the stream a mirror of {@code legs} legs (1: a volume of one part). */
    static Result simulate(List<Candidate> initial, List<VolumeIntent> stream, GlobalConfig global, Strategy strategy,
                           int legs) {
        Scheduler scheduler = new Scheduler(strategy.filters());
        Map<String, Candidate> pools = new LinkedHashMap<>();
        Map<String, List<String>> poolsByNode = new HashMap<>();
        for (Candidate c : initial) {
            pools.put(c.pool(), c);
            poolsByNode.computeIfAbsent(c.node(), n -> new ArrayList<>()).add(c.pool());
        }
        Map<String, Integer> remoteServed = new HashMap<>();
        Map<String, List<String>> groupPools = new HashMap<>();
        Map<String, Integer> reasons = new TreeMap<>();
        long capacity = initial.stream().mapToLong(c -> c.effectiveCapacity(false)).sum();
        long allocated = 0;
        double atFirstRefusal = -1;
        int placed = 0;
        int refusals = 0;
        int violations = 0;
        int legViolations = 0;
        int overcommits = 0;
        int preferLocal = 0;
        int local = 0;
        int could = 0;
        int localWhenCould = 0;
        for (VolumeIntent intent : stream) {
            FailureDomainLevel level = intent.failureDomainLevel();
            // The domains the group's placed members occupy, computed as the controller does it.
            Set<String> taken = new HashSet<>();
            for (String pool : groupPools.getOrDefault(intent.spreadGroup() == null ? "" : intent.spreadGroup(), List.of())) {
                String domain = pools.get(pool).domain(level);
                if (domain != null) {
                    taken.add(domain);
                }
            }
            Request request = new Request(intent, null, taken);
            boolean wantsLocal = intent.positionAdvice() == PositionAdvice.PREFER_LOCAL && intent.consumerNode() != null;
            // Could this request be local at all, at this moment: does a pool on its consumer's node pass every filter?
            boolean couldBeLocal = false;
            if (wantsLocal) {
                for (String pool : poolsByNode.getOrDefault(intent.consumerNode(), List.of())) {
                    couldBeLocal |= scheduler.firstFailure(request, pools.get(pool), global) == null;
                }
            }
            if (couldBeLocal) {
                could++;
            }
            PartsDecision decision = scheduler.decideLegs(request, legs, pools.values(), global, strategy.policy(), false);
            if (!decision.placed()) {
                refusals++;
                decision.reasonCounts().forEach((k, v) -> reasons.merge(k, 1, Integer::sum));
                if (atFirstRefusal < 0) {
                    atFirstRefusal = (double) allocated / capacity;
                }
                continue;
            }
            Set<String> legDomains = new HashSet<>();
            for (Part part : decision.parts()) {
                // The pool as the simulation holds it now, an earlier leg of this volume included.
                Candidate chosen = pools.get(part.pool().pool());
                if (chosen.free(intent.thin()) < part.sizeBytes()) {
                    overcommits++;
                }
                String domain = chosen.domain(level);
                if (intent.spreadGroup() != null && taken.contains(domain)) {
                    violations++;
                }
                if (legs > 1 && (domain == null || !legDomains.add(domain))) {
                    legViolations++;
                }
                pools.put(chosen.pool(), chosen.withLedger(chosen.ledger().add(part.sizeBytes()), chosen.ledgerRevision() + 1));
                allocated += part.sizeBytes();
                if (intent.spreadGroup() != null) {
                    groupPools.computeIfAbsent(intent.spreadGroup(), g -> new ArrayList<>()).add(chosen.pool());
                }
                if (intent.consumerNode() != null && !intent.consumerNode().equals(chosen.node())) {
                    int served = remoteServed.merge(chosen.node(), 1, Integer::sum);
                    for (String pool : poolsByNode.get(chosen.node())) {
                        pools.put(pool, pools.get(pool).withRemoteServed(served));
                    }
                }
            }
            placed++;
            // Local when the first leg is: it goes where a volume of one part would, a preferred pool first.
            Candidate first = decision.parts().get(0).pool();
            if (intent.positionAdvice() == PositionAdvice.PREFER_LOCAL && intent.consumerNode() != null) {
                preferLocal++;
                if (intent.consumerNode().equals(first.node())) {
                    local++;
                    if (couldBeLocal) {
                        localWhenCould++;
                    }
                }
            }
        }
        return new Result(strategy.name(), stream.size(), placed, refusals, violations, legViolations, overcommits,
                atFirstRefusal < 0 ? (double) allocated / capacity : atFirstRefusal, (double) allocated / capacity,
                preferLocal == 0 ? 0 : (double) local / preferLocal, could, localWhenCould, reasons);
    }

    static List<Result> run(Config config) {
        return run(config, 1);
    }

    static List<Result> run(Config config, int legs) {
        GlobalConfig global = GlobalConfig.defaults();
        List<Candidate> cluster = cluster(config, global);
        List<VolumeIntent> stream = stream(config, cluster);
        List<Result> results = new ArrayList<>();
        for (Strategy s : strategies(cluster)) {
            results.add(simulate(cluster, stream, global, s, legs));
        }
        return results;
    }

    private static final String USAGE = "PlacementSimulator [--seeds 1,2,3] [--racks-per-switch 4] [--nodes-per-rack 8] [--load 1.3]"
            + " [--legs 1]   (defaults shown; --legs 2 or 3: every volume a mirror of that many legs; deterministic: the"
            + " same seeds give the same figures; see docs/benchmarks.md)";

    public static void main(String[] args) {
        long[] seeds = {1, 2, 3};
        int legs = 1;
        Config base = Config.defaults(1);
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--seeds" -> seeds = Arrays.stream(args[++i].split(",")).mapToLong(Long::parseLong).toArray();
                case "--racks-per-switch" -> base = new Config(0, base.zones(), base.switchesPerZone(), Integer.parseInt(args[++i]),
                        base.nodesPerRack(), base.load());
                case "--nodes-per-rack" -> base = new Config(0, base.zones(), base.switchesPerZone(), base.racksPerSwitch(),
                        Integer.parseInt(args[++i]), base.load());
                case "--load" -> base = new Config(0, base.zones(), base.switchesPerZone(), base.racksPerSwitch(),
                        base.nodesPerRack(), Double.parseDouble(args[++i]));
                case "--legs" -> legs = Integer.parseInt(args[++i]);
                case "-h", "--help" -> {
                    System.out.println(USAGE);
                    return;
                }
                default -> throw new IllegalArgumentException("unknown argument " + args[i] + "; usage: " + USAGE);
            }
        }
        for (long seed : seeds) {
            Config config = new Config(seed, base.zones(), base.switchesPerZone(), base.racksPerSwitch(), base.nodesPerRack(), base.load());
            GlobalConfig global = GlobalConfig.defaults();
            List<Candidate> cluster = cluster(config, global);
            List<VolumeIntent> stream = stream(config, cluster);
            long capacity = cluster.stream().mapToLong(c -> c.effectiveCapacity(false)).sum();
            long nodes = cluster.stream().map(Candidate::node).distinct().count();
            long grouped = stream.stream().filter(v -> v.spreadGroup() != null).count();
            System.out.printf(Locale.ROOT, "%nseed %d: %d nodes, %d pools, %.1f TiB; %d requests (%d in spread groups of 3),"
                    + " %.1f TiB requested%n", seed, nodes, cluster.size(), (double) capacity / TI, stream.size(), grouped,
                    stream.stream().mapToLong(VolumeIntent::sizeBytes).sum() / (double) TI);
            if (legs > 1) {
                System.out.printf(Locale.ROOT, "every volume a mirror of %d legs (%.1f TiB of legs), kept apart at the volume's"
                        + " level (its group's, else node)%n", legs,
                        legs * stream.stream().mapToLong(VolumeIntent::sizeBytes).sum() / (double) TI);
            }
            // The mirror columns only with --legs: without it the output stays what earlier runs printed.
            String legsHeader = legs > 1 ? String.format(Locale.ROOT, " %7s %10s", "legs-x", "overcommit") : "";
            System.out.printf(Locale.ROOT, "%-22s %8s %8s %14s %10s %9s%s %11s %20s  %s%n", "strategy", "placed", "refused",
                    "filled@1st-ref", "filled@end", "spread-x", legsHeader, "local-hit", "local-hit/could-be",
                    "refused requests per reason");
            for (Strategy s : strategies(cluster)) {
                Result r = simulate(cluster, stream, global, s, legs);
                String legsColumns = legs > 1 ? String.format(Locale.ROOT, " %7d %10d", r.legViolations(), r.overcommits()) : "";
                System.out.printf(Locale.ROOT, "%-22s %8d %8d %13.1f%% %9.1f%% %9d%s %10.1f%% %7.1f%% %5d/%-5d  %s%n",
                        r.strategy(), r.placed(), r.refusals(), 100 * r.filledAtFirstRefusal(), 100 * r.filledAtEnd(),
                        r.spreadViolations(), legsColumns, 100 * r.localShare(), 100 * r.localHitWhenCould(), r.localWhenCould(),
                        r.couldBeLocal(), r.refusalReasons());
            }
        }
    }
}
