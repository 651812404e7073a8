package io.ferry.placement;

import io.ferry.model.Engine;
import io.ferry.model.FailureDomainLevel;
import io.ferry.model.GlobalConfig;
import io.ferry.model.Ledger;
import io.ferry.model.NodeRegistration;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolStatus;

import java.util.HashMap;
import java.util.Map;

/**
 * Everything the scheduler knows about one pool, precomputed when its inputs change so that a
 * decision over thousands of pools only reads fields.
 *
 * <p>The fields after {@code domains} copy, out of the records above, what the filters and policies
 * read for every pool in every decision. At 10,000 pools a decision is bound by memory, not by
 * arithmetic: each record a filter dereferences ({@code config}, its node name's bytes,
 * {@code status}, {@code ledger}, {@code registration}) is another cache miss per pool, and the
 * decision's cost grew eightfold once the export and disk filters added three of them. Reading them
 * from this one object keeps a pool's test to a line or two of memory.
 *
 * @param status       the agent's last report, or null if it never reported
 * @param registration the node's registration, or null when the node is down
 * @param ledger       allocated bytes as recorded by the controller
 * @param ledgerRevision mod revision of the ledger key (0 when absent); commits are guarded by it
 * @param remoteServed volumes on this node consumed by other nodes
 * @param labels       node labels overlaid with the pool's own labels (the pool wins)
 * @param engine       the pool's engine ({@code config.engine()})
 * @param nodeHash     {@code config.node().hashCode()}: most pools are not on a request's consumer
 *                     node, and the hash says so without reading the name
 * @param allocated    {@code ledger.allocatedBytes()}
 * @param diskFree     the agent's reported free bytes on the disk, 0 when it never reported
 * @param thinData     the agent's reported thin data usage in percent, NaN when it does not say
 * @param exportsEngine whether the node can export this pool's engine (see {@link NodeRegistration#canExport})
 * @param nodeDomainHash ... {@code zoneHash}: per failure-domain level, the hash of {@link #domain}
 *                     (0 when absent); fields rather than an array, which would be one more miss per pool
 */
public record Candidate(
        PoolConfig config,
        PoolStatus status,
        NodeRegistration registration,
        Ledger ledger,
        long ledgerRevision,
        int remoteServed,
        Map<String, String> labels,
        long thickCapacity,
        long thinCapacity,
        String staticRefusal,
        String[] domains,
        Engine engine,
        int nodeHash,
        long allocated,
        long diskFree,
        double thinData,
        boolean exportsEngine,
        int nodeDomainHash,
        int rackHash,
        int switchHash,
        int zoneHash) {

    public static Candidate of(PoolConfig config, PoolStatus status, NodeRegistration registration, Ledger ledger,
                               long ledgerRevision, int remoteServed, GlobalConfig global) {
        Map<String, String> labels = new HashMap<>();
        if (registration != null) {
            labels.putAll(registration.labels());
        }
        labels.putAll(config.labels());
        long capacity = status == null ? 0 : status.capacityBytes();
        long thick = Math.max(0, capacity - config.reservedBytes());
        double ratio = config.effectiveOverprovisionRatio(global);
        long thin = Math.max(0, saturatingMultiply(capacity, ratio) - config.reservedBytes());
        String[] domains = new String[FailureDomainLevel.values().length];
        int[] domainHashes = new int[domains.length];
        for (FailureDomainLevel level : FailureDomainLevel.values()) {
            domains[level.ordinal()] = level.domainOf(config.node(), labels);
            domainHashes[level.ordinal()] = domains[level.ordinal()] == null ? 0 : domains[level.ordinal()].hashCode();
        }
        Ledger own = ledger == null ? Ledger.empty(config.name()) : ledger;
        return new Candidate(config, status, registration, own, ledgerRevision, remoteServed, Map.copyOf(labels), thick, thin,
                staticRefusal(config, status, registration), domains, config.engine(), config.node().hashCode(),
                own.allocatedBytes(), status == null ? 0 : status.freeBytes(),
                status == null || status.thinDataPercent() == null ? Double.NaN : status.thinDataPercent(),
                registration != null && registration.canExport(config.engine()), domainHashes[FailureDomainLevel.NODE.ordinal()],
                domainHashes[FailureDomainLevel.RACK.ordinal()], domainHashes[FailureDomainLevel.SWITCH.ordinal()],
                domainHashes[FailureDomainLevel.ZONE.ordinal()]);
    }

    /** Reasons that depend only on the pool, never on the request. */
    public static final String NODE_DOWN = "node down";
    public static final String UNSCHEDULABLE = "unschedulable";
    public static final String NOT_REPORTED = "pool not reported";
    public static final String UNHEALTHY = "pool unhealthy";
    public static final String ENGINE_NOT_ON_NODE = "engine not on node";

    /**
     * Worked out once when the pool's inputs change rather than for every request: most refusals in
     * a large cluster are of this kind, and a decision over 10,000 pools cannot afford to re-derive them.
     */
    private static String staticRefusal(PoolConfig config, PoolStatus status, NodeRegistration registration) {
        if (registration == null) {
            return NODE_DOWN;
        }
        if (!config.schedulable()) {
            return UNSCHEDULABLE;
        }
        if (status == null) {
            return NOT_REPORTED;
        }
        if (!status.healthy()) {
            return UNHEALTHY;
        }
        if (!registration.engines().contains(config.engine())) {
            return ENGINE_NOT_ON_NODE;
        }
        return null;
    }

    private static long saturatingMultiply(long value, double factor) {
        double product = value * factor;
        return product >= Long.MAX_VALUE ? Long.MAX_VALUE : (long) product;
    }

    public String pool() {
        return config.name();
    }

    public String node() {
        return config.node();
    }

    /** Whether this pool is on {@code node} (null: no node); reads the name only when the hashes agree. */
    public boolean isOn(String node, int hash) {
        return node != null && hash == nodeHash && node.equals(config.node());
    }

    /** Capacity a request of this kind may use: capacity x ratio for thin, capacity for thick, less reserved. */
    public long effectiveCapacity(boolean thin) {
        return thin ? thinCapacity : thickCapacity;
    }

    public long free(boolean thin) {
        return (thin ? thinCapacity : thickCapacity) - allocated;
    }

    /** Precomputed per level: the spread filter asks for it once per pool in every decision. */
    public String domain(FailureDomainLevel level) {
        return domains[level.ordinal()];
    }

    /** The hash of {@link #domain} at this level, 0 when the pool has none. */
    public int domainHash(FailureDomainLevel level) {
        return switch (level) {
            case NODE -> nodeDomainHash;
            case RACK -> rackHash;
            case SWITCH -> switchHash;
            case ZONE -> zoneHash;
        };
    }

    public Candidate withLedger(Ledger newLedger, long revision) {
        return new Candidate(config, status, registration, newLedger, revision, remoteServed, labels, thickCapacity, thinCapacity,
                staticRefusal, domains, engine, nodeHash, newLedger.allocatedBytes(), diskFree, thinData, exportsEngine,
                nodeDomainHash, rackHash, switchHash, zoneHash);
    }

    public Candidate withRemoteServed(int value) {
        return new Candidate(config, status, registration, ledger, ledgerRevision, value, labels, thickCapacity, thinCapacity,
                staticRefusal, domains, engine, nodeHash, allocated, diskFree, thinData, exportsEngine, nodeDomainHash, rackHash,
                switchHash, zoneHash);
    }
}
