package io.ferry.tools.bench;

import io.ferry.placement.Candidate;
import io.ferry.model.Engine;
import io.ferry.model.ExportSpec;
import io.ferry.model.FailureDomainLevel;
import io.ferry.model.GlobalConfig;
import io.ferry.model.Ledger;
import io.ferry.model.NodeRegistration;
import io.ferry.model.Placement;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolSource;
import io.ferry.model.PoolStatus;
import io.ferry.model.PositionAdvice;
import io.ferry.model.VolumeIntent;
import io.ferry.model.WorkItem;

import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.UUID;

/**
 * A synthetic cluster of the size the benchmark asks for, built from the model's real records: two
 * LVM pools per node, 16 nodes per rack, 4 racks per switch, 3 zones, and a given number of existing
 * placements (each with its intent and work item) reflected in the pools' ledgers, the nodes'
 * remote-served counts and spread groups of three at rack level.
 *
 * <p>Pool capacities are chosen after the placements so that pools end up 50-97 % full: a
 * decision then meets a realistic mix of pools that fit and pools refused for free space.
 */
final class BenchCluster {

    static final long GI = 1L << 30;
    static final int POOLS_PER_NODE = 2;
    static final int NODES_PER_RACK = 16;
    static final int RACKS_PER_SWITCH = 4;
    static final int ZONES = 3;
    static final Instant T = Instant.parse("2026-11-21T10:00:00Z");
    static final long[] SIZES_GI = {8, 16, 32, 64, 128};

    final GlobalConfig global;
    final List<NodeRegistration> registrations = new ArrayList<>();
    final List<PoolConfig> pools = new ArrayList<>();
    final List<PoolStatus> statuses = new ArrayList<>();
    final List<Ledger> ledgers = new ArrayList<>();
    final List<VolumeIntent> intents = new ArrayList<>();
    final List<Placement> placements = new ArrayList<>();
    final List<WorkItem> workItems = new ArrayList<>();
    final Map<String, Integer> remoteServed = new HashMap<>();

    private BenchCluster(GlobalConfig global) {
        this.global = global;
    }

    static String nodeName(int i) {
        return String.format("n%05d", i);
    }

    static String rackOf(int node) {
        return String.format("r%04d", node / NODES_PER_RACK);
    }

    static String switchOf(int node) {
        return String.format("s%03d", node / (NODES_PER_RACK * RACKS_PER_SWITCH));
    }

    static String zoneOf(int node) {
        return "z" + (node / (NODES_PER_RACK * RACKS_PER_SWITCH)) % ZONES;
    }

    static String hostNqn(String node) {
        return "nqn.2014-08.org.nvmexpress:uuid:" + UUID.nameUUIDFromBytes(node.getBytes());
    }

    /**
     * @param keepRecords also keep the intent, placement and work item of every volume (needed to
     *                    write them to etcd; the decision benchmark only needs ledgers and counts)
     */
    static BenchCluster build(int poolCount, int placementCount, long seed, boolean keepRecords) {
        GlobalConfig global = GlobalConfig.builder().maxRemoteVolumesPerNode(1000).build();
        BenchCluster cluster = new BenchCluster(global);
        int nodeCount = Math.max(1, poolCount / POOLS_PER_NODE);
        for (int n = 0; n < nodeCount; n++) {
            String node = nodeName(n);
            cluster.registrations.add(NodeRegistration.of(node, "10." + (n >> 16 & 255) + "." + (n >> 8 & 255) + "." + (n & 255),
                    null, hostNqn(node), EnumSet.of(Engine.LVM, Engine.LVM_THIN),
                    Map.of("rack", rackOf(n), "switch", switchOf(n), "zone", zoneOf(n)), "0.1.0", T));
        }
        SplittableRandom random = new SplittableRandom(seed);
        long[] allocated = new long[poolCount];
        int[] counts = new int[poolCount];
        for (int v = 0; v < placementCount; v++) {
            int pool = random.nextInt(poolCount);
            int node = Math.min(pool / POOLS_PER_NODE, nodeCount - 1);
            long size = SIZES_GI[random.nextInt(SIZES_GI.length)] * GI;
            allocated[pool] += size;
            counts[pool]++;
            int kind = random.nextInt(10);
            String consumer = kind < 4 ? nodeName(node) : kind < 8 ? nodeName(random.nextInt(nodeCount)) : null;
            boolean remote = consumer != null && !consumer.equals(nodeName(node));
            if (remote) {
                cluster.remoteServed.merge(nodeName(node), 1, Integer::sum);
            }
            if (keepRecords) {
                String volume = String.format("v%06d", v);
                String poolName = poolName(pool);
                // The first 60 % of volumes form spread groups of three at rack level.
                String group = v < placementCount * 6L / 10 ? String.format("g%06d", v / 3) : null;
                cluster.intents.add(VolumeIntent.builder(volume, size).engine(Engine.LVM).consumerNode(consumer)
                        .positionAdvice(PositionAdvice.PREFER_LOCAL).spreadGroup(group)
                        .failureDomainLevel(FailureDomainLevel.RACK).createdBy("bench").createdAt(T).build());
                cluster.placements.add(Placement.of(volume, poolName, nodeName(node), Engine.LVM, size, false, 1, consumer,
                        null, null, T));
                cluster.workItems.add(WorkItem.of(volume, nodeName(node), poolName, Engine.LVM, size, false, 1, null,
                        remote ? ExportSpec.tcp(consumer, Set.of(hostNqn(consumer))) : null));
            }
        }
        for (int p = 0; p < poolCount; p++) {
            int node = Math.min(p / POOLS_PER_NODE, nodeCount - 1);
            double fill = 0.50 + 0.47 * random.nextDouble();
            long capacity = Math.max(512 * GI, roundUp((long) (allocated[p] / fill), GI));
            String name = poolName(p);
            cluster.pools.add(PoolConfig.builder(name, nodeName(node), Engine.LVM, PoolSource.volumeGroup("vg" + (p % POOLS_PER_NODE)))
                    .labels(Map.of("media", p % 5 == 0 ? "hdd" : "nvme")).build());
            cluster.statuses.add(PoolStatus.of(nodeName(node), name, Engine.LVM, capacity, capacity - allocated[p], null, null,
                    List.of(), true, T));
            cluster.ledgers.add(new Ledger(1, name, allocated[p], counts[p]));
        }
        return cluster;
    }

    static String poolName(int p) {
        return String.format("p%05d", p);
    }

    private static long roundUp(long value, long unit) {
        return (value + unit - 1) / unit * unit;
    }

    /** The controller's candidate map, built the way ClusterState builds it (a HashMap keyed by pool). */
    Map<String, Candidate> candidates() {
        Map<String, NodeRegistration> byNode = new HashMap<>();
        registrations.forEach(r -> byNode.put(r.node(), r));
        Map<String, Candidate> result = new HashMap<>();
        for (int p = 0; p < pools.size(); p++) {
            PoolConfig config = pools.get(p);
            result.put(config.name(), Candidate.of(config, statuses.get(p), byNode.get(config.node()), ledgers.get(p), p + 1L,
                    remoteServed.getOrDefault(config.node(), 0), global));
        }
        return result;
    }

    int nodeCount() {
        return registrations.size();
    }

    static Random random(long seed) {
        return new Random(seed);
    }
}
