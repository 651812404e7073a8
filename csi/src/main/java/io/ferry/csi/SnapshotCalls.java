package io.ferry.csi;

import com.google.protobuf.Timestamp;
import io.ferry.csi.v1.CreateSnapshotRequest;
import io.ferry.csi.v1.CreateSnapshotResponse;
import io.ferry.csi.v1.DeleteSnapshotRequest;
import io.ferry.csi.v1.DeleteSnapshotResponse;
import io.ferry.csi.v1.ListSnapshotsRequest;
import io.ferry.csi.v1.ListSnapshotsResponse;
import io.ferry.csi.v1.Snapshot;
import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.Names;
import io.ferry.model.SnapshotIntent;
import io.ferry.model.SnapshotProgress;
import io.ferry.model.SnapshotStatus;
import io.ferry.model.VolumeIntent;

import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * CreateSnapshot, DeleteSnapshot and ListSnapshots: snapshot intents ({@code snapshots/<snap>})
 * written, marked for deletion and listed, and the wait for the agent's {@code readyToUse}.
 */
final class SnapshotCalls {

    private final EtcdStore store;
    private final FerryKeys keys;
    private final ClusterView view;
    private final KeyedLocks locks;
    private final Clock clock;

    SnapshotCalls(EtcdStore store, ClusterView view, KeyedLocks locks, Clock clock) {
        this.store = store;
        this.keys = store.keys();
        this.view = view;
        this.locks = locks;
        this.clock = clock;
    }

    CreateSnapshotResponse create(CreateSnapshotRequest request) throws Exception {
        String csiName = request.getName();
        String source = request.getSourceVolumeId();
        Calls.require(!csiName.isEmpty(), "name is required");
        Calls.require(!source.isEmpty(), "source_volume_id is required");
        Calls.require(request.getParametersMap().keySet().stream()
                .allMatch(k -> k.startsWith(StorageClassParameters.SIDECAR_PREFIX)),
                "VolumeSnapshotClass parameters are not supported: " + request.getParametersMap().keySet());
        String name = CsiNames.ferryName(csiName);
        try (KeyedLocks.Held ignored = locks.lock("csi-name:" + csiName, "snapshot:" + name)) {
            Optional<Versioned<SnapshotIntent>> existing = Calls.await(store.get(keys.snapshot(name), SnapshotIntent.class));
            long createRevision;
            if (existing.isPresent()) {
                SnapshotIntent current = existing.get().value();
                if (!CsiNames.sameOrigin(current.createdBy(), csiName) || !current.sourceVolume().equals(source)) {
                    throw Calls.alreadyExists("snapshot " + csiName + " exists for source volume " + current.sourceVolume());
                }
                if (current.deletionRequested()) {
                    throw Calls.aborted("snapshot " + name + " is being deleted; retry once it is gone");
                }
                createRevision = existing.get().createRevision();
            } else {
                VolumeIntent sourceVolume = (Names.isValidVolumeName(source)
                        ? Calls.await(store.get(keys.volume(source), VolumeIntent.class)) : Optional.<Versioned<VolumeIntent>>empty())
                        .map(Versioned::value).filter(v -> !v.deletionRequested() && v.partOf() == null)
                        .orElseThrow(() -> Calls.notFound("source volume " + source + " does not exist"));
                if (sourceVolume.layout().multiPart()) {
                    // A snapshot of several parts is consistent only if every part is cut at one
                    // instant, which nothing does yet (docs/layouts.md). CreateSnapshot's own error
                    // rows do not cover a source that cannot be snapshotted; the specification's
                    // general row "Invalid or unsupported field in the request" is INVALID_ARGUMENT.
                    throw Calls.invalid("source volume " + source + " is a " + sourceVolume.layout() + " volume of "
                            + sourceVolume.parts() + " parts; snapshots of multi-part volumes are not supported yet");
                }
                if (!Calls.await(store.putIfAbsent(keys.snapshot(name),
                        SnapshotIntent.of(name, source, CsiNames.createdBy(csiName), clock.instant())))) {
                    throw Calls.aborted("snapshot " + name + " was created concurrently; retry");
                }
                createRevision = Calls.await(store.get(keys.snapshot(name), SnapshotIntent.class))
                        .map(Versioned::createRevision).orElse(0L);
            }
            SnapshotStatus status = Calls.await(view.await(() -> Calls.cut(SnapshotProgress.cut(name,
                    view.snapshotScheduling(name).orElse(null), createRevision, view.snapshotScheduling(name)
                            .filter(s -> s.node() != null).flatMap(s -> view.snapshotStatus(s.node(), name))
                            .orElse(null))), Calls.remaining()), "snapshot " + name + " to be ready");
            return CreateSnapshotResponse.newBuilder().setSnapshot(snapshot(name, source, status)).build();
        }
    }

