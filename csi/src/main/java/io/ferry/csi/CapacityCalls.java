package io.ferry.csi;

import com.google.protobuf.Int64Value;
import io.ferry.csi.v1.GetCapacityRequest;
import io.ferry.csi.v1.GetCapacityResponse;
import io.ferry.csi.v1.VolumeCapability;
import io.ferry.model.GlobalConfig;
import io.ferry.model.Names;
import io.ferry.model.NodeRegistration;
import io.ferry.model.Placement;
import io.ferry.model.PoolConfig;
import io.ferry.model.PositionAdvice;
import io.ferry.model.Sizes;
import io.ferry.placement.Candidate;
import io.ferry.placement.Request;
import io.ferry.placement.Scheduler;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * GetCapacity: what a volume of a class could still get from a topology segment, answered by the
 * scheduler's own rules (its candidates, filters and free-space arithmetic), so that the capacity
 * Kubernetes plans with is the capacity the controller will place.
 */
final class CapacityCalls {

    /** The name of the volume GetCapacity asks the scheduler about; it is never written anywhere. */
    private static final String PROBE = "capacity-probe";

    private final ClusterView view;
    private final Scheduler scheduler;

    CapacityCalls(ClusterView view, Scheduler scheduler) {
        this.view = view;
        this.scheduler = scheduler;
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
        GlobalConfig global = view.globalConfig();
        String node = segments.get(Driver.TOPOLOGY_NODE);
        Capacity capacity = capacity(scheduler, probe(params, node).withConsumer(node == null ? null
                        : view.registration(node).orElse(null)),
                candidates(segments, global), global);
        return GetCapacityResponse.newBuilder().setAvailableCapacity(capacity.totalBytes())
                .setMaximumVolumeSize(Int64Value.of(capacity.largestBytes()))
                .setMinimumVolumeSize(Int64Value.of(Sizes.ALIGNMENT)).build();
    }

    /** Free bytes for a volume in total, and the largest single volume one pool can take. */
    record Capacity(long totalBytes, long largestBytes) {
    }

    /**
     * What the pools offer a volume like {@code probe}: each pool counts the largest volume the
     * scheduler would place on it ({@link Scheduler#largestFit}), so a pool it refuses (node down,
     * unhealthy, disk full, wrong engine, selectors, position, cannot export, remote cap...) adds
     * nothing, and thin room is counted with the overprovision ratio just as it is placed.
     */
    static Capacity capacity(Scheduler scheduler, Request probe, Iterable<Candidate> candidates, GlobalConfig global) {
        long total = 0;
        long largest = 0;
        for (Candidate candidate : candidates) {
            long fit = scheduler.largestFit(probe, candidate, global);
            total += fit;
            largest = Math.max(largest, fit);
        }
        return new Capacity(total, largest);
    }

    /**
     * A volume of the class for a consumer on the segment's node. A node segment limits the pools
     * to that node only for MustLocal classes (and excludes it for MustRemote): any other volume is
     * served to the node from anywhere over NVMe/TCP, from nodes that can export it. Without a node
     * there is no consumer to be local or remote to, and MustLocal/MustRemote say nothing.
     */
    static Request probe(StorageClassParameters params, String node) {
        if (node != null && !Names.isValidNodeName(node)) {
            throw Calls.invalid("topology segment " + Driver.TOPOLOGY_NODE + "=" + node + " is not a valid node name");
        }
        var intent = params.intent(PROBE, Sizes.ALIGNMENT).consumerNode(node);
        if (node == null) {
            intent.positionAdvice(PositionAdvice.PREFER_LOCAL);
        }
        return Request.of(intent.build());
    }

    /**
     * Every pool as the scheduler sees it (the controller builds its candidates from the same
     * keys); without a node segment, only the pools on nodes in the segment's rack and zone.
     */
    private List<Candidate> candidates(Map<String, String> segments, GlobalConfig global) {
        boolean byNode = segments.containsKey(Driver.TOPOLOGY_NODE);
        Map<String, Integer> remoteServed = new HashMap<>();
        for (Placement placement : view.placements()) {
            if (placement.servedRemotely()) {
                remoteServed.merge(placement.node(), 1, Integer::sum);
            }
        }
        List<Candidate> candidates = new ArrayList<>();
        for (PoolConfig pool : view.poolConfigs()) {
            NodeRegistration registration = view.registration(pool.node()).orElse(null);
            if (!byNode && registration != null && !labelsMatch(segments, registration.labels())) {
                continue;
            }
            candidates.add(Candidate.of(pool, view.poolStatus(pool.node(), pool.name()).orElse(null), registration,
                    view.ledger(pool.name()).orElse(null), 0, remoteServed.getOrDefault(pool.node(), 0), global));
        }
        return candidates;
    }

    private static boolean labelsMatch(Map<String, String> segments, Map<String, String> labels) {
        String rack = segments.get(Driver.TOPOLOGY_RACK);
        String zone = segments.get(Driver.TOPOLOGY_ZONE);
        return (rack == null || rack.equals(labels.get("rack"))) && (zone == null || zone.equals(labels.get("zone")));
    }
}
