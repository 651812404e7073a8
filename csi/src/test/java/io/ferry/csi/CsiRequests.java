package io.ferry.csi;

import io.ferry.csi.v1.CapacityRange;
import io.ferry.csi.v1.CreateVolumeRequest;
import io.ferry.csi.v1.Topology;
import io.ferry.csi.v1.TopologyRequirement;
import io.ferry.csi.v1.VolumeCapability;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;

/** Requests and answers as the conformance tests write and read them. */
final class CsiRequests {

    static final long MI = 1L << 20;
    static final long GI = 1L << 30;

    private CsiRequests() {
    }

    static VolumeCapability mount(String fs) {
        return VolumeCapability.newBuilder().setMount(VolumeCapability.MountVolume.newBuilder().setFsType(fs))
                .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER))
                .build();
    }

    static VolumeCapability block() {
        return VolumeCapability.newBuilder().setBlock(VolumeCapability.BlockVolume.getDefaultInstance())
                .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER))
                .build();
    }

    /** A filesystem volume whose consumer is {@link CsiHarness#NODE}, as external-provisioner asks with WaitForFirstConsumer. */
    static CreateVolumeRequest.Builder create(String name, long bytes) {
        return CreateVolumeRequest.newBuilder().setName(name).addVolumeCapabilities(mount("ext4"))
                .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(bytes))
                .setAccessibilityRequirements(TopologyRequirement.newBuilder().addPreferred(
                        Topology.newBuilder().putSegments(Driver.TOPOLOGY_NODE, CsiHarness.NODE)));
    }

    static Status.Code code(Runnable call) {
        try {
            call.run();
        } catch (StatusRuntimeException e) {
            return e.getStatus().getCode();
        }
        return Status.Code.OK;
    }

    static String message(Runnable call) {
        try {
            call.run();
        } catch (StatusRuntimeException e) {
            return e.getStatus().getDescription();
        }
        return "";
    }
}
