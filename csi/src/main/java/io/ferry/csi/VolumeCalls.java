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
import io.ferry.csi.v1.ValidateVolumeCapabilitiesRequest;
import io.ferry.csi.v1.ValidateVolumeCapabilitiesResponse;
import io.ferry.csi.v1.Volume;
import io.ferry.csi.v1.VolumeCapability;
import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.Layout;
import io.ferry.model.Names;
import io.ferry.model.Placement;
import io.ferry.model.SnapshotIntent;
import io.ferry.model.Sizes;
import io.ferry.model.ValidationException;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeParts;
import io.ferry.model.VolumeProgress;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;

import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
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
    private final PartsAnswers partsAnswers;
    private final VolumeAnswers answers;

    VolumeCalls(EtcdStore store, ClusterView view, KeyedLocks locks, Clock clock) {
        this.store = store;
        this.keys = store.keys();
        this.view = view;
        this.locks = locks;
        this.desiredVolumes = new DesiredVolume(store, view, clock);
        this.partsAnswers = PartsAnswers.of(view);
        this.answers = new VolumeAnswers(view, partsAnswers);
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
        Volume.Builder volume = answers.volume(intent, placement, parts);
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
        PartsProgress.Progress progress = partsAnswers.created(name, createRevision, view.volumeParts(name).orElse(null));
        if (progress.parts() == null) {
            requireController(name);
        }
        return Calls.done(progress);
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
                        .filter(v -> !PartsAnswers.isPart(v.value()));
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
                .filter(v -> !PartsAnswers.isPart(v))
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
        List<VolumeIntent> all = view.volumes().stream().filter(v -> !v.deletionRequested() && !PartsAnswers.isPart(v))
                .filter(v -> after == null || v.name().compareTo(after) > 0).toList();
        int limit = request.getMaxEntries() == 0 ? all.size() : Math.min(request.getMaxEntries(), all.size());
        ListVolumesResponse.Builder response = ListVolumesResponse.newBuilder();
        for (VolumeIntent intent : all.subList(0, limit)) {
            response.addEntries(ListVolumesResponse.Entry.newBuilder()
                    .setVolume(answers.volume(intent))
                    .setStatus(ListVolumesResponse.VolumeStatus.newBuilder()
                            .addAllPublishedNodeIds(view.attachedNodes(intent.name()))
                            .setVolumeCondition(answers.condition(intent))));
        }
        if (limit < all.size()) {
            response.setNextToken(PageTokens.next(all.get(limit - 1).name()));
        }
        return response.build();
    }

    ControllerGetVolumeResponse get(ControllerGetVolumeRequest request) throws Exception {
        String id = request.getVolumeId();
        Calls.require(!id.isEmpty(), "volume_id is required");
        VolumeIntent intent = (Names.isValidVolumeName(id)
                ? Calls.await(store.get(keys.volume(id), VolumeIntent.class)).map(Versioned::value) : Optional.<VolumeIntent>empty())
                .filter(v -> !v.deletionRequested() && !PartsAnswers.isPart(v))
                .orElseThrow(() -> Calls.notFound("volume " + id + " does not exist"));
        return ControllerGetVolumeResponse.newBuilder()
                .setVolume(answers.volume(intent))
                .setStatus(ControllerGetVolumeResponse.VolumeStatus.newBuilder()
                        .addAllPublishedNodeIds(view.attachedNodes(id))
                        .setVolumeCondition(answers.condition(intent)))
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
                    .filter(v -> !v.value().deletionRequested() && !PartsAnswers.isPart(v.value()))
                    .orElseThrow(() -> Calls.notFound("volume " + id + " does not exist"));
            if (intent.value().layout().multiPart()) {
                return expandParts(id, intent, range);
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

    /**
     * Grows a multi-part volume: its intent's size, then the controller grows every part
     * (docs/layouts.md, "Growing a multi-part volume"); returns once every part reports its new size.
     * The assembled device grows on the consumer, so node expansion is always required, for a raw
     * block volume too.
     */
    private ControllerExpandVolumeResponse expandParts(String id, Versioned<VolumeIntent> intent, long[] range)
            throws Exception {
        VolumeIntent spec = intent.value();
        long wanted = range[0] > 0 ? range[0] : range[1];
        long target = VolumeIntent.volumeSize(spec.layout(), spec.parts(), wanted);
        if (range[1] > 0 && target > range[1]) {
            throw Status.OUT_OF_RANGE.withDescription("a " + spec.layout() + " volume of " + spec.parts() + " parts grows in"
                    + " multiples of " + (spec.layout() == Layout.STRIPED ? spec.parts() * 4 : 4) + "Mi: " + wanted
                    + " rounds up to " + target + ", above limit_bytes " + range[1]).asRuntimeException();
        }
        long size = Math.max(target, spec.sizeBytes());
        if (spec.sizeBytes() < target && !Calls.await(store.compareAndPut(keys.volume(id), spec.withSizeBytes(target),
                intent.modRevision()))) {
            throw Calls.aborted("volume " + id + " changed while it was being expanded; retry");
        }
        Calls.await(view.await(() -> Calls.done(PartsProgress.grown(id, view.volumeScheduling(id).orElse(null),
                view.volumeParts(id).orElse(null), size, PartsProgress.of(view))), Calls.remaining()),
                "every part of volume " + id + " to grow for " + size + " bytes");
        return ControllerExpandVolumeResponse.newBuilder().setCapacityBytes(size).setNodeExpansionRequired(true).build();
    }

    private Optional<Ready> grown(String volume, long size) {
        Placement placement = view.placement(volume).orElse(null);
        return Calls.done(VolumeProgress.grown(volume, view.volumeScheduling(volume).orElse(null), placement,
                placement == null ? null : view.volumeStatus(placement.node(), volume).orElse(null), size))
                .map(Ready::of);
    }
}
