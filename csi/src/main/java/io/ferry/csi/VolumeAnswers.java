package io.ferry.csi;

import io.ferry.csi.v1.Topology;
import io.ferry.csi.v1.Volume;
import io.ferry.csi.v1.VolumeCondition;
import io.ferry.csi.v1.VolumeContentSource;
import io.ferry.model.Placement;
import io.ferry.model.PositionAdvice;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeParts;
import io.ferry.model.VolumeScheduling;
import io.ferry.model.VolumeStatus;

import java.util.Objects;

/**
 * The CSI {@code Volume} and {@code VolumeCondition} that CreateVolume, ListVolumes and
 * ControllerGetVolume answer for a volume intent, from a whole-cluster {@link ClusterView}. One
 * place for what the CO is told of a volume, so that the three calls cannot tell it differently;
 * a multi-part volume's answers come from its parts through {@link PartsAnswers}.
 */
final class VolumeAnswers {

    private final ClusterView view;
    private final PartsAnswers parts;

    VolumeAnswers(ClusterView view, PartsAnswers parts) {
        this.view = view;
        this.parts = parts;
    }

    /** The volume as the view holds it now: its placement, or for a multi-part volume its parts. */
    Volume.Builder volume(VolumeIntent intent) {
        return volume(intent, view.placement(intent.name()).orElse(null), view.volumeParts(intent.name()).orElse(null));
    }

    /**
     * The CSI volume: its capacity is what the consumer gets, so for a multi-part volume the
     * assembled device's size (one leg of a mirror, the segments' sum of a linear volume).
     */
    Volume.Builder volume(VolumeIntent intent, Placement placement, VolumeParts volumeParts) {
        long capacity = intent.sizeBytes();
        if (intent.layout().multiPart()) {
            capacity = volumeParts != null ? volumeParts.assembledBytes() : capacity;
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
        String local = placement != null ? placement.node() : volumeParts == null ? null : parts.sharedNode(volumeParts);
        if (intent.positionAdvice() == PositionAdvice.MUST_LOCAL && local != null) {
            volume.addAccessibleTopology(Topology.newBuilder().putSegments(Driver.TOPOLOGY_NODE, local));
        }
        return volume;
    }

    /** A multi-part volume is abnormal while any part is; before its parts exist, its own record speaks. */
    VolumeCondition condition(VolumeIntent intent) {
        VolumeParts volumeParts = intent.layout().multiPart() ? view.volumeParts(intent.name()).orElse(null) : null;
        if (volumeParts == null) {
            return condition(intent.name());
        }
        return parts.condition(volumeParts, this::condition);
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
}
