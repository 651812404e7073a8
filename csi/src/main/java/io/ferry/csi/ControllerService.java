package io.ferry.csi;

import io.ferry.csi.v1.ControllerExpandVolumeRequest;
import io.ferry.csi.v1.ControllerExpandVolumeResponse;
import io.ferry.csi.v1.ControllerGetCapabilitiesRequest;
import io.ferry.csi.v1.ControllerGetCapabilitiesResponse;
import io.ferry.csi.v1.ControllerGetVolumeRequest;
import io.ferry.csi.v1.ControllerGetVolumeResponse;
import io.ferry.csi.v1.ControllerGrpc;
import io.ferry.csi.v1.ControllerPublishVolumeRequest;
import io.ferry.csi.v1.ControllerPublishVolumeResponse;
import io.ferry.csi.v1.ControllerServiceCapability;
import io.ferry.csi.v1.ControllerUnpublishVolumeRequest;
import io.ferry.csi.v1.ControllerUnpublishVolumeResponse;
import io.ferry.csi.v1.CreateSnapshotRequest;
import io.ferry.csi.v1.CreateSnapshotResponse;
import io.ferry.csi.v1.CreateVolumeRequest;
import io.ferry.csi.v1.CreateVolumeResponse;
import io.ferry.csi.v1.DeleteSnapshotRequest;
import io.ferry.csi.v1.DeleteSnapshotResponse;
import io.ferry.csi.v1.DeleteVolumeRequest;
import io.ferry.csi.v1.DeleteVolumeResponse;
import io.ferry.csi.v1.GetCapacityRequest;
import io.ferry.csi.v1.GetCapacityResponse;
import io.ferry.csi.v1.ListSnapshotsRequest;
import io.ferry.csi.v1.ListSnapshotsResponse;
import io.ferry.csi.v1.ListVolumesRequest;
import io.ferry.csi.v1.ListVolumesResponse;
import io.ferry.csi.v1.ValidateVolumeCapabilitiesRequest;
import io.ferry.csi.v1.ValidateVolumeCapabilitiesResponse;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.placement.Scheduler;
import io.grpc.stub.StreamObserver;

import java.time.Clock;
import java.util.List;

/**
 * The CSI controller service: the gRPC face of {@link VolumeCalls}, {@link PublishCalls},
 * {@link SnapshotCalls} and {@link CapacityCalls}. Those only write intents ({@code volumes/},
 * {@code snapshots/}, {@code attachments/}) and then wait, on the watches of a {@link ClusterView},
 * for the controller's scheduling status and the agent's volume status, turning terminal statuses
 * into gRPC codes. Calls are serialized per CSI name and per volume/snapshot id through one
 * {@link KeyedLocks} they share.
 */
public final class ControllerService extends ControllerGrpc.ControllerImplBase {

    private final VolumeCalls volumes;
    private final PublishCalls publishing;
    private final SnapshotCalls snapshots;
    private final CapacityCalls capacity;

    public ControllerService(EtcdStore store, ClusterView view, KeyedLocks locks, Clock clock) {
        this.volumes = new VolumeCalls(store, view, locks, clock);
        this.publishing = new PublishCalls(store, view, locks, clock);
        this.snapshots = new SnapshotCalls(store, view, locks, clock);
        this.capacity = new CapacityCalls(view, new Scheduler());
    }

    @Override
    public void createVolume(CreateVolumeRequest request, StreamObserver<CreateVolumeResponse> observer) {
        Calls.unary("CreateVolume", observer, () -> volumes.create(request));
    }

    @Override
    public void deleteVolume(DeleteVolumeRequest request, StreamObserver<DeleteVolumeResponse> observer) {
        Calls.unary("DeleteVolume", observer, () -> volumes.delete(request));
    }

    @Override
    public void validateVolumeCapabilities(ValidateVolumeCapabilitiesRequest request,
                                           StreamObserver<ValidateVolumeCapabilitiesResponse> observer) {
        Calls.unary("ValidateVolumeCapabilities", observer, () -> volumes.validate(request));
    }

