package io.ferry.placement;

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
 * @param status       the agent's last report, or null if it never reported
 * @param registration the node's registration, or null when the node is down
 * @param ledger       allocated bytes as recorded by the controller
 * @param ledgerRevision mod revision of the ledger key (0 when absent); commits are guarded by it
 * @param remoteServed volumes on this node consumed by other nodes
 * @param labels       node labels overlaid with the pool's own labels (the pool wins)
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
        String[] domains) {

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
        for (FailureDomainLevel level : FailureDomainLevel.values()) {
            domains[level.ordinal()] = level.domainOf(config.node(), labels);
        }
        return new Candidate(config, status, registration, ledger == null ? Ledger.empty(config.name()) : ledger,
                ledgerRevision, remoteServed, Map.copyOf(labels), thick, thin, staticRefusal(config, status, registration), domains);
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

    /** Capacity a request of this kind may use: capacity x ratio for thin, capacity for thick, less reserved. */
    public long effectiveCapacity(boolean thin) {
        return thin ? thinCapacity : thickCapacity;
    }

    public long free(boolean thin) {
        return effectiveCapacity(thin) - ledger.allocatedBytes();
    }

    /** Precomputed per level: the spread filter asks for it once per pool in every decision. */
    public String domain(FailureDomainLevel level) {
        return domains[level.ordinal()];
    }

    public Candidate withLedger(Ledger newLedger, long revision) {
        return new Candidate(config, status, registration, newLedger, revision, remoteServed, labels, thickCapacity, thinCapacity,
                staticRefusal, domains);
    }

    public Candidate withRemoteServed(int value) {
        return new Candidate(config, status, registration, ledger, ledgerRevision, value, labels, thickCapacity, thinCapacity,
                staticRefusal, domains);
    }
}
