package io.ferry.agent.export;

import io.ferry.model.ExportInfo;
import io.ferry.model.ExportSpec;
import io.ferry.model.Nqn;
import io.ferry.model.OrphanOwner;
import java.nio.file.LinkOption;
import java.util.Comparator;
import org.assertj.core.api.Assertions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/** The configfs layout, against a plain directory tree standing in for /sys/kernel/config/nvmet. */
class NvmetExporterTest {

    static final String PREFIX = "nqn.2026-11.io.ferry";
    static final String CLUSTER = "0b6c1e2a-0000-4000-8000-000000000001";
    static final String OURS = PREFIX + ":" + CLUSTER;
    static final String HOST_A = "nqn.2014-08.org.nvmexpress:uuid:aaaaaaaa-0000-0000-0000-000000000001";
    static final String HOST_B = "nqn.2014-08.org.nvmexpress:uuid:bbbbbbbb-0000-0000-0000-000000000002";

    static final long MIB_256 = 256L << 20;
    static final long MIB_512 = 512L << 20;

    @TempDir
    Path root;
    NvmetExporter exporter;

    @BeforeEach
    void setUp() throws Exception {
        Files.createDirectories(root.resolve("subsystems"));
        Files.createDirectories(root.resolve("ports"));
        Files.createDirectories(root.resolve("hosts"));
        exporter = new NvmetExporter(root, PREFIX, CLUSTER, "10.0.1.11", 4420, 1);
    }

    String read(Path p) throws Exception {
        return Files.readString(p).strip();
    }

    @Test
    void exportsOneSubsystemPerVolumeOnlyToTheAllowedHost() throws Exception {
        assertThat(exporter.available()).isTrue();
        ExportInfo info = exporter.export("vol-a", "/dev/loop3", MIB_256, ExportSpec.tcp("node-b", Set.of(HOST_A)));
        String nqn = OURS + ":vol:vol-a";
        assertThat(info).isEqualTo(ExportInfo.tcp(nqn, "10.0.1.11", 4420, Nqn.serialForVolume("vol-a"), Set.of(HOST_A)));
        Path sub = root.resolve("subsystems").resolve(nqn);
        assertThat(read(sub.resolve("attr_allow_any_host"))).isEqualTo("0");
        assertThat(read(sub.resolve("attr_serial"))).isEqualTo(Nqn.serialForVolume("vol-a"));
        assertThat(Files.readSymbolicLink(sub.resolve("allowed_hosts").resolve(HOST_A)))
                .isEqualTo(root.resolve("hosts").resolve(HOST_A));
        assertThat(read(sub.resolve("namespaces/1/device_path"))).isEqualTo("/dev/loop3");
        assertThat(read(sub.resolve("namespaces/1/enable"))).isEqualTo("1");
        Path port = root.resolve("ports/1");
        assertThat(read(port.resolve("addr_trtype"))).isEqualTo("tcp");
        assertThat(read(port.resolve("addr_adrfam"))).isEqualTo("ipv4");
        assertThat(read(port.resolve("addr_traddr"))).isEqualTo("10.0.1.11");
        assertThat(read(port.resolve("addr_trsvcid"))).isEqualTo("4420");
        assertThat(Files.readSymbolicLink(port.resolve("subsystems").resolve(nqn))).isEqualTo(sub);
        assertThat(exporter.exportedVolumes()).containsExactly("vol-a");
    }