    @Override
    public void listVolumes(ListVolumesRequest request, StreamObserver<ListVolumesResponse> observer) {
        Calls.unary("ListVolumes", observer, () -> volumes.list(request));
    }

    @Override
    public void controllerGetVolume(ControllerGetVolumeRequest request, StreamObserver<ControllerGetVolumeResponse> observer) {
        Calls.unary("ControllerGetVolume", observer, () -> volumes.get(request));
    }

    @Override
    public void controllerExpandVolume(ControllerExpandVolumeRequest request,
                                       StreamObserver<ControllerExpandVolumeResponse> observer) {
        Calls.unary("ControllerExpandVolume", observer, () -> volumes.expand(request));
    }

    @Override
    public void controllerPublishVolume(ControllerPublishVolumeRequest request,
                                        StreamObserver<ControllerPublishVolumeResponse> observer) {
        Calls.unary("ControllerPublishVolume", observer, () -> publishing.publish(request));
    }

    @Override
    public void controllerUnpublishVolume(ControllerUnpublishVolumeRequest request,
                                          StreamObserver<ControllerUnpublishVolumeResponse> observer) {
        Calls.unary("ControllerUnpublishVolume", observer, () -> publishing.unpublish(request));
    }

    @Override
    public void createSnapshot(CreateSnapshotRequest request, StreamObserver<CreateSnapshotResponse> observer) {
        Calls.unary("CreateSnapshot", observer, () -> snapshots.create(request));
    }

    @Override
    public void deleteSnapshot(DeleteSnapshotRequest request, StreamObserver<DeleteSnapshotResponse> observer) {
        Calls.unary("DeleteSnapshot", observer, () -> snapshots.delete(request));
    }

    @Override
    public void listSnapshots(ListSnapshotsRequest request, StreamObserver<ListSnapshotsResponse> observer) {
        Calls.unary("ListSnapshots", observer, () -> snapshots.list(request));
    }

    @Override
    public void getCapacity(GetCapacityRequest request, StreamObserver<GetCapacityResponse> observer) {
        Calls.unary("GetCapacity", observer, () -> capacity.get(request));
    }

    @Override
    public void controllerGetCapabilities(ControllerGetCapabilitiesRequest request,
                                          StreamObserver<ControllerGetCapabilitiesResponse> observer) {
        Calls.unary("ControllerGetCapabilities", observer, () -> {
            ControllerGetCapabilitiesResponse.Builder response = ControllerGetCapabilitiesResponse.newBuilder();
            for (ControllerServiceCapability.RPC.Type type : List.of(
                    ControllerServiceCapability.RPC.Type.CREATE_DELETE_VOLUME,
                    ControllerServiceCapability.RPC.Type.PUBLISH_UNPUBLISH_VOLUME,
                    ControllerServiceCapability.RPC.Type.LIST_VOLUMES,
                    ControllerServiceCapability.RPC.Type.GET_CAPACITY,
                    ControllerServiceCapability.RPC.Type.CREATE_DELETE_SNAPSHOT,
                    ControllerServiceCapability.RPC.Type.LIST_SNAPSHOTS,
                    ControllerServiceCapability.RPC.Type.CLONE_VOLUME,
                    ControllerServiceCapability.RPC.Type.PUBLISH_READONLY,
                    ControllerServiceCapability.RPC.Type.EXPAND_VOLUME,
                    ControllerServiceCapability.RPC.Type.LIST_VOLUMES_PUBLISHED_NODES,
                    ControllerServiceCapability.RPC.Type.VOLUME_CONDITION,
                    ControllerServiceCapability.RPC.Type.GET_VOLUME,
                    ControllerServiceCapability.RPC.Type.SINGLE_NODE_MULTI_WRITER)) {
                response.addCapabilities(ControllerServiceCapability.newBuilder()
                        .setRpc(ControllerServiceCapability.RPC.newBuilder().setType(type)));
            }
            return response.build();
        });
    }
}
