package io.ferry.tools.bench;

import io.ferry.csi.Driver;
import io.ferry.csi.v1.CapacityRange;
import io.ferry.csi.v1.CreateVolumeRequest;
import io.ferry.csi.v1.Topology;
import io.ferry.csi.v1.TopologyRequirement;
import io.ferry.csi.v1.VolumeCapability;
import io.ferry.model.Placement;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * What a scale run asks for: the names of its nodes and volumes, which node consumes each volume
 * (and so, here, where it is placed), and the CSI request that creates it. Apart from
 * {@link ScaleRun}, which runs the steps and measures them.
 */
final class ScaleWorkload {

    private final ScaleRun.Options options;

    ScaleWorkload(ScaleRun.Options options) {
        this.options = options;
    }

    static String node(int i) {
        return String.format("n%05d", i);
    }

    static String volume(int i) {
        return String.format("scale-%07d", i);
    }

    /** The node the i-th volume is consumed on: the restarted node for its share, else the others in turn (never the node plugin's). */
    int consumer(int i) {
        if (i % 100 < options.restartPercent()) {
            return 0;
        }
        return 1 + i % (options.nodes() - 2);
    }

    CreateVolumeRequest create(String name, String consumer) {
        return CreateVolumeRequest.newBuilder().setName(name)
                .addVolumeCapabilities(VolumeCapability.newBuilder()
                        .setMount(VolumeCapability.MountVolume.newBuilder().setFsType("ext4"))
                        .setAccessMode(VolumeCapability.AccessMode.newBuilder()
                                .setMode(VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER)))
                .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(options.volumeBytes()))
                .setAccessibilityRequirements(TopologyRequirement.newBuilder().addPreferred(
                        Topology.newBuilder().putSegments(Driver.TOPOLOGY_NODE, consumer)))
                .build();
    }

    /** How many of the run's volumes have no placement among these. */
    long unplaced(List<Placement> placements) {
        Set<String> placed = new HashSet<>();
        placements.forEach(p -> placed.add(p.volume()));
        long unplaced = 0;
        for (int i = 0; i < options.volumes(); i++) {
            if (!placed.contains(volume(i))) {
                unplaced++;
            }
        }
        return unplaced;
    }
}
