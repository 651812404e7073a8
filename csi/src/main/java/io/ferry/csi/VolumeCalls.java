package io.ferry.csi;

import io.ferry.csi.v1.ControllerExpandVolumeRequest;
import io.ferry.csi.v1.ControllerExpandVolumeResponse;
import io.ferry.csi.v1.ControllerGetVolumeRequest;
import io.ferry.csi.v1.ControllerGetVolumeResponse;
import io.ferry.csi.v1.CreateVolumeRequest;
import io.ferry.csi.v1.CreateVolumeResponse;
import io.ferry.csi.v1.DeleteVolumeRequest;
import io.ferry.csi.v1.DeleteVolumeResponse;
import io.ferry.csi.v1.ListVolumesRequest;
import io.ferry.csi.v1.ListVolumesResponse;
import io.ferry.csi.v1.Topology;
import io.ferry.csi.v1.ValidateVolumeCapabilitiesRequest;
import io.ferry.csi.v1.ValidateVolumeCapabilitiesResponse;
import io.ferry.csi.v1.Volume;
import io.ferry.csi.v1.VolumeCapability;
import io.ferry.csi.v1.VolumeCondition;
import io.ferry.csi.v1.VolumeContentSource;
import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.Names;
import io.ferry.model.Placement;
import io.ferry.model.PositionAdvice;
import io.ferry.model.SnapshotIntent;
import io.ferry.model.Sizes;
import io.ferry.model.ValidationException;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeParts;
import io.ferry.model.VolumeProgress;
import io.ferry.model.VolumeScheduling;
import io.ferry.model.VolumeStatus;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;

import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * CreateVolume, DeleteVolume, ValidateVolumeCapabilities, ListVolumes, ControllerGetVolume and
 * ControllerExpandVolume: the volume intents ({@code volumes/<vol>}) written, grown and marked for
 * deletion, and the waits for the controller's placement and the agent's status.
 */
final class VolumeCalls {

    private static final Logger log = LoggerFactory.getLogger(VolumeCalls.class);

    private final EtcdStore store;
    private final FerryKeys keys;
    private final ClusterView view;
    private final KeyedLocks locks;
    private final DesiredVolume desiredVolumes;

    VolumeCalls(EtcdStore store, ClusterView view, KeyedLocks locks, Clock clock) {
        this.store = store;
        this.keys = store.keys();
        this.view = view;
        this.locks = locks;
        this.desiredVolumes = new DesiredVolume(store, view, clock);
    }

    CreateVolumeResponse create(CreateVolumeRequest request) throws Exception {
        String csiName = request.getName();
        Calls.require(!csiName.isEmpty(), "name is required");
        DesiredVolume.Asked asked = desiredVolumes.of(request);
        VolumeIntent desired = asked.intent();
        String name = desired.name();
        long required = asked.requiredBytes();
        long limit = asked.limitBytes();

        while (true) {
            Versioned<VolumeIntent> deleting;
            try (KeyedLocks.Held ignored = locks.lock("csi-name:" + csiName, "volume:" + name)) {
                Optional<Versioned<VolumeIntent>> existing = Calls.await(store.get(keys.volume(name), VolumeIntent.class));
                if (existing.isEmpty() || !existing.get().value().deletionRequested()
                        || !CsiNames.sameOrigin(existing.get().value().createdBy(), csiName)) {
                    return createOrReturn(request, csiName, desired, existing, required, limit);
                }
                deleting = existing.get();
            }
            // A volume of this name is still being deleted (DeleteVolume timed out, or ferryctl removed
            // it): once it is gone the name is free, and this call creates a new volume. The lock is
            // not held meanwhile, so that the deletion's own calls are not queued behind this one.
            awaitGone(name, deleting);
        }
    }

    /**
     * Waits until the volume intent read as {@code seen} is gone from etcd: removed by the
     * controller once the agent has removed the volume (or released it from a node that never held
     * it). The view has delivered {@code seen} or something newer before absence counts, so a cache
     * that has not yet caught up cannot pass for a deletion.
     */
    private void awaitGone(String name, Versioned<VolumeIntent> seen) throws Exception {
        Calls.await(view.await(() -> {
            if (view.volumesRevision() < seen.modRevision()) {
                return Optional.empty();
            }
            Optional<Versioned<VolumeIntent>> current = view.volumeVersioned(name);
            return current.isEmpty() || current.get().createRevision() != seen.createRevision()
                    ? Optional.of(Boolean.TRUE) : Optional.empty();
        }, Calls.remaining()), "volume " + name + " to be deleted");
    }

