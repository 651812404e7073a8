package io.ferry.agent.spdk;

import io.ferry.agent.export.Exporter;
import io.ferry.agent.export.SpdkExporter;
import io.ferry.model.ExportInfo;
import io.ferry.model.ExportSpec;
import io.ferry.model.Nqn;
import io.ferry.model.OrphanOwner;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/** {@link SpdkExporter} against {@link FakeSpdk}: exact requests and the resulting subsystem. */
class SpdkExporterTest {

    static final String PREFIX = "nqn.2026-11.io.ferry";
    static final String CLUSTER = "0b6c1e2a-0000-4000-8000-000000000001";
    static final String HOST_A = "nqn.2014-08.org.nvmexpress:uuid:6c1f2a64-8b8e-4d62-9d0e-0f1b5e0c1a77";
    static final String HOST_B = "nqn.2014-08.org.nvmexpress:uuid:0b6f0c1e-2f0a-4a57-8a3e-3a1c2d4e5f60";

    @TempDir
    Path dir;
    FakeSpdk spdk;
    SpdkClient client;
    SpdkExporter exporter;

    @BeforeEach
    void start() throws IOException {
        spdk = FakeSpdk.withLvols(dir.resolve("spdk.sock"), "v1");
        client = spdk.client();
        exporter = new SpdkExporter(client, PREFIX, CLUSTER, "10.0.1.11", 4421, () -> true);
    }

    @AfterEach
    void stop() throws IOException {
        spdk.close();
    }

    @Test
    void exportsReExportsWithOtherHostsAndUnexports() {
        String nqn = Nqn.forVolume(PREFIX, CLUSTER, "v1");
        ExportInfo info = exporter.export("v1", "lvs0/v1", 1L << 30, ExportSpec.tcp("node-2", Set.of(HOST_A)));
        assertThat(info).isEqualTo(ExportInfo.tcp(nqn, "10.0.1.11", 4421, Nqn.serialForVolume("v1"), Set.of(HOST_A)));
        assertThat(spdk.mutations()).containsExactly("nvmf_create_subsystem", "nvmf_subsystem_add_host",
                "nvmf_subsystem_add_ns", "nvmf_subsystem_add_listener");
        assertThat(spdk.only("nvmf_create_subsystem").toString()).isEqualTo("{\"nqn\":\"" + nqn
                + "\",\"serial_number\":\"" + Nqn.serialForVolume("v1")
                + "\",\"model_number\":\"Ferry\",\"allow_any_host\":false}");
        assertThat(spdk.only("nvmf_subsystem_add_host").toString())
                .isEqualTo("{\"nqn\":\"" + nqn + "\",\"host\":\"" + HOST_A + "\"}");
        assertThat(spdk.only("nvmf_subsystem_add_ns").toString())
                .isEqualTo("{\"nqn\":\"" + nqn + "\",\"namespace\":{\"bdev_name\":\"lvs0/v1\",\"nsid\":1}}");
        assertThat(spdk.only("nvmf_subsystem_add_listener").toString()).isEqualTo("{\"nqn\":\"" + nqn
                + "\",\"listen_address\":{\"trtype\":\"TCP\",\"adrfam\":\"IPv4\",\"traddr\":\"10.0.1.11\","
                + "\"trsvcid\":\"4421\"}}");
        assertThat(exporter.exportedVolumes()).containsExactly("v1");

        spdk.clear();
        exporter.export("v1", "lvs0/v1", 1L << 30, ExportSpec.tcp("node-2", Set.of(HOST_A)));
        assertThat(spdk.mutations()).as("a repeated export changes nothing (namespace matched by UUID)").isEmpty();

        spdk.clear();
        exporter.export("v1", "lvs0/v1", 1L << 30, ExportSpec.tcp("node-3", Set.of(HOST_B)));
        assertThat(spdk.mutations()).containsExactly("nvmf_subsystem_add_host", "nvmf_subsystem_remove_host");
        assertThat(spdk.only("nvmf_subsystem_remove_host").path("host").asText()).isEqualTo(HOST_A);
        assertThat(spdk.subsystems.get(nqn).hosts).containsExactly(HOST_B);
        assertThat(spdk.subsystems.get(nqn).allowAnyHost).isFalse();

        spdk.clear();
        exporter.unexport("v1");
        assertThat(spdk.only("nvmf_delete_subsystem").toString()).isEqualTo("{\"nqn\":\"" + nqn + "\"}");
        spdk.clear();
        exporter.unexport("v1");
        assertThat(spdk.mutations()).as("unexporting what is gone is done").isEmpty();
        assertThat(exporter.exportedVolumes()).isEmpty();
        assertThat(spdk.requests).allMatch(r -> SpdkClientTest.check(r) == null);
    }

