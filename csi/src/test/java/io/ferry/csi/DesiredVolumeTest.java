package io.ferry.csi;

import io.ferry.csi.v1.CapacityRange;
import io.ferry.csi.v1.Topology;
import io.ferry.csi.v1.TopologyRequirement;
import io.ferry.model.Layout;
import io.ferry.model.VolumeIntent;
import io.grpc.Status;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The request-reading rules of CreateVolume that need neither etcd nor a view. */
class DesiredVolumeTest {

    private static final long GI = 1L << 30;

    @Test
    void anExistingVolumeWithinTheRangeAndTheSameParametersIsNoConflict() {
        VolumeIntent current = VolumeIntent.builder("v1", 2 * GI).fsType("ext4").build();
        VolumeIntent desired = VolumeIntent.builder("v1", GI).fsType("ext4").build();
        assertThat(DesiredVolume.conflict(current, desired, GI, 4 * GI)).isNull();
    }

    @Test
    void aConflictNamesEveryFieldThatDiffers() {
        VolumeIntent current = VolumeIntent.builder("v1", GI).fsType("ext4").thin(true).build();
        VolumeIntent desired = VolumeIntent.builder("v1", 2 * GI).fsType("xfs").build();
        assertThat(DesiredVolume.conflict(current, desired, 2 * GI, 0)).isEqualTo(
                "size 1073741824 bytes, requested 2147483648; thin true, requested false; fsType ext4, requested xfs");
    }

    @Test
    void anotherLayoutOrPartCountIsAConflict() {
        VolumeIntent mirror = VolumeIntent.builder("v1", GI).layout(Layout.MIRROR).build();
        assertThat(DesiredVolume.conflict(mirror, VolumeIntent.builder("v1", GI).build(), GI, 0))
                .isEqualTo("layout mirror, requested single; parts 2, requested 1");
        assertThat(DesiredVolume.conflict(mirror, VolumeIntent.builder("v1", GI).layout(Layout.MIRROR).parts(3).build(),
                GI, 0)).isEqualTo("parts 2, requested 3");
        assertThat(DesiredVolume.conflict(mirror, VolumeIntent.builder("v1", GI).layout(Layout.MIRROR).build(), GI, 0))
                .isNull();
    }

    @Test
    void theConsumerIsThePreferredNodeBeforeTheRequisiteOne() {
        TopologyRequirement requirement = TopologyRequirement.newBuilder()
                .addRequisite(Topology.newBuilder().putSegments(Driver.TOPOLOGY_NODE, "node-b"))
                .addPreferred(Topology.newBuilder().putSegments(Driver.TOPOLOGY_NODE, "node-a"))
                .build();
        assertThat(DesiredVolume.consumerNode(requirement)).isEqualTo("node-a");
        assertThat(DesiredVolume.consumerNode(null)).isNull();
    }

    @Test
    void aTopologyNamingAnInvalidNodeIsAnInvalidArgument() {
        TopologyRequirement requirement = TopologyRequirement.newBuilder()
                .addPreferred(Topology.newBuilder().putSegments(Driver.TOPOLOGY_NODE, "Not A Node")).build();
        assertThatThrownBy(() -> DesiredVolume.consumerNode(requirement))
                .satisfies(e -> assertThat(Status.fromThrowable(e).getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT))
                .hasMessageContaining("is not a valid node name");
    }

    @Test
    void aRequiredSizeAboveTheLimitIsOutOfRange() {
        assertThat(DesiredVolume.range(null)).containsExactly(0, 0);
        CapacityRange inverted = CapacityRange.newBuilder().setRequiredBytes(2 * GI).setLimitBytes(GI).build();
        assertThatThrownBy(() -> DesiredVolume.range(inverted))
                .satisfies(e -> assertThat(Status.fromThrowable(e).getCode()).isEqualTo(Status.Code.OUT_OF_RANGE))
                .hasMessageContaining("required_bytes 2147483648 exceeds limit_bytes 1073741824");
    }
}
