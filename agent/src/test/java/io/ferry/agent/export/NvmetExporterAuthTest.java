package io.ferry.agent.export;

import io.ferry.model.DhchapKey;
import io.ferry.model.ExportSpec;
import io.ferry.model.FailureReason;
import io.ferry.model.HostSecret;
import io.ferry.model.NvmeAuth;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** DH-HMAC-CHAP on nvmet's host entries, against a plain tree standing in for configfs. */
class NvmetExporterAuthTest {

    static final String PREFIX = NvmetExporterTest.PREFIX;
    static final String CLUSTER = NvmetExporterTest.CLUSTER;
    static final String HOST_A = NvmetExporterTest.HOST_A;
    static final String NQN = PREFIX + ":" + CLUSTER + ":vol:vol-a";

    @TempDir
    Path root;
    NvmeAuth mode = NvmeAuth.BIDIRECTIONAL;
    final Map<String, HostSecret> copies = new HashMap<>();
    NvmetExporter exporter;

    @BeforeEach
    void setUp() throws Exception {
        Files.createDirectories(root.resolve("subsystems"));
        Files.createDirectories(root.resolve("ports"));
        exporter = new NvmetExporter(root, PREFIX, CLUSTER, "10.0.1.11", 4420, 1, new ExportSecrets() {
            @Override
            public NvmeAuth mode() {
                return mode;
            }

            @Override
            public Optional<HostSecret> forHost(String hostNqn) {
                return Optional.ofNullable(copies.get(hostNqn));
            }
        });
    }

    /** What a kernel with CONFIG_NVME_TARGET_AUTH creates with a host's directory. */
    void kernelWithAuth(String host) throws Exception {
        Path dir = root.resolve("hosts").resolve(host);
        Files.createDirectories(dir);
        for (String attr : new String[] {"dhchap_key", "dhchap_ctrl_key", "dhchap_hash", "dhchap_dhgroup"}) {
            Files.writeString(dir.resolve(attr), "");
        }
    }

    static HostSecret pair(long generation) {
        return HostSecret.of("node-b", HOST_A, generation, DhchapKey.generate(), DhchapKey.generate(), Instant.EPOCH);
    }

    String attr(String name) throws Exception {
        return Files.readString(root.resolve("hosts").resolve(HOST_A).resolve(name)).strip();
    }

    boolean linked() {
        return Files.exists(root.resolve("subsystems").resolve(NQN).resolve("allowed_hosts").resolve(HOST_A),
                LinkOption.NOFOLLOW_LINKS);
    }

    @Test
    void theHostEntryCarriesItsPairBeforeTheHostIsAllowed() throws Exception {
        kernelWithAuth(HOST_A);
        HostSecret secret = pair(1);
        copies.put(HOST_A, secret);
        exporter.export("vol-a", "/dev/loop3", 1 << 20, ExportSpec.tcp("node-b", Set.of(HOST_A)));
        assertThat(attr("dhchap_key")).isEqualTo(secret.hostKey());
        assertThat(attr("dhchap_ctrl_key")).isEqualTo(secret.ctrlKey());
        assertThat(attr("dhchap_hash")).isEqualTo("hmac(sha256)");
        assertThat(attr("dhchap_dhgroup")).isEqualTo("null");
        assertThat(linked()).isTrue();
    }

    @Test
    void withoutTheConsumersPairNothingIsAllowedAndTheReasonSaysItWaits() throws Exception {
        kernelWithAuth(HOST_A);
        assertThatThrownBy(() -> exporter.export("vol-a", "/dev/loop3", 1 << 20, ExportSpec.tcp("node-b", Set.of(HOST_A))))
                .isInstanceOfSatisfying(NvmeAuthException.class,
                        e -> assertThat(e.reason()).isEqualTo(FailureReason.NVME_AUTH_PENDING))
                .hasMessageContaining(HOST_A).hasMessageContaining("node-b");
        assertThat(linked()).isFalse();
        assertThat(Files.exists(root.resolve("subsystems").resolve(NQN))).isFalse();

        copies.put(HOST_A, pair(1));
        exporter.export("vol-a", "/dev/loop3", 1 << 20, ExportSpec.tcp("node-b", Set.of(HOST_A)));
        assertThat(linked()).isTrue();
    }