    /** Creates the intent if absent, or checks the existing one; then waits until the volume is Ready. */
    private CreateVolumeResponse createOrReturn(CreateVolumeRequest request, String csiName, VolumeIntent desired,
                                                Optional<Versioned<VolumeIntent>> existing, long required, long limit)
            throws Exception {
        String name = desired.name();
        long createRevision;
        if (existing.isPresent()) {
            VolumeIntent current = existing.get().value();
            if (!CsiNames.sameOrigin(current.createdBy(), csiName)) {
                throw Calls.alreadyExists("volume " + name + " was created for another CSI name (" + current.createdBy() + ")");
            }
            String conflict = DesiredVolume.conflict(current, desired, required, limit);
            if (conflict != null) {
                throw Calls.alreadyExists("volume " + name + " (for " + csiName + ") exists with different parameters: "
                        + conflict);
            }
            createRevision = existing.get().createRevision();
        } else {
            if (!Calls.await(store.putIfAbsent(keys.volume(name), desired))) {
                throw Calls.aborted("volume " + name + " was created concurrently; retry");
            }
            createRevision = Calls.await(store.get(keys.volume(name), VolumeIntent.class))
                    .map(Versioned::createRevision).orElse(0L);
        }
        Placement placement = null;
        VolumeParts parts = null;
        try {
            if (desired.layout().multiPart()) {
                parts = Calls.await(view.await(() -> partsReady(name, createRevision), Calls.remaining()),
                        "every part of volume " + name + " to become Ready").parts();
            } else {
                placement = Calls.await(view.await(() -> volumeReady(name, createRevision), Calls.remaining()),
                        "volume " + name + " to become Ready").placement();
            }
        } catch (StatusRuntimeException e) {
            withdrawIfRefused(name, createRevision, e);
            throw e;
        }
        VolumeIntent intent = view.volume(name).orElse(existing.map(Versioned::value).orElse(desired));
        Volume.Builder volume = volume(intent, placement, parts);
        volume.putVolumeContext(Driver.CONTEXT_CSI_NAME, csiName);
        if (request.hasVolumeContentSource()) {
            volume.setContentSource(request.getVolumeContentSource());
        }
        return CreateVolumeResponse.newBuilder().setVolume(volume).build();
    }

    /**
     * A CreateVolume the controller refused for good (no pool fits, invalid) gives its caller no
     * volume, so the caller never deletes one: if its intent stayed, room appearing later would
     * place a volume nobody owns. It is withdrawn through the deletion protocol (never removed by
     * hand), which also cleans up should the controller have placed it meanwhile; a retry of the
     * same name writes it again. Intents another CSI name made are not this call's to withdraw.
     */
    private void withdrawIfRefused(String name, long createRevision, StatusRuntimeException refusal) {
        Status.Code code = refusal.getStatus().getCode();
        if (code != Status.Code.RESOURCE_EXHAUSTED && code != Status.Code.INVALID_ARGUMENT) {
            return;
        }
        try {
            Optional<Versioned<VolumeIntent>> current = Calls.await(store.get(keys.volume(name), VolumeIntent.class));
            if (current.isEmpty() || current.get().createRevision() != createRevision
                    || current.get().value().deletionRequested() || view.placement(name).isPresent()
                    || view.volumeParts(name).isPresent()) {
                return;
            }
            if (Calls.await(store.compareAndPut(keys.volume(name), current.get().value().withDeletionRequested(),
                    current.get().modRevision()))) {
                log.info("volume {}: CreateVolume was refused ({}); its intent is withdrawn so that no volume is made"
                        + " for a caller that was told there is none", name, code);
            }
        } catch (Exception e) {
            log.warn("volume {}: CreateVolume was refused ({}) and its intent could not be withdrawn: {}", name, code,
                    e.getMessage());
        }
    }

