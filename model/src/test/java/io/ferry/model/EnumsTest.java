package io.ferry.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class EnumsTest {
    @ParameterizedTest
    @CsvSource({"lvm, LVM", "LVM-THIN, LVM_THIN", "Spdk, SPDK", " file , FILE"})
    void parsesEnginesCaseInsensitively(String text, Engine expected) {
        assertThat(Engine.parse(text)).isEqualTo(expected);
    }

    @Test
    void rejectsUnknownValuesListingTheAllowedOnes() {
        assertThatThrownBy(() -> Engine.parse("lvm_thin"))
                .isInstanceOf(ValidationException.class)
                .hasMessage("\"lvm_thin\" is not a known engine (allowed: lvm, lvm-thin, spdk, file)");
        assertThatThrownBy(() -> PositionAdvice.parse("local"))
                .hasMessageContaining("MustLocal, PreferLocal, PreferRemote, MustRemote");
        assertThatThrownBy(() -> SchedulerPolicyName.parse(null)).isInstanceOf(ValidationException.class);
        assertThatThrownBy(() -> VolumePhase.parse("ready!")).hasMessageContaining("Pending, Creating, Ready");
        assertThatThrownBy(() -> SchedulingPhase.parse("")).hasMessageContaining("NoFit");
        assertThatThrownBy(() -> OrphanKind.parse("lvol")).hasMessageContaining("nvmet-subsystem");
        assertThatThrownBy(() -> FailureDomainLevel.parse("row")).hasMessageContaining("node, rack, switch, zone");
    }

    @Test
    void writesTheDocumentedJsonValues() {
        assertThat(Json.encodeToString(Engine.LVM_THIN)).isEqualTo("\"lvm-thin\"");
        assertThat(Json.encodeToString(PositionAdvice.MUST_LOCAL)).isEqualTo("\"MustLocal\"");
        assertThat(Json.encodeToString(SchedulingPhase.NO_FIT)).isEqualTo("\"NoFit\"");
        assertThat(Json.encodeToString(OrphanKind.NVMET_SUBSYSTEM)).isEqualTo("\"nvmet-subsystem\"");
        assertThat(Engine.LVM_THIN).hasToString("lvm-thin");
    }

    @Test
    void everyConstantRoundTripsThroughItsJsonValue() {
        for (Engine e : Engine.values()) {
            assertThat(Json.decode(Json.encode(e), Engine.class)).isEqualTo(e);
        }
        for (VolumePhase e : VolumePhase.values()) {
            assertThat(VolumePhase.parse(e.value())).isEqualTo(e);
        }
        for (SchedulingPhase e : SchedulingPhase.values()) {
            assertThat(SchedulingPhase.parse(e.value())).isEqualTo(e);
        }
        for (PositionAdvice e : PositionAdvice.values()) {
            assertThat(PositionAdvice.parse(e.value().toUpperCase())).isEqualTo(e);
        }
        for (OrphanKind e : OrphanKind.values()) {
            assertThat(OrphanKind.parse(e.value())).isEqualTo(e);
        }
        for (SchedulerPolicyName e : SchedulerPolicyName.values()) {
            assertThat(SchedulerPolicyName.parse(e.value())).isEqualTo(e);
        }
    }

    @Test
    void onlyLvmIsThickOnlyAndOnlyLvmThinIsThinOnly() {
        assertThat(Engine.LVM.thin()).isFalse();
        assertThat(Engine.LVM.thick()).isTrue();
        assertThat(Engine.LVM_THIN.thin()).isTrue();
        assertThat(Engine.LVM_THIN.thick()).isFalse();
        assertThat(Engine.SPDK.thin() && Engine.SPDK.thick()).isTrue();
        assertThat(Engine.FILE.thin() && Engine.FILE.thick()).isTrue();
    }

    @Test
    void failureDomainsComeFromTheNodeNameOrItsLabels() {
        Map<String, String> labels = Map.of("rack", "r7", "topology.kubernetes.io/zone", "eu-1a");
        assertThat(FailureDomainLevel.NODE.labelKey()).isNull();
        assertThat(FailureDomainLevel.NODE.domainOf("worker-1", labels)).isEqualTo("worker-1");
        assertThat(FailureDomainLevel.RACK.domainOf("worker-1", labels)).isEqualTo("r7");
        assertThat(FailureDomainLevel.SWITCH.domainOf("worker-1", labels)).isNull();
        assertThat(FailureDomainLevel.ZONE.domainOf("worker-1", labels)).isEqualTo("eu-1a");
        assertThat(FailureDomainLevel.ZONE.domainOf("worker-1", Map.of("zone", "z1",
                "topology.kubernetes.io/zone", "eu-1a"))).isEqualTo("z1");
        assertThat(FailureDomainLevel.SWITCH.labelKey()).isEqualTo("switch");
    }
}