    @Test
    void aKernelWithoutTargetAuthExportsNothingAndNamesTheSettingThatTurnsItOff() {
        copies.put(HOST_A, pair(1));
        assertThatThrownBy(() -> exporter.export("vol-a", "/dev/loop3", 1 << 20, ExportSpec.tcp("node-b", Set.of(HOST_A))))
                .isInstanceOfSatisfying(NvmeAuthException.class,
                        e -> assertThat(e.reason()).isEqualTo(FailureReason.NVME_AUTH_UNSUPPORTED))
                .hasMessageContaining("CONFIG_NVME_TARGET_AUTH").hasMessageContaining("\"nvmeAuth\": \"off\"");
        assertThat(linked()).isFalse();
        assertThat(Files.exists(root.resolve("ports/1/subsystems").resolve(NQN), LinkOption.NOFOLLOW_LINKS)).isFalse();
    }

    @Test
    void aNewPairReplacesTheKeysOnTheLiveEntryWithoutCuttingAnyone() throws Exception {
        kernelWithAuth(HOST_A);
        copies.put(HOST_A, pair(1));
        exporter.export("vol-a", "/dev/loop3", 1 << 20, ExportSpec.tcp("node-b", Set.of(HOST_A)));
        HostSecret next = pair(2);
        copies.put(HOST_A, next);
        exporter.export("vol-a", "/dev/loop3", 1 << 20, ExportSpec.tcp("node-b", Set.of(HOST_A)));
        assertThat(attr("dhchap_key")).isEqualTo(next.hostKey());
        assertThat(attr("dhchap_ctrl_key")).isEqualTo(next.ctrlKey());
        assertThat(exporter.fences()).isZero();
        assertThat(Files.exists(root.resolve("ports/1/subsystems").resolve(NQN), LinkOption.NOFOLLOW_LINKS)).isTrue();
    }

    @Test
    void authenticationTurnedOffTakesTheKeysOffTheLiveEntryWithoutCuttingAnyone() throws Exception {
        kernelWithAuth(HOST_A);
        copies.put(HOST_A, pair(1));
        exporter.export("vol-a", "/dev/loop3", 1 << 20, ExportSpec.tcp("node-b", Set.of(HOST_A)));
        assertThat(attr("dhchap_key")).startsWith("DHHC-1:");

        mode = NvmeAuth.OFF;
        exporter.export("vol-a", "/dev/loop3", 1 << 20, ExportSpec.tcp("node-b", Set.of(HOST_A)));
        // What nvmet takes as "no key" (checked on the 6.12 kernel): an empty write never reaches it.
        assertThat(attr("dhchap_key")).isEqualTo("\0");
        assertThat(attr("dhchap_ctrl_key")).isEqualTo("\0");
        assertThat(linked()).isTrue();
        assertThat(exporter.fences()).as("no connection cut").isZero();
    }

    @Test
    void authenticationOffLeavesAKernelWithoutTargetAuthAlone() throws Exception {
        mode = NvmeAuth.OFF;
        exporter.export("vol-a", "/dev/loop3", 1 << 20, ExportSpec.tcp("node-b", Set.of(HOST_A)));
        try (var files = Files.list(root.resolve("hosts").resolve(HOST_A))) {
            assertThat(files).isEmpty();
        }
        assertThat(linked()).isTrue();
    }

    @Test
    void unidirectionalSetsOnlyTheHostKeyAndOffSetsNone() throws Exception {
        kernelWithAuth(HOST_A);
        mode = NvmeAuth.UNIDIRECTIONAL;
        HostSecret secret = pair(1);
        copies.put(HOST_A, secret);
        exporter.export("vol-a", "/dev/loop3", 1 << 20, ExportSpec.tcp("node-b", Set.of(HOST_A)));
        assertThat(attr("dhchap_key")).isEqualTo(secret.hostKey());
        assertThat(attr("dhchap_ctrl_key")).isEmpty();

        exporter.unexport("vol-a");
        Files.writeString(root.resolve("hosts").resolve(HOST_A).resolve("dhchap_key"), "");
        mode = NvmeAuth.OFF;
        copies.clear();
        exporter.export("vol-a", "/dev/loop3", 1 << 20, ExportSpec.tcp("node-b", Set.of(HOST_A)));
        assertThat(attr("dhchap_key")).isEmpty();
        assertThat(linked()).isTrue();
    }
}
