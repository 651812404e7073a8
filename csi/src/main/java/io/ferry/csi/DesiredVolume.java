package io.ferry.csi;

import io.ferry.csi.v1.CapacityRange;
import io.ferry.csi.v1.CreateVolumeRequest;
import io.ferry.csi.v1.Topology;
import io.ferry.csi.v1.TopologyRequirement;
import io.ferry.csi.v1.VolumeCapability;
import io.ferry.csi.v1.VolumeContentSource;
import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.Engine;
import io.ferry.model.Layout;
import io.ferry.model.Names;
import io.ferry.model.NodeRegistration;
import io.ferry.model.Placement;
import io.ferry.model.PoolConfig;
import io.ferry.model.SnapshotIntent;
import io.ferry.model.SnapshotScheduling;
import io.ferry.model.SnapshotStatus;
import io.ferry.model.Sizes;
import io.ferry.model.VolumeIntent;
import io.grpc.Status;

import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * What a CreateVolume asks for, as the volume intent to write: its capabilities, capacity range,
 * StorageClass parameters, topology and content source read and checked, each refusal with the
 * CSI code and message the specification wants. Reads etcd and the view only to check a source.
 */
final class DesiredVolume {

    /** The intent to write, and the capacity range it was asked with (0: not given). */
    record Asked(VolumeIntent intent, long requiredBytes, long limitBytes) {
    }

    /** Size given to a volume whose request names no capacity. */
    static final long DEFAULT_SIZE = Sizes.GIB;

    private final EtcdStore store;
    private final FerryKeys keys;
    private final ClusterView view;
    private final Clock clock;

    DesiredVolume(EtcdStore store, ClusterView view, Clock clock) {
        this.store = store;
        this.keys = store.keys();
        this.view = view;
        this.clock = clock;
    }

    Asked of(CreateVolumeRequest request) throws Exception {
        String csiName = request.getName();
        Calls.require(request.getVolumeCapabilitiesCount() > 0, "volume_capabilities is required");
        boolean block = false;
        String capabilityFs = null;
        for (VolumeCapability cap : request.getVolumeCapabilitiesList()) {
            String why = Driver.unsupported(cap);
            if (why != null) {
                throw Calls.invalid(why);
            }
            if (cap.hasBlock()) {
                block = true;
            } else if (!cap.getMount().getFsType().isEmpty()) {
                capabilityFs = cap.getMount().getFsType();
            }
        }
        StorageClassParameters params = StorageClassParameters.parse(request.getParametersMap());
        long[] range = range(request.hasCapacityRange() ? request.getCapacityRange() : null);
        long required = range[0];
        long limit = range[1];
        long wanted = required > 0 ? required : limit > 0 ? Math.min(limit, DEFAULT_SIZE) : DEFAULT_SIZE;
        long size = VolumeIntent.volumeSize(params.layout(), params.parts(), wanted);
        if (limit > 0 && size > limit) {
            String unit = params.layout() == Layout.STRIPED ? "a striped volume of " + params.parts()
                    + " stripes is sized in multiples of " + params.parts() * 4 + "Mi" : "volumes are sized in multiples of 4Mi";
            throw Status.OUT_OF_RANGE.withDescription(unit + ": " + wanted + " bytes rounds up to " + size
                    + ", above limit_bytes " + limit).asRuntimeException();
        }
        String fsType = null;
        List<String> mkfsOptions = List.of();
        if (!block || capabilityFs != null) {
            fsType = capabilityFs != null ? capabilityFs : params.fsType() != null ? params.fsType() : Driver.DEFAULT_FS_TYPE;
            if (params.fsType() != null && capabilityFs != null && !params.fsType().equals(capabilityFs)) {
                throw Calls.invalid("StorageClass fsType " + params.fsType() + " contradicts the requested filesystem "
                        + capabilityFs);
            }
            mkfsOptions = params.mkfsOptions();
        } else if (!params.mkfsOptions().isEmpty()) {
            throw Calls.invalid("mkfsOptions given for a raw block volume");
        }
        String name = CsiNames.ferryName(csiName);
        VolumeIntent.Builder builder = params.intent(name, size)
                .fsType(fsType)
                .mkfsOptions(mkfsOptions)
                .createdBy(CsiNames.createdBy(csiName))
                .createdAt(clock.instant());
        String consumer = consumerNode(request.hasAccessibilityRequirements() ? request.getAccessibilityRequirements() : null);
        builder.consumerNode(consumer);
        if (request.hasVolumeContentSource()) {
            if (params.layout().multiPart()) {
                // "Source incompatible or not supported" (CreateVolume's errors): INVALID_ARGUMENT.
                throw Calls.invalid("cannot make volume " + csiName + " from a volume_content_source: a "
                        + params.layout() + " volume is made empty; copying into a multi-part volume is not supported yet");
            }
            VolumeContentSource source = request.getVolumeContentSource();
            Origin origin = switch (source.getTypeCase()) {
                case SNAPSHOT -> {
                    String id = source.getSnapshot().getSnapshotId();
                    SnapshotIntent snapshot = (Names.isValidSnapshotName(id)
                            ? Calls.await(store.get(keys.snapshot(id), SnapshotIntent.class)) : Optional.<Versioned<SnapshotIntent>>empty())
                            .map(Versioned::value).filter(v -> !v.deletionRequested())
                            .orElseThrow(() -> Calls.notFound("source snapshot " + id + " does not exist"));
                    builder.sourceSnapshot(id);
                    yield snapshotOrigin(snapshot);
                }
                case VOLUME -> {
                    String id = source.getVolume().getVolumeId();
                    VolumeIntent sourceVolume = (Names.isValidVolumeName(id)
                            ? Calls.await(store.get(keys.volume(id), VolumeIntent.class)) : Optional.<Versioned<VolumeIntent>>empty())
                            .map(Versioned::value).filter(v -> !v.deletionRequested())
                            .filter(v -> v.partOf() == null)
                            .orElseThrow(() -> Calls.notFound("source volume " + id + " does not exist"));
                    if (sourceVolume.layout().multiPart()) {
                        // The specification's CreateVolume row "Source incompatible or not supported"
                        // is INVALID_ARGUMENT: no engine copies a volume assembled from several parts.
                        throw Calls.invalid("cannot make volume " + csiName + " from source volume " + id + ": it is a "
                                + sourceVolume.layout() + " volume of " + sourceVolume.parts() + " parts, and cloning a"
                                + " multi-part volume is not supported yet");
                    }
                    builder.sourceVolume(id);
                    Placement placement = view.placement(id).orElse(null);
                    yield new Origin("source volume " + id, Math.max(sourceVolume.sizeBytes(),
                            placement == null ? 0 : placement.sizeBytes()), placement == null ? null : placement.pool(),
                            true, sourceVolume.fsType());
                }
                default -> throw Calls.invalid("volume_content_source names neither a snapshot nor a volume");
            };
            // A copy is never smaller than what it copies: the volume grows to the source's size
            // when the capacity range allows it.
            if (origin.sizeBytes() > size) {
                if (limit > 0 && origin.sizeBytes() > limit) {
                    throw Status.OUT_OF_RANGE.withDescription(origin.what() + " holds " + origin.sizeBytes()
                            + " bytes, above limit_bytes " + limit + ": a copy cannot be smaller than its source")
                            .asRuntimeException();
                }
                size = origin.sizeBytes();
                builder.sizeBytes(size);
            }
            String problem = cloneProblem(origin, params, fsType);
            if (problem != null) {
                throw Calls.invalid("cannot make volume " + csiName + " from " + origin.what() + ": " + problem);
            }
        }
        return new Asked(builder.build(), required, limit);
    }