    @Test
    void theNamespaceKeepsItsIdentifiersAcrossATargetReboot() throws Exception {
        String nqn = OURS + ":vol:vol-a";
        Path ns = root.resolve("subsystems").resolve(nqn).resolve("namespaces/1");
        exporter.export("vol-a", "/dev/ferry/vol-a", MIB_256, ExportSpec.tcp("node-b", Set.of(HOST_A)));
        String uuid = read(ns.resolve("device_uuid"));
        assertThat(uuid).matches("[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
        assertThat(read(ns.resolve("device_nguid"))).isEqualTo(uuid);

        // A reboot empties configfs; the kernel gives the recreated namespace a random UUID again.
        deleteTree(root.resolve("subsystems"));
        deleteTree(root.resolve("ports"));
        Files.createDirectories(root.resolve("subsystems"));
        Files.createDirectories(root.resolve("ports"));
        Files.createDirectories(ns);
        Files.writeString(ns.resolve("device_uuid"), "0b4e2d1c-9f33-4d55-a1e2-3c4d5e6f7a8b\n");
        new NvmetExporter(root, PREFIX, CLUSTER, "10.0.1.11", 4420, 1)
                .export("vol-a", "/dev/ferry/vol-a", MIB_256, ExportSpec.tcp("node-b", Set.of(HOST_A)));
        assertThat(read(ns.resolve("device_uuid"))).isEqualTo(uuid);
        assertThat(read(ns.resolve("device_nguid"))).isEqualTo(uuid);
        assertThat(read(ns.resolve("enable"))).isEqualTo("1");

        assertThat(NvmetExporter.namespaceUuid(nqn)).isEqualTo(uuid);
        assertThat(NvmetExporter.namespaceUuid(OURS + ":vol:vol-b")).isNotEqualTo(uuid);
        assertThat(NvmetExporter.namespaceUuid("nqn.2026-12.org.other:vol:vol-a")).isNotEqualTo(uuid);
    }

    static void deleteTree(Path dir) throws Exception {
        try (var paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    @Test
    void exportingAgainChangesOnlyWhatDiffers() throws Exception {
        exporter.export("vol-a", "/dev/loop3", MIB_256, ExportSpec.tcp("node-b", Set.of(HOST_A)));
        exporter.export("vol-a", "/dev/loop8", MIB_256, ExportSpec.tcp("node-c", Set.of(HOST_B)));
        Path sub = root.resolve("subsystems").resolve(OURS + ":vol:vol-a");
        try (var links = Files.list(sub.resolve("allowed_hosts"))) {
            assertThat(links.map(p -> p.getFileName().toString())).containsExactly(HOST_B);
        }
        assertThat(read(sub.resolve("namespaces/1/device_path"))).isEqualTo("/dev/loop8");
        assertThat(read(sub.resolve("namespaces/1/enable"))).isEqualTo("1");
    }

    @Test
    void unexportRemovesTheSubsystemAndItsPortLinkAndIsIdempotent() throws Exception {
        exporter.export("vol-a", "/dev/loop3", MIB_256, ExportSpec.tcp("node-b", Set.of(HOST_A)));
        exporter.export("vol-b", "/dev/loop4", MIB_256, ExportSpec.tcp("node-b", Set.of(HOST_A)));
        exporter.unexport("vol-a");
        exporter.unexport("vol-a");
        assertThat(root.resolve("subsystems").resolve(OURS + ":vol:vol-a")).doesNotExist();
        assertThat(root.resolve("ports/1/subsystems").resolve(OURS + ":vol:vol-a")).doesNotExist();
        assertThat(exporter.exportedVolumes()).containsExactly("vol-b");
        assertThat(root.resolve("hosts").resolve(HOST_A)).isDirectory();
    }

    @Test
    void ignoresSubsystemsThatAreNotFerrys() throws Exception {
        Files.createDirectories(root.resolve("subsystems/nqn.2020-01.com.example:other"));
        assertThat(exporter.exportedVolumes()).isEmpty();
        assertThat(exporter.exports()).isEmpty();
    }

    @Test
    void anotherClustersExportOfAVolumeOfTheSameNameIsNeverTouchedAndIsReportedAsItsOwn() throws Exception {
        String other = "0b6c1e2a-0000-4000-8000-000000000002";
        NvmetExporter theirs = new NvmetExporter(root, PREFIX, other, "10.0.1.11", 4420, 1);
        theirs.export("vol-a", "/dev/loop7", MIB_256, ExportSpec.tcp("node-c", Set.of(HOST_B)));
        exporter.export("vol-a", "/dev/loop3", MIB_256, ExportSpec.tcp("node-b", Set.of(HOST_A)));
        exporter.unexport("vol-a");

        Path theirSub = root.resolve("subsystems").resolve(PREFIX + ":" + other + ":vol:vol-a");
        assertThat(read(theirSub.resolve("namespaces/1/device_path"))).isEqualTo("/dev/loop7");
        assertThat(theirSub.resolve("allowed_hosts").resolve(HOST_B)).exists();
        assertThat(theirSub.resolve("allowed_hosts").resolve(HOST_A)).doesNotExist();
        assertThat(exporter.exportedVolumes()).isEmpty();
        assertThat(exporter.exports()).containsExactly(new Exporter.Exported(PREFIX + ":" + other + ":vol:vol-a",
                "vol-a", other, OrphanOwner.OTHER_CLUSTER));
    }

    @Test
    void anExportOfBeforeClusterIdsKeepsItsNameUntilUnexportedAndThenComesBackWithTheId() throws Exception {
        // what an agent of before cluster ids left in configfs, with a host connected to it
        String legacy = PREFIX + ":vol:vol-a";
        NvmetExporterTest.makeLegacy(root, legacy);
        ExportInfo info = exporter.export("vol-a", "/dev/loop3", MIB_256, ExportSpec.tcp("node-b", Set.of(HOST_A)));
        assertThat(info.nqn()).isEqualTo(legacy);
        assertThat(root.resolve("subsystems").resolve(OURS + ":vol:vol-a")).doesNotExist();
        assertThat(exporter.exports()).containsExactly(new Exporter.Exported(legacy, "vol-a", null, OrphanOwner.UNMARKED));
        assertThat(exporter.exportedVolumes()).containsExactly("vol-a");

        exporter.unexport("vol-a");
        assertThat(root.resolve("subsystems").resolve(legacy)).doesNotExist();
        assertThat(root.resolve("ports/1/subsystems").resolve(legacy)).doesNotExist();
        assertThat(exporter.export("vol-a", "/dev/loop3", MIB_256, ExportSpec.tcp("node-b", Set.of(HOST_A))).nqn())
                .isEqualTo(OURS + ":vol:vol-a");
        assertThat(exporter.exports()).extracting(Exporter.Exported::owner).containsExactly(OrphanOwner.THIS_CLUSTER);
    }

    static void makeLegacy(Path root, String nqn) throws Exception {
        Path sub = Files.createDirectories(root.resolve("subsystems").resolve(nqn));
        Files.createDirectories(sub.resolve("allowed_hosts"));
        Files.createDirectories(sub.resolve("namespaces/1"));
        Files.writeString(sub.resolve("namespaces/1/device_path"), "/dev/loop3\n");
        Files.writeString(sub.resolve("namespaces/1/enable"), "1\n");
        Files.createDirectories(root.resolve("ports/1/subsystems"));
        Files.createSymbolicLink(root.resolve("ports/1/subsystems").resolve(nqn), sub);
    }

    /** configfs creates a namespace's attributes with the namespace; a plain tree needs them made. */
    Path revalidateAttr(String volume) throws Exception {
        Path ns = root.resolve("subsystems").resolve(OURS + ":vol:" + volume).resolve("namespaces/1");
        Files.createDirectories(ns);
        Path attr = ns.resolve("revalidate_size");
        Files.writeString(attr, "");
        return attr;
    }

    @Test
    void aNewlyEnabledNamespaceIsNotRevalidated() throws Exception {
        Path attr = revalidateAttr("vol-a");
        exporter.export("vol-a", "/dev/loop3", MIB_256, ExportSpec.tcp("node-b", Set.of(HOST_A)));
        assertThat(read(attr)).isEmpty();
    }

    @Test
    void growingAnExportedVolumeRevalidatesItsNamespaceOnce() throws Exception {
        exporter.export("vol-a", "/dev/loop3", MIB_256, ExportSpec.tcp("node-b", Set.of(HOST_A)));
        Path attr = revalidateAttr("vol-a");
        exporter.export("vol-a", "/dev/loop3", MIB_256, ExportSpec.tcp("node-b", Set.of(HOST_A)));
        assertThat(read(attr)).as("same size: nothing to tell").isEmpty();

        exporter.export("vol-a", "/dev/loop3", MIB_512, ExportSpec.tcp("node-b", Set.of(HOST_A)));
        assertThat(read(attr)).isEqualTo("1");
        assertThat(read(attr.resolveSibling("enable"))).as("never disabled around it").isEqualTo("1");

        Files.writeString(attr, "");
        exporter.export("vol-a", "/dev/loop3", MIB_512, ExportSpec.tcp("node-b", Set.of(HOST_A)));
        assertThat(read(attr)).as("already revalidated at this size").isEmpty();
    }

    @Test
    void aRestartedExporterRevalidatesAnEnabledNamespaceOnce() throws Exception {
        exporter.export("vol-a", "/dev/loop3", MIB_256, ExportSpec.tcp("node-b", Set.of(HOST_A)));
        Path attr = revalidateAttr("vol-a");
        // A crash after the LV grew but before the export was revisited: the new process cannot
        // know whether the kernel has the new size, and a revalidation without change is harmless.
        NvmetExporter restarted = new NvmetExporter(root, PREFIX, CLUSTER, "10.0.1.11", 4420, 1);
        restarted.export("vol-a", "/dev/loop3", MIB_512, ExportSpec.tcp("node-b", Set.of(HOST_A)));
        assertThat(read(attr)).isEqualTo("1");
        Files.writeString(attr, "");
        restarted.export("vol-a", "/dev/loop3", MIB_512, ExportSpec.tcp("node-b", Set.of(HOST_A)));
        assertThat(read(attr)).isEmpty();
    }

    @Test
    void aKernelWithoutRevalidateSizeStillExports() throws Exception {
        exporter.export("vol-a", "/dev/loop3", MIB_256, ExportSpec.tcp("node-b", Set.of(HOST_A)));
        ExportInfo info = exporter.export("vol-a", "/dev/loop3", MIB_512, ExportSpec.tcp("node-b", Set.of(HOST_A)));
        assertThat(info.nqn()).isEqualTo(OURS + ":vol:vol-a");
        assertThat(root.resolve("subsystems").resolve(OURS + ":vol:vol-a").resolve("namespaces/1/revalidate_size"))
                .doesNotExist();
    }

    @Test
    void aReexportAfterUnexportEnablesAfreshWithoutRevalidating() throws Exception {
        exporter.export("vol-a", "/dev/loop3", MIB_256, ExportSpec.tcp("node-b", Set.of(HOST_A)));
        exporter.unexport("vol-a");
        Path attr = revalidateAttr("vol-a");
        exporter.export("vol-a", "/dev/loop3", MIB_512, ExportSpec.tcp("node-b", Set.of(HOST_A)));
        assertThat(read(attr)).isEmpty();
    }

    @Test
    void isUnavailableWithoutConfigfs() {
        assertThat(new NvmetExporter(root.resolve("missing"), PREFIX, CLUSTER, "10.0.1.11", 4420, 1).available()).isFalse();
    }

    @Test
    void aHostNoLongerAllowedIsCutOffByUnlinkingThePortBeforeItsLinkGoesAndBeforeANewHostIsAllowed() throws Exception {
        String nqn = OURS + ":vol:vol-a";
        Path sub = root.resolve("subsystems").resolve(nqn);
        Path portLink = root.resolve("ports/1/subsystems").resolve(nqn);
        exporter.export("vol-a", "/dev/loop3", MIB_256, ExportSpec.tcp("node-b", Set.of(HOST_A)));
        exporter.export("vol-a", "/dev/loop3", MIB_256, ExportSpec.tcp("node-b", Set.of(HOST_A)));
        assertThat(exporter.fences()).as("nothing revoked, nobody cut").isZero();

        // A crash while revoking: the revoked host's entry cannot be removed (a directory here).
        Files.delete(sub.resolve("allowed_hosts").resolve(HOST_A));
        Files.createDirectories(sub.resolve("allowed_hosts").resolve(HOST_A).resolve("stuck"));
        Assertions.assertThatThrownBy(() ->
                exporter.export("vol-a", "/dev/loop3", MIB_256, ExportSpec.tcp("node-c", Set.of(HOST_B))));
        assertThat(Files.exists(portLink, LinkOption.NOFOLLOW_LINKS))
                .as("the port was unlinked (every connection cut) before the revoked host's entry went").isFalse();
        assertThat(sub.resolve("allowed_hosts").resolve(HOST_B)).as("the new host is not allowed yet").doesNotExist();

        Files.delete(sub.resolve("allowed_hosts").resolve(HOST_A).resolve("stuck"));
        Files.delete(sub.resolve("allowed_hosts").resolve(HOST_A));
        Files.createSymbolicLink(sub.resolve("allowed_hosts").resolve(HOST_A), root.resolve("hosts").resolve(HOST_A));
        ExportInfo info = exporter.export("vol-a", "/dev/loop3", MIB_256, ExportSpec.tcp("node-c", Set.of(HOST_B)));
        assertThat(info.allowedHostNqns()).containsExactly(HOST_B);
        assertThat(sub.resolve("allowed_hosts").resolve(HOST_A)).doesNotExist();
        assertThat(Files.isSymbolicLink(sub.resolve("allowed_hosts").resolve(HOST_B))).isTrue();
        assertThat(Files.readSymbolicLink(portLink)).as("linked to the port again for the hosts still allowed").isEqualTo(sub);
        assertThat(exporter.fences()).as("one completed cut; the interrupted one is not counted").isEqualTo(1);
    }
}
