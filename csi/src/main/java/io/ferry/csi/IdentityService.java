package io.ferry.csi;

import com.google.protobuf.BoolValue;
import io.ferry.csi.v1.GetPluginCapabilitiesRequest;
import io.ferry.csi.v1.GetPluginCapabilitiesResponse;
import io.ferry.csi.v1.GetPluginInfoRequest;
import io.ferry.csi.v1.GetPluginInfoResponse;
import io.ferry.csi.v1.IdentityGrpc;
import io.ferry.csi.v1.PluginCapability;
import io.ferry.csi.v1.ProbeRequest;
import io.ferry.csi.v1.ProbeResponse;
import io.ferry.etcd.store.EtcdStore;
import io.grpc.stub.StreamObserver;

import java.util.function.BooleanSupplier;

/** The CSI identity service: who the plugin is, what it offers, and whether it is ready (etcd reachable, caches loaded). */
public final class IdentityService extends IdentityGrpc.IdentityImplBase {

    private final EtcdStore store;
    private final boolean controller;
    private final BooleanSupplier synced;

    public IdentityService(EtcdStore store, boolean controller, BooleanSupplier synced) {
        this.store = store;
        this.controller = controller;
        this.synced = synced;
    }

    @Override
    public void getPluginInfo(GetPluginInfoRequest request, StreamObserver<GetPluginInfoResponse> observer) {
        Calls.unary("GetPluginInfo", observer, () -> GetPluginInfoResponse.newBuilder()
                .setName(Driver.NAME).setVendorVersion(Driver.VERSION).build());
    }

    @Override
    public void getPluginCapabilities(GetPluginCapabilitiesRequest request,
                                      StreamObserver<GetPluginCapabilitiesResponse> observer) {
        Calls.unary("GetPluginCapabilities", observer, () -> {
            GetPluginCapabilitiesResponse.Builder response = GetPluginCapabilitiesResponse.newBuilder();
            if (controller) {
                response.addCapabilities(service(PluginCapability.Service.Type.CONTROLLER_SERVICE));
            }
            response.addCapabilities(service(PluginCapability.Service.Type.VOLUME_ACCESSIBILITY_CONSTRAINTS));
            response.addCapabilities(PluginCapability.newBuilder().setVolumeExpansion(
                    PluginCapability.VolumeExpansion.newBuilder().setType(PluginCapability.VolumeExpansion.Type.ONLINE)));
            return response.build();
        });
    }

    private static PluginCapability service(PluginCapability.Service.Type type) {
        return PluginCapability.newBuilder().setService(PluginCapability.Service.newBuilder().setType(type)).build();
    }

    @Override
    public void probe(ProbeRequest request, StreamObserver<ProbeResponse> observer) {
        Calls.unary("Probe", observer, () -> {
            boolean ready;
            try {
                Calls.await(store.currentRevision());
                ready = synced.getAsBoolean();
            } catch (Exception e) {
                ready = false;
            }
            return ProbeResponse.newBuilder().setReady(BoolValue.of(ready)).build();
        });
    }
}
