package io.ferry.agent.spdk;

import io.ferry.agent.export.ExportSecrets;
import io.ferry.agent.export.NvmeAuthException;
import io.ferry.agent.export.SpdkExporter;
import io.ferry.model.DhchapKey;
import io.ferry.model.ExportSpec;
import io.ferry.model.FailureReason;
import io.ferry.model.HostSecret;
import io.ferry.model.NvmeAuth;
import io.ferry.model.Nqn;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import static io.ferry.agent.spdk.SpdkExporterTest.CLUSTER;
import static io.ferry.agent.spdk.SpdkExporterTest.HOST_A;
import static io.ferry.agent.spdk.SpdkExporterTest.HOST_B;
import static io.ferry.agent.spdk.SpdkExporterTest.PREFIX;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link SpdkExporter} with {@code nvmeAuth} on, against {@link FakeSpdk}'s keyring and
 * DH-HMAC-CHAP RPCs (SPDK 24.09's parameters and refusals): which RPCs run, what they carry (key
 * names and file paths, never keys), the files SPDK reads, and what an older SPDK gets.
 */
class SpdkExporterAuthTest {

    @TempDir
    Path dir;
    FakeSpdk spdk;
    SpdkClient client;
    Path keys;
    Secrets secrets = new Secrets();
    String nqn = Nqn.forVolume(PREFIX, CLUSTER, "v1");

    /** What HostAuth gives the exporter: the mode and the copies of consumer pairs, changeable. */
    static final class Secrets implements ExportSecrets {
        volatile NvmeAuth mode = NvmeAuth.BIDIRECTIONAL;
        final Map<String, HostSecret> pairs = new ConcurrentHashMap<>();

        @Override
        public NvmeAuth mode() {
            return mode;
        }

        @Override
        public Optional<HostSecret> forHost(String hostNqn) {
            return Optional.ofNullable(pairs.get(hostNqn));
        }

        HostSecret publish(String node, String host, long generation) {
            HostSecret pair = HostSecret.of(node, host, generation, DhchapKey.generate(), DhchapKey.generate(),
                    Instant.parse("2026-11-30T12:00:00Z"));
            pairs.put(host, pair);
            return pair;
        }
    }

    @BeforeEach
    void start() throws IOException {
        spdk = FakeSpdk.withLvols(dir.resolve("spdk.sock"), "v1", "v2");
        client = spdk.client();
        keys = dir.resolve("state").resolve(SpdkExporter.KEY_DIR);
    }

    @AfterEach
    void stop() throws IOException {
        spdk.close();
    }

    SpdkExporter exporter() {
        return new SpdkExporter(client, PREFIX, CLUSTER, "10.0.1.11", 4421, () -> true, secrets, keys);
    }

    static String keyName(String node, long generation, String kind) {
        return "ferry-" + CLUSTER + "-" + node + "-" + generation + "-" + kind;
    }

    void assertNoRequestCarries(HostSecret... pairs) {
        for (HostSecret p : pairs) {
            assertThat(spdk.requests).as("no RPC carries key material").noneMatch(r -> r.toString().contains(p.hostKey())
                    || r.toString().contains(p.ctrlKey()) || r.toString().contains("DHHC-1"));
        }
        assertThat(spdk.requests).allMatch(r -> SpdkClientTest.check(r) == null);
    }