    /** Ready once the agent on the placed node reports the volume Ready at the placement's generation. */
    private Optional<Ready> volumeReady(String name, long createRevision) {
        Placement placement = view.placement(name).orElse(null);
        if (placement == null) {
            requireController(name);
        }
        return Calls.done(VolumeProgress.created(name, view.volumeScheduling(name).orElse(null), createRevision,
                placement, placement == null ? null : view.volumeStatus(placement.node(), name).orElse(null)))
                .map(Ready::of);
    }

    /** Ready once the controller has placed every part and each part's agent reports it Ready (docs/layouts.md). */
    private Optional<PartsProgress.Progress> partsReady(String name, long createRevision) {
        VolumeParts parts = view.volumeParts(name).filter(p -> placedFor(p, createRevision)).orElse(null);
        if (parts == null) {
            requireController(name);
        }
        return Calls.done(PartsProgress.created(name, view.volumeScheduling(name).orElse(null), createRevision, parts,
                PartsProgress.of(view)));
    }

    /**
     * Whether {@code parts} were placed for the volume intent created at {@code createRevision}, not
     * for an earlier volume of that name: the controller writes the parts' intents with the parts
     * record, so each is newer than the volume's. The view's informers deliver at their own pace,
     * and a record of the deleted volume could otherwise outlive its intent here for a moment.
     */
    private boolean placedFor(VolumeParts parts, long createRevision) {
        return parts.partNames().stream().allMatch(part -> view.volumeVersioned(part)
                .filter(v -> v.createRevision() > createRevision && parts.volume().equals(v.value().partOf()))
                .isPresent());
    }

    /**
     * Nothing places volumes: says so now rather than at the deadline. The intent stays and is
     * placed when a controller starts; the CO's retry finds it there.
     */
    private void requireController(String name) {
        if (!view.controllerRunning()) {
            throw Calls.unavailable("no Ferry controller is running (no candidate under " + keys.controllerLeader()
                    + "/), so volume " + name + " is not placed; it is kept and placed once a controller starts");
        }
    }

    /** The volume as the view holds it now: its placement, or for a multi-part volume its parts. */
    private Volume.Builder volume(VolumeIntent intent) {
        return volume(intent, view.placement(intent.name()).orElse(null), view.volumeParts(intent.name()).orElse(null));
    }

    /**
     * The CSI volume: its capacity is what the consumer gets, so for a multi-part volume the
     * assembled device's size (one leg of a mirror, the segments' sum of a linear volume).
     */
    private Volume.Builder volume(VolumeIntent intent, Placement placement, VolumeParts parts) {
        long capacity = intent.sizeBytes();
        if (intent.layout().multiPart()) {
            capacity = parts != null ? parts.assembledBytes() : capacity;
        } else if (placement != null) {
            capacity = Math.max(placement.sizeBytes(), capacity);
        }
        Volume.Builder volume = Volume.newBuilder()
                .setVolumeId(intent.name())
                .setCapacityBytes(capacity);
        if (intent.fsType() != null) {
            volume.putVolumeContext(Driver.CONTEXT_FS_TYPE, intent.fsType());
        }
        if (intent.sourceSnapshot() != null) {
            volume.setContentSource(VolumeContentSource.newBuilder().setSnapshot(
                    VolumeContentSource.SnapshotSource.newBuilder().setSnapshotId(intent.sourceSnapshot())));
        } else if (intent.sourceVolume() != null) {
            volume.setContentSource(VolumeContentSource.newBuilder().setVolume(
                    VolumeContentSource.VolumeSource.newBuilder().setVolumeId(intent.sourceVolume())));
        }
        // A MustLocal volume is usable only where it lives; any other can be reached over NVMe/TCP
        // from every node, so it carries no topology and the CO may schedule consumers anywhere.
        // A multi-part MustLocal volume lives where all its parts do, if they share a node.
        String local = placement != null ? placement.node() : parts == null ? null : partsNode(parts);
        if (intent.positionAdvice() == PositionAdvice.MUST_LOCAL && local != null) {
            volume.addAccessibleTopology(Topology.newBuilder().putSegments(Driver.TOPOLOGY_NODE, local));
        }
        return volume;
    }