    @Test
    void aSubsystemOfBeforeClusterIdsIsServedUnderItsNameUntilUnexportedAndAnotherClustersIsLeftAlone() {
        String legacy = Nqn.legacyForVolume(PREFIX, "v1");
        String theirs = Nqn.forVolume(PREFIX, "0b6c1e2a-0000-4000-8000-000000000002", "v1");
        client.createSubsystem(legacy, Nqn.serialForVolume("v1"), "Ferry");
        client.createSubsystem(theirs, Nqn.serialForVolume("v1"), "Ferry");
        assertThat(exporter.export("v1", "lvs0/v1", 1L << 30, ExportSpec.tcp("node-2", Set.of(HOST_A))).nqn())
                .isEqualTo(legacy);
        assertThat(exporter.exportedVolumes()).containsExactly("v1");
        assertThat(exporter.exports()).extracting(Exporter.Exported::owner)
                .containsExactlyInAnyOrder(OrphanOwner.UNMARKED, OrphanOwner.OTHER_CLUSTER);
        exporter.unexport("v1");
        assertThat(spdk.subsystems).doesNotContainKey(legacy).containsKey(theirs);
        assertThat(spdk.subsystems.get(theirs).hosts).isEmpty();
        assertThat(exporter.export("v1", "lvs0/v1", 1L << 30, ExportSpec.tcp("node-2", Set.of(HOST_A))).nqn())
                .isEqualTo(Nqn.forVolume(PREFIX, CLUSTER, "v1"));
    }

    @Test
    void closesASubsystemSomeoneOpenedToAnyHost() {
        exporter.export("v1", "lvs0/v1", 1L << 30, ExportSpec.tcp("node-2", Set.of(HOST_A)));
        String nqn = Nqn.forVolume(PREFIX, CLUSTER, "v1");
        client.setAllowAnyHost(nqn, true);
        spdk.clear();
        exporter.export("v1", "lvs0/v1", 1L << 30, ExportSpec.tcp("node-2", Set.of(HOST_A)));
        assertThat(spdk.only("nvmf_subsystem_allow_any_host").toString())
                .isEqualTo("{\"nqn\":\"" + nqn + "\",\"allow_any_host\":false}");
        assertThat(spdk.subsystems.get(nqn).allowAnyHost).isFalse();
    }

    @Test
    void replacesANamespaceBackedByAnotherBdev() {
        String nqn = Nqn.forVolume(PREFIX, CLUSTER, "v1");
        client.createLvol("lvs0", "other", 4 << 20, true);
        client.createSubsystem(nqn, Nqn.serialForVolume("v1"), "Ferry");
        client.addNamespace(nqn, "lvs0/other", 1);
        spdk.clear();
        exporter.export("v1", "lvs0/v1", 1L << 30, ExportSpec.tcp("node-2", Set.of(HOST_A)));
        assertThat(spdk.mutations()).containsExactly("nvmf_subsystem_add_host", "nvmf_subsystem_remove_ns",
                "nvmf_subsystem_add_ns", "nvmf_subsystem_add_listener");
    }
}