    @Test
    void addsAHostWithTheNamesOfBothKeysWhichSpdkReadsFromFilesOnlyItsUserCanRead() throws IOException {
        HostSecret pair = secrets.publish("node-2", HOST_A, 1);
        exporter().export("v1", "lvs0/v1", 1L << 30, ExportSpec.tcp("node-2", Set.of(HOST_A)));

        assertThat(spdk.mutations()).containsExactly("nvmf_create_subsystem", "keyring_file_add_key",
                "keyring_file_add_key", "nvmf_subsystem_add_host", "nvmf_subsystem_add_ns",
                "nvmf_subsystem_add_listener");
        assertThat(spdk.only("nvmf_subsystem_add_host").toString()).isEqualTo("{\"nqn\":\"" + nqn + "\",\"host\":\""
                + HOST_A + "\",\"dhchap_key\":\"" + keyName("node-2", 1, "host") + "\",\"dhchap_ctrlr_key\":\""
                + keyName("node-2", 1, "ctrl") + "\"}");
        Path hostKey = keys.resolve(keyName("node-2", 1, "host"));
        assertThat(spdk.keys.get(keyName("node-2", 1, "host")).path).isEqualTo(hostKey.toAbsolutePath().toString());
        assertThat(Files.readString(hostKey)).isEqualTo(pair.hostKey());
        assertThat(Files.readString(keys.resolve(keyName("node-2", 1, "ctrl")))).isEqualTo(pair.ctrlKey());
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(hostKey))).isEqualTo("rw-------");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(keys))).isEqualTo("rwx------");
        assertThat(spdk.subsystems.get(nqn).hostKeys.get(HOST_A))
                .containsExactly(keyName("node-2", 1, "host"), keyName("node-2", 1, "ctrl"));
        assertNoRequestCarries(pair);
    }

    @Test
    void unidirectionalAddsTheHostKeyOnly() {
        secrets.mode = NvmeAuth.UNIDIRECTIONAL;
        secrets.publish("node-2", HOST_A, 1);
        exporter().export("v1", "lvs0/v1", 1L << 30, ExportSpec.tcp("node-2", Set.of(HOST_A)));
        assertThat(spdk.only("keyring_file_add_key").path("name").asText()).isEqualTo(keyName("node-2", 1, "host"));
        assertThat(spdk.only("nvmf_subsystem_add_host").has("dhchap_ctrlr_key")).isFalse();
        assertThat(spdk.subsystems.get(nqn).hostKeys.get(HOST_A)).containsExactly(keyName("node-2", 1, "host"), null);
    }

    @Test
    void aChangedPairIsSetOnTheLiveHostWithoutRemovingItAndTheOldKeysGo() {
        SpdkExporter exporter = exporter();
        HostSecret first = secrets.publish("node-2", HOST_A, 1);
        exporter.export("v1", "lvs0/v1", 1L << 30, ExportSpec.tcp("node-2", Set.of(HOST_A)));
        spdk.clear();

        HostSecret second = secrets.publish("node-2", HOST_A, 2);
        exporter.export("v1", "lvs0/v1", 1L << 30, ExportSpec.tcp("node-2", Set.of(HOST_A)));
        assertThat(spdk.mutations()).as("set_keys, never remove_host: the connection stays").containsExactly(
                "keyring_file_add_key", "keyring_file_add_key", "nvmf_subsystem_set_keys",
                "keyring_file_remove_key", "keyring_file_remove_key");
        assertThat(spdk.only("nvmf_subsystem_set_keys").toString()).isEqualTo("{\"nqn\":\"" + nqn + "\",\"host\":\""
                + HOST_A + "\",\"dhchap_key\":\"" + keyName("node-2", 2, "host") + "\",\"dhchap_ctrlr_key\":\""
                + keyName("node-2", 2, "ctrl") + "\"}");
        assertThat(spdk.keys).containsOnlyKeys(keyName("node-2", 2, "host"), keyName("node-2", 2, "ctrl"));
        assertThat(keys.resolve(keyName("node-2", 1, "host"))).doesNotExist();
        assertThat(keys.resolve(keyName("node-2", 2, "host"))).exists();
        assertNoRequestCarries(first, second);

        // The operation key rotation calls: every subsystem that allows the host, at once.
        exporter.export("v2", "lvs0/v2", 1L << 30, ExportSpec.tcp("node-2", Set.of(HOST_A)));
        spdk.clear();
        HostSecret third = secrets.publish("node-2", HOST_A, 3);
        assertThat(exporter.changeHostPair(third)).containsExactlyInAnyOrder(nqn, Nqn.forVolume(PREFIX, CLUSTER, "v2"));
        assertThat(spdk.mutations()).filteredOn("nvmf_subsystem_set_keys"::equals).hasSize(2);
        assertThat(spdk.mutations()).doesNotContain("nvmf_subsystem_remove_host");
        assertThat(spdk.keys).containsOnlyKeys(keyName("node-2", 3, "host"), keyName("node-2", 3, "ctrl"));
        spdk.clear();
        assertThat(exporter.changeHostPair(third)).as("the same pair again changes nothing").isEmpty();
        assertThat(spdk.mutations()).isEmpty();
    }

    @Test
    void authenticationTurnedOffClearsTheLiveHostsKeysWithoutCuttingItAndTheKeysGo() {
        SpdkExporter exporter = exporter();
        secrets.publish("node-2", HOST_A, 1);
        exporter.export("v1", "lvs0/v1", 1L << 30, ExportSpec.tcp("node-2", Set.of(HOST_A)));
        spdk.clear();

        secrets.mode = NvmeAuth.OFF;
        exporter.export("v1", "lvs0/v1", 1L << 30, ExportSpec.tcp("node-2", Set.of(HOST_A)));
        assertThat(spdk.mutations()).as("set_keys without keys, never remove_host: the connection stays")
                .startsWith("nvmf_subsystem_set_keys").doesNotContain("nvmf_subsystem_remove_host");
        assertThat(spdk.only("nvmf_subsystem_set_keys").toString())
                .isEqualTo("{\"nqn\":\"" + nqn + "\",\"host\":\"" + HOST_A + "\"}");
        assertThat(spdk.subsystems.get(nqn).hostKeys.get(HOST_A)).containsOnlyNulls();
        assertThat(spdk.keys).as("keys no host uses any more").isEmpty();

        spdk.clear();
        exporter.export("v1", "lvs0/v1", 1L << 30, ExportSpec.tcp("node-2", Set.of(HOST_A)));
        assertThat(spdk.mutations()).as("nothing left to clear").isEmpty();
    }

    @Test
    void aRemovedHostTakesItsKeysAndFilesAlongButAKeyAnotherVolumeUsesStays() {
        SpdkExporter exporter = exporter();
        secrets.publish("node-2", HOST_A, 1);
        secrets.publish("node-3", HOST_B, 1);
        exporter.export("v1", "lvs0/v1", 1L << 30, ExportSpec.tcp("node-2", Set.of(HOST_A)));
        exporter.export("v2", "lvs0/v2", 1L << 30, ExportSpec.tcp("node-2", Set.of(HOST_A)));

        exporter.export("v1", "lvs0/v1", 1L << 30, ExportSpec.tcp("node-3", Set.of(HOST_B)));
        assertThat(spdk.subsystems.get(nqn).hosts).containsExactly(HOST_B);
        assertThat(spdk.keys).as("v2 still lets node-2 in with its keys").containsKeys(keyName("node-2", 1, "host"),
                keyName("node-2", 1, "ctrl"), keyName("node-3", 1, "host"));

        spdk.clear();
        exporter.unexport("v2");
        assertThat(spdk.mutations()).containsExactly("nvmf_delete_subsystem", "keyring_file_remove_key",
                "keyring_file_remove_key");
        assertThat(spdk.keys).containsOnlyKeys(keyName("node-3", 1, "host"), keyName("node-3", 1, "ctrl"));
        assertThat(keys.resolve(keyName("node-2", 1, "host"))).doesNotExist();
        assertThat(keys.resolve(keyName("node-2", 1, "ctrl"))).doesNotExist();

        exporter.unexport("v1");
        assertThat(spdk.keys).isEmpty();
        assertThat(keys).isEmptyDirectory();
    }

    @Test
    void anSpdkOlderThan2409IsRefusedByNameBeforeAnythingChanges() {
        secrets.publish("node-2", HOST_A, 1);
        spdk.major = 24;
        spdk.minor = 5;
        assertThatThrownBy(() -> exporter().export("v1", "lvs0/v1", 1L << 30, ExportSpec.tcp("node-2", Set.of(HOST_A))))
                .isInstanceOfSatisfying(NvmeAuthException.class,
                        e -> assertThat(e.reason()).isEqualTo(FailureReason.NVME_AUTH_UNSUPPORTED))
                .hasMessageContaining("SPDK v24.05").hasMessageContaining("v24.09 or later")
                .hasMessageContaining("\"nvmeAuth\": \"off\"");
        assertThat(spdk.mutations()).isEmpty();
        assertThat(keys).doesNotExist();

        secrets.mode = NvmeAuth.OFF;
        spdk.major = 23;
        spdk.minor = 1;
        exporter().export("v1", "lvs0/v1", 1L << 30, ExportSpec.tcp("node-2", Set.of(HOST_A)));
        assertThat(spdk.subsystems.get(nqn).hosts).as("without auth any version exports").containsExactly(HOST_A);
    }

    @Test
    void withoutTheConsumersPairTheExportWaitsAndChangesNothing() {
        assertThatThrownBy(() -> exporter().export("v1", "lvs0/v1", 1L << 30, ExportSpec.tcp("node-2", Set.of(HOST_A))))
                .isInstanceOfSatisfying(NvmeAuthException.class,
                        e -> assertThat(e.reason()).isEqualTo(FailureReason.NVME_AUTH_PENDING));
        assertThat(spdk.mutations()).isEmpty();
    }

    @Test
    void aRestartedAgentChangesNothingAndSweepsOnlyItsOwnLeftovers() throws IOException {
        secrets.publish("node-2", HOST_A, 1);
        exporter().export("v1", "lvs0/v1", 1L << 30, ExportSpec.tcp("node-2", Set.of(HOST_A)));
        // Left by a crash: a file of ours SPDK never registered, a temporary file; and others' keys.
        Files.writeString(keys.resolve(keyName("node-9", 4, "host")), "x");
        Files.writeString(keys.resolve("." + keyName("node-2", 2, "host") + "123.tmp"), "x");
        Path foreign = dir.resolve("psk0");
        Files.writeString(foreign, "x");
        Files.setPosixFilePermissions(foreign, PosixFilePermissions.fromString("rw-------"));
        client.addKeyFile("psk0", foreign);
        String otherCluster = "ferry-0b6c1e2a-0000-4000-8000-000000000002-node-2-1-host";
        client.addKeyFile(otherCluster, foreign);
        spdk.clear();

        exporter().export("v1", "lvs0/v1", 1L << 30, ExportSpec.tcp("node-2", Set.of(HOST_A)));
        assertThat(spdk.mutations()).as("a new process finds everything in place").isEmpty();
        assertThat(spdk.keys).containsKeys("psk0", otherCluster, keyName("node-2", 1, "host"));
        try (var files = Files.list(keys)) {
            assertThat(files.map(f -> f.getFileName().toString()))
                    .containsExactlyInAnyOrder(keyName("node-2", 1, "host"), keyName("node-2", 1, "ctrl"));
        }
        assertThat(foreign).exists();
    }

    @Test
    void theFakeRefusesWhatSpdkRefuses() throws IOException {
        client.createSubsystem(nqn, Nqn.serialForVolume("v1"), "Ferry");
        assertThatThrownBy(() -> client.addHost(nqn, HOST_A, new SpdkClient.HostKeys("nope", null)))
                .isInstanceOf(SpdkException.class).hasMessageContaining("Invalid parameters");
        Path open = dir.resolve("open");
        Files.writeString(open, "x");
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rw-r--r--"));
        assertThatThrownBy(() -> client.addKeyFile("k", open)).isInstanceOf(SpdkException.class)
                .hasMessageContaining("Operation not permitted");
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rw-------"));
        client.addKeyFile("k", open);
        assertThatThrownBy(() -> client.addKeyFile("k", open)).hasMessageContaining("File exists");
        assertThatThrownBy(() -> client.addHost(nqn, HOST_A, new SpdkClient.HostKeys(null, "k")))
                .isInstanceOf(SpdkException.class);
        assertThatThrownBy(() -> client.setKeys(nqn, HOST_A, new SpdkClient.HostKeys("k", null)))
                .as("set_keys on a host the subsystem does not allow").isInstanceOf(SpdkException.class);
        client.addHost(nqn, HOST_A, new SpdkClient.HostKeys("k", null));
        client.removeKeyFile("k");
        assertThat(client.keys()).as("removed but held by a host").containsExactly(new SpdkClient.Key("k", true));
        client.removeHost(nqn, HOST_A);
        assertThat(client.keys()).isEmpty();
        spdk.minor = 5;
        assertThatThrownBy(() -> client.setKeys(nqn, HOST_A, new SpdkClient.HostKeys("k", null)))
                .hasMessageContaining("Method not found");
    }
}