    /**
     * What a new volume is made from: its size, the pool it lives in (the copy is made there; null
     * while not placed yet) and, when known, its filesystem type.
     */
    record Origin(String what, long sizeBytes, String pool, boolean fsTypeKnown, String fsType) {
    }

    private Origin snapshotOrigin(SnapshotIntent snapshot) {
        SnapshotScheduling scheduling = view.snapshotScheduling(snapshot.name()).orElse(null);
        long size = scheduling == null ? 0 : scheduling.sizeBytes();
        if (scheduling != null && scheduling.node() != null) {
            size = Math.max(size, view.snapshotStatus(scheduling.node(), snapshot.name()).map(SnapshotStatus::sizeBytes)
                    .orElse(0L));
        }
        Optional<VolumeIntent> volume = view.volume(snapshot.sourceVolume());
        return new Origin("source snapshot " + snapshot.name(), size, scheduling == null ? null : scheduling.pool(),
                volume.isPresent(), volume.map(VolumeIntent::fsType).orElse(null));
    }

    /**
     * Why a copy of {@code origin} cannot be the volume the parameters ask for, or null. Every engine
     * copies within the pool that holds the source (file: a sparse copy; lvm: a new LV and dd;
     * lvm-thin: a thin snapshot; spdk: a clone of an lvol snapshot), so the parameters must fit that
     * pool; the specification wants INVALID_ARGUMENT for a source that cannot serve them, not a
     * placement failure.
     */
    private String cloneProblem(Origin origin, StorageClassParameters params, String fsType) {
        if (origin.fsTypeKnown() && !Objects.equals(origin.fsType(), fsType)) {
            return "it holds " + (origin.fsType() == null ? "a raw block volume" : "a " + origin.fsType() + " filesystem")
                    + ", and the new volume is to be " + (fsType == null ? "a raw block volume" : fsType);
        }
        PoolConfig pool = origin.pool() == null ? null : view.poolConfig(origin.pool()).orElse(null);
        if (pool == null) {
            return null;
        }
        String where = "a copy is made in the source's pool " + pool.name() + " (engine " + pool.engine().value() + ")";
        if (params.engine() != null && params.engine() != pool.engine()) {
            return where + ", not on engine " + params.engine().value();
        }
        if (params.thin() ? !pool.engine().thin() : !pool.engine().thick()) {
            return where + ", which has no " + (params.thin() ? "thin" : "thick") + " volumes";
        }
        if (!params.thin() && pool.engine() == Engine.SPDK) {
            return where + ": SPDK copies are always thin clones of an lvol snapshot; ask for thin: \"true\"";
        }
        if (!pool.labels().entrySet().containsAll(params.poolSelector().entrySet())) {
            return where + ", whose labels " + pool.labels() + " do not match poolSelector " + params.poolSelector();
        }
        Map<String, String> nodeLabels = view.registration(pool.node()).map(NodeRegistration::labels).orElse(null);
        if (nodeLabels != null && !nodeLabels.entrySet().containsAll(params.nodeSelector().entrySet())) {
            return where + " on node " + pool.node() + ", whose labels " + nodeLabels + " do not match nodeSelector "
                    + params.nodeSelector();
        }
        return null;
    }

