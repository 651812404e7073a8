package io.ferry.model;

import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The one rule for how a consumer node reaches a volume, and the registration field it rests on. */
class ReachTest {

    static final Instant T = Instant.parse("2026-11-30T04:00:00Z");
    static final String HOST_A = "nqn.2014-08.org.nvmexpress:uuid:6c1f2a64-8b8e-4d62-9d0e-0f1b5e0c1a77";
    static final String HOST_B = "nqn.2014-08.org.nvmexpress:uuid:0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9";

    static NodeRegistration node(String name, String machine) {
        NodeRegistration r = NodeRegistration.of(name, "127.0.0.1", null, name.equals("node-a") ? HOST_A : HOST_B,
                Set.of(Engine.FILE), Map.of(), "0.1.0", T).withExporters(Set.of());
        return machine == null ? r : r.withMachineId(machine);
    }

    @Test
    void theSameNodeIsLocalWhateverItsRegistrationSays() {
        assertThat(Reach.of("node-a", null, Engine.FILE, "node-a", null)).isEqualTo(Reach.LOCAL);
        assertThat(Reach.of("node-a", node("node-a", "m1"), Engine.SPDK, "node-a", node("node-a", "m1")))
                .isEqualTo(Reach.LOCAL);
    }

    @Test
    void anotherNodeOnTheSameMachineIsHandedTheDeviceWithoutAnExport() {
        Reach reach = Reach.of("node-b", node("node-b", "m1"), Engine.FILE, "node-a", node("node-a", "m1"));
        assertThat(reach).isEqualTo(Reach.HANDOFF);
        assertThat(reach.needsExport()).isFalse();
        assertThat(Reach.of("node-b", node("node-b", "m1"), Engine.LVM, "node-a", node("node-a", "m1")))
                .isEqualTo(Reach.HANDOFF);
    }

    @Test
    void differentMachinesAnUnknownMachineOrAMissingRegistrationNeedAnExport() {
        assertThat(Reach.of("node-b", node("node-b", "m2"), Engine.FILE, "node-a", node("node-a", "m1")))
                .isEqualTo(Reach.EXPORT);
        // An agent that predates machineId says nothing about where it runs: never the same machine,
        // not even beside another that does not say either.
        assertThat(Reach.of("node-b", node("node-b", null), Engine.FILE, "node-a", node("node-a", "m1")))
                .isEqualTo(Reach.EXPORT);
        assertThat(Reach.of("node-b", node("node-b", "m1"), Engine.FILE, "node-a", node("node-a", null)))
                .isEqualTo(Reach.EXPORT);
        assertThat(Reach.of("node-b", node("node-b", null), Engine.FILE, "node-a", node("node-a", null)))
                .isEqualTo(Reach.EXPORT);
        assertThat(Reach.of("node-b", null, Engine.FILE, "node-a", node("node-a", "m1"))).isEqualTo(Reach.EXPORT);
        assertThat(Reach.of("node-b", node("node-b", "m1"), Engine.FILE, "node-a", null)).isEqualTo(Reach.EXPORT);
        assertThat(Reach.EXPORT.needsExport()).isTrue();
    }

    @Test
    void anSpdkVolumeHasNoDeviceToHandOverAndIsExportedEvenOnTheSameMachine() {
        assertThat(Reach.of("node-b", node("node-b", "m1"), Engine.SPDK, "node-a", node("node-a", "m1")))
                .isEqualTo(Reach.EXPORT);
    }

    @Test
    void theMachineIdIsOptionalOnTheWireAndValidatedWhenPresent() {
        String older = Json.encodeToString(node("node-a", null));
        assertThat(older).doesNotContain("machineId");
        assertThat(Json.decode(older, NodeRegistration.class).machineId()).isNull();
        NodeRegistration current = node("node-a", "4b0f7c1e-2d3a-4e5f-8a9b-0c1d2e3f4a5b");
        assertThat(Json.decode(Json.encodeToString(current), NodeRegistration.class)).isEqualTo(current);
        assertThatThrownBy(() -> node("node-a", "has space")).isInstanceOf(ValidationException.class)
                .hasMessageContaining("machineId");
        assertThatThrownBy(() -> node("node-a", "")).isInstanceOf(ValidationException.class);
    }

    @Test
    void servedToASameMachineConsumerIsDoneWithTheServingNodesDeviceAndNoExport() {
        Placement placed = Placement.of("data-1", "pool-b", "node-b", Engine.FILE, 16L << 20, false, 2, "node-a",
                null, null, T);
        VolumeStatus ready = VolumeStatus.of("data-1", "node-b", "pool-b", VolumePhase.READY, "/dev/loop7", 16L << 20,
                null, 2, null, T);
        VolumeProgress.Outcome o = VolumeProgress.servedTo("data-1", placed, ready, "node-a", HOST_A,
                node("node-b", "m1"), node("node-a", "m1"), false);
        assertThat(o).isEqualTo(new VolumeProgress.Done(placed, ready, Reach.HANDOFF));
        // Without a device there is nothing to hand over yet.
        VolumeStatus noDevice = VolumeStatus.of("data-1", "node-b", "pool-b", VolumePhase.READY, null, 16L << 20,
                null, 2, null, T);
        assertThat(VolumeProgress.servedTo("data-1", placed, noDevice, "node-a", HOST_A, node("node-b", "m1"),
                node("node-a", "m1"), false)).isInstanceOf(VolumeProgress.InProgress.class);
        // On other machines the same status is not enough: the consumer waits for an export.
        VolumeProgress.Outcome elsewhere = VolumeProgress.servedTo("data-1", placed, ready, "node-a", HOST_A,
                node("node-b", "m2"), node("node-a", "m1"), false);
        assertThat(elsewhere).isInstanceOf(VolumeProgress.InProgress.class);
        assertThat(((VolumeProgress.InProgress) elsewhere).waitingFor()).contains("export to node-a");
        assertThat(VolumeProgress.servedTo("data-1", placed, ready, "node-a", HOST_A, node("node-b", null),
                node("node-a", null), false)).isInstanceOf(VolumeProgress.InProgress.class);
    }
}
