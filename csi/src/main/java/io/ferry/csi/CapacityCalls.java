package io.ferry.csi;

import com.google.protobuf.Int64Value;
import io.ferry.csi.v1.GetCapacityRequest;
import io.ferry.csi.v1.GetCapacityResponse;
import io.ferry.csi.v1.VolumeCapability;
import io.ferry.model.GlobalConfig;
import io.ferry.model.NodeRegistration;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolStatus;
import io.ferry.model.PositionAdvice;
import io.ferry.model.Sizes;

import java.util.Map;

/** GetCapacity: what a volume of a class could still get from a topology segment. */
final class CapacityCalls {

    private final ClusterView view;

    CapacityCalls(ClusterView view) {
        this.view = view;
    }

    GetCapacityResponse get(GetCapacityRequest request) throws Exception {
        for (VolumeCapability cap : request.getVolumeCapabilitiesList()) {
            if (Driver.unsupportedPart(cap) != null) {
                return GetCapacityResponse.newBuilder().setAvailableCapacity(0).build();
            }
        }
        StorageClassParameters params = StorageClassParameters.parse(request.getParametersMap());
        Map<String, String> segments = request.hasAccessibleTopology()
                ? request.getAccessibleTopology().getSegmentsMap() : Map.of();
        long[] totals = capacity(params, segments);
        return GetCapacityResponse.newBuilder().setAvailableCapacity(totals[0])
                .setMaximumVolumeSize(Int64Value.of(totals[1]))
                .setMinimumVolumeSize(Int64Value.of(Sizes.ALIGNMENT)).build();
    }

    /**
     * Free bytes a volume of this class could use from the given topology segment: {total, largest
     * single pool}. Pools count when their node is registered, the pool is schedulable and healthy,
     * and it matches the class's engine, thinness and selectors; free is capacity (times the
     * overprovision ratio for thin volumes) minus reserved minus allocated, as the scheduler counts.
     * A node segment limits the pools to that node only for MustLocal classes (and excludes it for
     * MustRemote): any other volume can be served to the node from anywhere over NVMe/TCP.
     */
    long[] capacity(StorageClassParameters params, Map<String, String> segments) {
        GlobalConfig global = view.globalConfig();
        String node = segments.get(Driver.TOPOLOGY_NODE);
        PositionAdvice advice = params.positionAdvice() == null ? PositionAdvice.PREFER_LOCAL : params.positionAdvice();
        long total = 0;
        long largest = 0;
        for (PoolConfig pool : view.poolConfigs()) {
            NodeRegistration registration = view.registration(pool.node()).orElse(null);
            PoolStatus status = view.poolStatus(pool.node(), pool.name()).orElse(null);
            if (registration == null || status == null || !status.healthy() || !pool.schedulable()) {
                continue;
            }
            if (params.engine() != null && params.engine() != pool.engine()) {
                continue;
            }
            if (params.thin() ? !pool.engine().thin() : !pool.engine().thick()) {
                continue;
            }
            if (!pool.labels().entrySet().containsAll(params.poolSelector().entrySet())
                    || !registration.labels().entrySet().containsAll(params.nodeSelector().entrySet())) {
                continue;
            }
            if (node != null && advice == PositionAdvice.MUST_LOCAL) {
                if (!pool.node().equals(node)) {
                    continue;
                }
            } else if (node != null && advice == PositionAdvice.MUST_REMOTE && pool.node().equals(node)) {
                continue;
            }
            if (node == null && !labelsMatch(segments, registration.labels())) {
                continue;
            }
            double ratio = params.thin() ? pool.effectiveOverprovisionRatio(global) : 1.0;
            long allocated = view.ledger(pool.name()).map(l -> l.allocatedBytes()).orElse(0L);
            long free = (long) Math.floor(status.capacityBytes() * ratio) - pool.reservedBytes() - allocated;
            if (free <= 0) {
                continue;
            }
            long usable = free / Sizes.ALIGNMENT * Sizes.ALIGNMENT;
            total += usable;
            largest = Math.max(largest, usable);
        }
        return new long[] {total, largest};
    }

    private static boolean labelsMatch(Map<String, String> segments, Map<String, String> labels) {
        String rack = segments.get(Driver.TOPOLOGY_RACK);
        String zone = segments.get(Driver.TOPOLOGY_ZONE);
        return (rack == null || rack.equals(labels.get("rack"))) && (zone == null || zone.equals(labels.get("zone")));
    }
}