    /** The one node every part is placed on, or null when they are on several (or not all placed). */
    private String partsNode(VolumeParts parts) {
        Set<String> nodes = parts.partNames().stream().map(p -> view.placement(p).map(Placement::node).orElse(""))
                .collect(Collectors.toSet());
        return nodes.size() == 1 && !nodes.contains("") ? nodes.iterator().next() : null;
    }

    DeleteVolumeResponse delete(DeleteVolumeRequest request) throws Exception {
        String id = request.getVolumeId();
        Calls.require(!id.isEmpty(), "volume_id is required");
        if (!Names.isValidVolumeName(id)) {
            return DeleteVolumeResponse.getDefaultInstance();
        }
        Optional<Versioned<VolumeIntent>> requested = requestDeletion(id);
        if (requested.isPresent()) {
            // OK means the volume is gone and its name free for a new CreateVolume: the data is
            // removed and the intent with it (see docs/csi.md). The deletion itself takes well
            // under a second; a deadline reached first is DEADLINE_EXCEEDED, and the CO's retry
            // waits again.
            awaitGone(id, requested.get());
        }
        return DeleteVolumeResponse.getDefaultInstance();
    }

    /**
     * Marks the volume for deletion (compare-and-swap) unless it is attached or has snapshots; returns the intent as
     * marked, to wait for, or empty when there is no such volume.
     */
    private Optional<Versioned<VolumeIntent>> requestDeletion(String id) throws Exception {
        try (KeyedLocks.Held ignored = locks.lock("volume:" + id)) {
            for (int attempt = 0; attempt < 5; attempt++) {
                Optional<Versioned<VolumeIntent>> existing = Calls.await(store.get(keys.volume(id), VolumeIntent.class))
                        .filter(v -> !isPart(v.value()));
                if (existing.isEmpty() || existing.get().value().deletionRequested()) {
                    return existing;
                }
                long attached = Calls.await(store.count(keys.attachmentsOf(id)));
                if (attached > 0) {
                    throw Calls.failedPrecondition("volume " + id + " is still published to "
                            + view.attachedNodes(id) + "; unpublish it first");
                }
                // Ferry's snapshots depend on their source volume (the controller deletes a volume
                // only after its snapshots), so the specification's answer is FAILED_PRECONDITION,
                // at once, rather than a deletion that waits for them until the deadline. A
                // snapshot already being deleted only delays the deletion.
                List<String> snapshots = Calls.await(store.list(keys.snapshots(), SnapshotIntent.class)).items().stream()
                        .map(Versioned::value).filter(s -> id.equals(s.sourceVolume()) && !s.deletionRequested())
                        .map(SnapshotIntent::name).sorted().toList();
                if (!snapshots.isEmpty()) {
                    throw Calls.failedPrecondition("volume " + id + " has snapshots " + snapshots
                            + ", which depend on it; delete them first");
                }
                if (Calls.await(store.compareAndPut(keys.volume(id), existing.get().value().withDeletionRequested(),
                        existing.get().modRevision()))) {
                    return existing;
                }
            }
            throw Calls.aborted("volume " + id + " kept changing while it was being deleted; retry");
        }
    }

    ValidateVolumeCapabilitiesResponse validate(ValidateVolumeCapabilitiesRequest request) throws Exception {
        String id = request.getVolumeId();
        Calls.require(!id.isEmpty(), "volume_id is required");
        Calls.require(request.getVolumeCapabilitiesCount() > 0, "volume_capabilities is required");
        VolumeIntent intent = (Names.isValidVolumeName(id)
                ? Calls.await(store.get(keys.volume(id), VolumeIntent.class)).map(Versioned::value) : Optional.<VolumeIntent>empty())
                .filter(v -> !isPart(v))
                .orElseThrow(() -> Calls.notFound("volume " + id + " does not exist"));
        List<String> problems = new ArrayList<>();
        for (VolumeCapability cap : request.getVolumeCapabilitiesList()) {
            String why = Driver.unsupported(cap);
            if (why != null) {
                problems.add(why);
            } else if (cap.hasMount() && intent.fsType() != null && !cap.getMount().getFsType().isEmpty()
                    && !cap.getMount().getFsType().equals(intent.fsType())) {
                problems.add("the volume is formatted as " + intent.fsType() + ", not " + cap.getMount().getFsType());
            }
        }
        try {
            StorageClassParameters.parse(request.getParametersMap());
        } catch (ValidationException e) {
            problems.add(e.getMessage());
        }
        if (!problems.isEmpty()) {
            return ValidateVolumeCapabilitiesResponse.newBuilder().setMessage(String.join("; ", problems)).build();
        }
        return ValidateVolumeCapabilitiesResponse.newBuilder().setConfirmed(
                ValidateVolumeCapabilitiesResponse.Confirmed.newBuilder()
                        .putAllVolumeContext(request.getVolumeContextMap())
                        .addAllVolumeCapabilities(request.getVolumeCapabilitiesList())
                        .putAllParameters(request.getParametersMap())).build();
    }

