package io.ferry.agent;

import io.ferry.model.Condition;
import io.ferry.model.Engine;
import io.ferry.model.ExportTarget;
import io.ferry.model.NodeReason;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/** What a node's registration says it can do, and how it names its admin server. */
class NodeRegistrationsTest {

    static final Instant NOW = Instant.parse("2026-01-01T00:00:00Z");

    static Condition named(List<Condition> conditions, String type) {
        return conditions.stream().filter(c -> c.type().equals(type)).findFirst().orElseThrow();
    }

    @Test
    void aNodeWithKernelNvmetCanExport() {
        List<Condition> c = NodeRegistrations.capabilities(Set.of(ExportTarget.NVMET), Set.of(Engine.FILE), false, NOW);

        assertThat(named(c, Condition.CAN_EXPORT).reason()).isEqualTo(NodeReason.NVMET_LOADED.value());
        assertThat(named(c, Condition.ENGINES_AVAILABLE).reason()).isEqualTo(NodeReason.ENGINES_PROBED.value());
    }

    @Test
    void anSpdkOnlyNodeWhoseTargetDoesNotAnswerSaysSo() {
        List<Condition> c = NodeRegistrations.capabilities(Set.of(), Set.of(Engine.SPDK), true, NOW);

        assertThat(named(c, Condition.CAN_EXPORT).reason()).isEqualTo(NodeReason.SPDK_NOT_RUNNING.value());
    }

    @Test
    void aNodeWithoutEnginesOrExportersSaysWhy() {
        List<Condition> c = NodeRegistrations.capabilities(Set.of(), Set.of(), false, NOW);

        assertThat(named(c, Condition.CAN_EXPORT).reason()).isEqualTo(NodeReason.NVMET_NOT_LOADED.value());
        assertThat(named(c, Condition.ENGINES_AVAILABLE).reason()).isEqualTo(NodeReason.NO_ENGINE.value());
    }

    @Test
    void anIpv6AdminHostIsBracketed() {
        assertThat(NodeRegistrations.adminAddress("::1", 9100)).isEqualTo("[::1]:9100");
        assertThat(NodeRegistrations.adminAddress("10.0.0.5", 9100)).isEqualTo("10.0.0.5:9100");
    }
}
