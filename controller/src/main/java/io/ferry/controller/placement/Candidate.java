package io.ferry.controller.placement;

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
        long thinCapacity) {

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
        return new Candidate(config, status, registration, ledger == null ? Ledger.empty(config.name()) : ledger,
                ledgerRevision, remoteServed, Map.copyOf(labels), thick, thin);
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

    public String domain(FailureDomainLevel level) {
        return level.domainOf(node(), labels);
    }

    public Candidate withLedger(Ledger newLedger, long revision) {
        return new Candidate(config, status, registration, newLedger, revision, remoteServed, labels, thickCapacity, thinCapacity);
    }

    public Candidate withRemoteServed(int value) {
        return new Candidate(config, status, registration, ledger, ledgerRevision, value, labels, thickCapacity, thinCapacity);
    }
}