    ListVolumesResponse list(ListVolumesRequest request) throws Exception {
        Calls.require(request.getMaxEntries() >= 0, "max_entries must not be negative");
        String after = PageTokens.after(request.getStartingToken());
        List<VolumeIntent> all = view.volumes().stream().filter(v -> !v.deletionRequested() && !isPart(v))
                .filter(v -> after == null || v.name().compareTo(after) > 0).toList();
        int limit = request.getMaxEntries() == 0 ? all.size() : Math.min(request.getMaxEntries(), all.size());
        ListVolumesResponse.Builder response = ListVolumesResponse.newBuilder();
        for (VolumeIntent intent : all.subList(0, limit)) {
            response.addEntries(ListVolumesResponse.Entry.newBuilder()
                    .setVolume(volume(intent))
                    .setStatus(ListVolumesResponse.VolumeStatus.newBuilder()
                            .addAllPublishedNodeIds(view.attachedNodes(intent.name()))
                            .setVolumeCondition(condition(intent))));
        }
        if (limit < all.size()) {
            response.setNextToken(PageTokens.next(all.get(limit - 1).name()));
        }
        return response.build();
    }

    /**
     * The parts of a multi-part volume are the controller's, not volumes of the CO's: CSI neither
     * lists them nor acts on them, and an id naming one is answered as an unknown volume.
     */
    private static boolean isPart(VolumeIntent intent) {
        return intent.partOf() != null;
    }

    /** A multi-part volume is abnormal while any part is; before its parts exist, its own record speaks. */
    private VolumeCondition condition(VolumeIntent intent) {
        VolumeParts parts = intent.layout().multiPart() ? view.volumeParts(intent.name()).orElse(null) : null;
        if (parts == null) {
            return condition(intent.name());
        }
        List<String> abnormal = new ArrayList<>();
        for (String part : parts.partNames()) {
            VolumeCondition c = condition(part);
            if (c.getAbnormal()) {
                abnormal.add("part " + part + ": " + c.getMessage());
            }
        }
        if (!abnormal.isEmpty()) {
            return VolumeCondition.newBuilder().setAbnormal(true).setMessage(String.join("; ", abnormal)).build();
        }
        return VolumeCondition.newBuilder().setAbnormal(false).setMessage(parts.layout() + " of " + parts.parts().size()
                + " parts, served by " + parts.partNames().stream().map(p -> view.placement(p).map(Placement::node)
                        .orElse("?")).toList()).build();
    }

    private VolumeCondition condition(String volume) {
        VolumeScheduling scheduling = view.volumeScheduling(volume).orElse(null);
        if (scheduling != null && !scheduling.reachable()) {
            return VolumeCondition.newBuilder().setAbnormal(true).setMessage(Objects.requireNonNullElse(scheduling.message(),
                    "the serving node " + scheduling.node() + " is down")).build();
        }
        Placement placement = view.placement(volume).orElse(null);
        VolumeStatus status = placement == null ? null : view.volumeStatus(placement.node(), volume).orElse(null);
        if (status != null && status.failing()) {
            return VolumeCondition.newBuilder().setAbnormal(true)
                    .setMessage("the agent on " + placement.node() + " reports: " + status.message()).build();
        }
        if (placement == null) {
            return VolumeCondition.newBuilder().setAbnormal(false).setMessage("not placed yet").build();
        }
        return VolumeCondition.newBuilder().setAbnormal(false).setMessage("served by " + placement.node()).build();
    }