    /** The capacity range as {required, limit}, refused with OUT_OF_RANGE where the specification wants it. */
    static long[] range(CapacityRange range) {
        if (range == null) {
            return new long[] {0, 0};
        }
        long required = range.getRequiredBytes();
        long limit = range.getLimitBytes();
        Calls.require(required >= 0 && limit >= 0, "capacity_range must not be negative");
        if (limit > 0 && required > limit) {
            throw Status.OUT_OF_RANGE.withDescription("required_bytes " + required + " exceeds limit_bytes " + limit)
                    .asRuntimeException();
        }
        if (required > Sizes.MAX_VOLUME_BYTES) {
            throw Status.OUT_OF_RANGE.withDescription("required_bytes " + required + " exceeds the largest volume, 1Pi")
                    .asRuntimeException();
        }
        return new long[] {required, limit};
    }

    /**
     * The consumer node named by the CO's topology: the first preferred segment that names a node
     * (with WaitForFirstConsumer that is the node the pod was scheduled to), else the first requisite.
     */
    static String consumerNode(TopologyRequirement requirement) {
        if (requirement == null) {
            return null;
        }
        List<Topology> candidates = new ArrayList<>(requirement.getPreferredList());
        candidates.addAll(requirement.getRequisiteList());
        for (Topology t : candidates) {
            String node = t.getSegmentsMap().get(Driver.TOPOLOGY_NODE);
            if (node != null && !node.isEmpty()) {
                if (!Names.isValidNodeName(node)) {
                    throw Calls.invalid("topology segment " + Driver.TOPOLOGY_NODE + "=" + node + " is not a valid node name");
                }
                return node;
            }
        }
        return null;
    }

    /** What makes an existing volume different from the one asked for, or null if it can be returned as is. */
    static String conflict(VolumeIntent current, VolumeIntent desired, long required, long limit) {
        List<String> diffs = new ArrayList<>();
        if (current.sizeBytes() < required || (limit > 0 && current.sizeBytes() > limit)
                || (required == 0 && limit == 0 && current.sizeBytes() != desired.sizeBytes())) {
            diffs.add("size " + current.sizeBytes() + " bytes, requested " + desired.sizeBytes());
        }
        diff(diffs, "thin", current.thin(), desired.thin());
        diff(diffs, "engine", current.engine(), desired.engine());
        diff(diffs, "positionAdvice", current.positionAdvice(), desired.positionAdvice());
        diff(diffs, "spreadGroup", current.spreadGroup(), desired.spreadGroup());
        diff(diffs, "failureDomainLevel", current.failureDomainLevel(), desired.failureDomainLevel());
        diff(diffs, "poolSelector", current.poolSelector(), desired.poolSelector());
        diff(diffs, "nodeSelector", current.nodeSelector(), desired.nodeSelector());
        diff(diffs, "fsType", current.fsType(), desired.fsType());
        diff(diffs, "mkfsOptions", current.mkfsOptions(), desired.mkfsOptions());
        diff(diffs, "sourceSnapshot", current.sourceSnapshot(), desired.sourceSnapshot());
        diff(diffs, "sourceVolume", current.sourceVolume(), desired.sourceVolume());
        diff(diffs, "layout", current.layout(), desired.layout());
        diff(diffs, "parts", current.parts(), desired.parts());
        return diffs.isEmpty() ? null : String.join("; ", diffs);
    }

    private static void diff(List<String> diffs, String field, Object current, Object desired) {
        if (!Objects.equals(current, desired)) {
            diffs.add(field + " " + current + ", requested " + desired);
        }
    }
}
