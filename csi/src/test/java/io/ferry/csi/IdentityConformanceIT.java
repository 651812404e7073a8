package io.ferry.csi;

import io.ferry.csi.v1.GetPluginCapabilitiesRequest;
import io.ferry.csi.v1.GetPluginInfoRequest;
import io.ferry.csi.v1.PluginCapability;
import io.ferry.csi.v1.ProbeRequest;
import java.util.List;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The identity service's conformance to the CSI specification, against the real plugin ({@link CsiHarness}). */
class IdentityConformanceIT extends ConformanceTest {

    @Test
    void identityReportsNameCapabilitiesAndReadiness() {
        assertThat(h.identity().getPluginInfo(GetPluginInfoRequest.getDefaultInstance()).getName()).isEqualTo("ferry.csi.io");
        List<PluginCapability> caps = h.identity().getPluginCapabilities(GetPluginCapabilitiesRequest.getDefaultInstance())
                .getCapabilitiesList();
        assertThat(caps).extracting(c -> c.getService().getType()).contains(
                PluginCapability.Service.Type.CONTROLLER_SERVICE, PluginCapability.Service.Type.VOLUME_ACCESSIBILITY_CONSTRAINTS);
        assertThat(caps).extracting(c -> c.getVolumeExpansion().getType()).contains(PluginCapability.VolumeExpansion.Type.ONLINE);
        assertThat(h.identity().probe(ProbeRequest.getDefaultInstance()).getReady().getValue()).isTrue();
    }
}