    private static Snapshot snapshot(String name, String source, SnapshotStatus status) {
        Snapshot.Builder snapshot = Snapshot.newBuilder().setSnapshotId(name).setSourceVolumeId(source);
        if (status != null) {
            snapshot.setSizeBytes(status.sizeBytes()).setReadyToUse(status.readyToUse());
            if (status.createdAt() != null) {
                Instant at = status.createdAt();
                snapshot.setCreationTime(Timestamp.newBuilder().setSeconds(at.getEpochSecond()).setNanos(at.getNano()));
            }
        }
        return snapshot.build();
    }

    DeleteSnapshotResponse delete(DeleteSnapshotRequest request) throws Exception {
        String id = request.getSnapshotId();
        Calls.require(!id.isEmpty(), "snapshot_id is required");
        if (!Names.isValidSnapshotName(id)) {
            return DeleteSnapshotResponse.getDefaultInstance();
        }
        try (KeyedLocks.Held ignored = locks.lock("snapshot:" + id)) {
            for (int attempt = 0; attempt < 5; attempt++) {
                Optional<Versioned<SnapshotIntent>> existing = Calls.await(store.get(keys.snapshot(id), SnapshotIntent.class));
                if (existing.isEmpty() || existing.get().value().deletionRequested()) {
                    return DeleteSnapshotResponse.getDefaultInstance();
                }
                if (Calls.await(store.compareAndPut(keys.snapshot(id), existing.get().value().withDeletionRequested(),
                        existing.get().modRevision()))) {
                    return DeleteSnapshotResponse.getDefaultInstance();
                }
            }
            throw Calls.aborted("snapshot " + id + " kept changing while it was being deleted; retry");
        }
    }

    ListSnapshotsResponse list(ListSnapshotsRequest request) throws Exception {
        Calls.require(request.getMaxEntries() >= 0, "max_entries must not be negative");
        String after = PageTokens.after(request.getStartingToken());
        List<SnapshotIntent> all = view.snapshots().stream().filter(s -> !s.deletionRequested())
                .filter(s -> request.getSnapshotId().isEmpty() || s.name().equals(request.getSnapshotId()))
                .filter(s -> request.getSourceVolumeId().isEmpty() || s.sourceVolume().equals(request.getSourceVolumeId()))
                .filter(s -> after == null || s.name().compareTo(after) > 0).toList();
        int limit = request.getMaxEntries() == 0 ? all.size() : Math.min(request.getMaxEntries(), all.size());
        ListSnapshotsResponse.Builder response = ListSnapshotsResponse.newBuilder();
        for (SnapshotIntent s : all.subList(0, limit)) {
            SnapshotStatus status = view.snapshotScheduling(s.name()).filter(c -> c.node() != null)
                    .flatMap(c -> view.snapshotStatus(c.node(), s.name())).orElse(null);
            response.addEntries(ListSnapshotsResponse.Entry.newBuilder().setSnapshot(snapshot(s.name(), s.sourceVolume(), status)));
        }
        if (limit < all.size()) {
            response.setNextToken(PageTokens.next(all.get(limit - 1).name()));
        }
        return response.build();
    }
}