    ControllerGetVolumeResponse get(ControllerGetVolumeRequest request) throws Exception {
        String id = request.getVolumeId();
        Calls.require(!id.isEmpty(), "volume_id is required");
        VolumeIntent intent = (Names.isValidVolumeName(id)
                ? Calls.await(store.get(keys.volume(id), VolumeIntent.class)).map(Versioned::value) : Optional.<VolumeIntent>empty())
                .filter(v -> !v.deletionRequested() && !isPart(v))
                .orElseThrow(() -> Calls.notFound("volume " + id + " does not exist"));
        return ControllerGetVolumeResponse.newBuilder()
                .setVolume(volume(intent))
                .setStatus(ControllerGetVolumeResponse.VolumeStatus.newBuilder()
                        .addAllPublishedNodeIds(view.attachedNodes(id))
                        .setVolumeCondition(condition(intent)))
                .build();
    }

    ControllerExpandVolumeResponse expand(ControllerExpandVolumeRequest request) throws Exception {
        String id = request.getVolumeId();
        Calls.require(!id.isEmpty(), "volume_id is required");
        Calls.require(request.hasCapacityRange(), "capacity_range is required");
        long[] range = DesiredVolume.range(request.getCapacityRange());
        long target = Sizes.volumeSize(range[0] > 0 ? range[0] : range[1]);
        if (range[1] > 0 && target > range[1]) {
            throw Status.OUT_OF_RANGE.withDescription("volumes grow in multiples of 4Mi: " + range[0] + " rounds up to "
                    + target + ", above limit_bytes " + range[1]).asRuntimeException();
        }
        if (!Names.isValidVolumeName(id)) {
            throw Calls.notFound("volume " + id + " does not exist");
        }
        try (KeyedLocks.Held ignored = locks.lock("volume:" + id)) {
            Versioned<VolumeIntent> intent = Calls.await(store.get(keys.volume(id), VolumeIntent.class))
                    .filter(v -> !v.value().deletionRequested() && !isPart(v.value()))
                    .orElseThrow(() -> Calls.notFound("volume " + id + " does not exist"));
            if (intent.value().layout().multiPart()) {
                // Growing would mean growing every part, then the assembled device, and neither the
                // controller nor the node plugin does that yet (docs/layouts.md). The specification
                // has no row of its own for a volume that cannot grow; its general row "Invalid or
                // unsupported field in the request" is INVALID_ARGUMENT: this volume_id is one the
                // plugin does not expand (FAILED_PRECONDITION is reserved for a volume in use).
                throw Calls.invalid("volume " + id + " is a " + intent.value().layout() + " volume of "
                        + intent.value().parts() + " parts; expanding a multi-part volume is not supported yet");
            }
            long size = Math.max(target, intent.value().sizeBytes());
            if (intent.value().sizeBytes() < target
                    && !Calls.await(store.compareAndPut(keys.volume(id), intent.value().withSizeBytes(target),
                    intent.modRevision()))) {
                throw Calls.aborted("volume " + id + " changed while it was being expanded; retry");
            }
            Ready ready = Calls.await(view.await(() -> grown(id, size), Calls.remaining()),
                    "volume " + id + " to grow to " + size + " bytes");
            boolean block = request.hasVolumeCapability() ? request.getVolumeCapability().hasBlock()
                    : intent.value().fsType() == null;
            return ControllerExpandVolumeResponse.newBuilder()
                    .setCapacityBytes(Math.max(ready.placement().sizeBytes(), ready.status().sizeBytes()))
                    .setNodeExpansionRequired(!block).build();
        }
    }

    private Optional<Ready> grown(String volume, long size) {
        Placement placement = view.placement(volume).orElse(null);
        return Calls.done(VolumeProgress.grown(volume, view.volumeScheduling(volume).orElse(null), placement,
                placement == null ? null : view.volumeStatus(placement.node(), volume).orElse(null), size))
                .map(Ready::of);
    }
}
