package io.ferry.tools.up;

import io.ferry.etcd.EtcdOptions;
import io.ferry.etcd.EtcdRoles;
import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.testing.Await;
import io.ferry.model.Engine;
import io.ferry.model.WorkItem;
import io.ferry.tools.cli.CtlShell;
import io.ferry.tools.cli.CtlShell.Result;
import java.io.IOException;
import java.util.ArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A real {@code ferry up --secure --processes} (its own process, its own etcd): authentication is on,
 * each component process runs as its own etcd user with only its own password file, a volume made
 * with ferryctl as ferry-admin is provisioned by the controller and an agent under their users, and
 * one agent's credentials cannot write another node's keys.
 */
class SecureUpIT {

    @RegisterExtension
    final FerryUpProcess ferry = new FerryUpProcess("ferry-secure-up-it-");

    static String environ(ProcessHandle p) {
        try {
            return new String(Files.readAllBytes(Path.of("/proc", Long.toString(p.pid()), "environ")), StandardCharsets.UTF_8)
                    .replace('\0', '\n');
        } catch (IOException e) {
            return "";
        }
    }

    static String cmdline(ProcessHandle p) {
        try {
            return new String(Files.readAllBytes(Path.of("/proc", Long.toString(p.pid()), "cmdline")), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }

    int etcdPort;
    int adminPort;
    Path data;

    /** Starts {@code ferry up --secure} with two agents and these options, and waits for "Ferry is up". */
    String upSecure(String... options) throws Exception {
        etcdPort = UpSupervisionIT.freeRange(2);
        adminPort = UpSupervisionIT.freeRange(3);
        data = ferry.dir.resolve("data");
        List<String> all = new ArrayList<>(List.of("--secure"));
        all.addAll(List.of(options));
        return up("up.out", all);
    }

    /** Starts {@code ferry up} on this test's data directory and ports with these options, and waits for "Ferry is up". */
    String up(String outputName, List<String> options) throws Exception {
        List<String> arguments = new ArrayList<>(List.of("--agents", "2", "--data-dir", data.toString(),
                "--etcd-port", String.valueOf(etcdPort), "--admin-port", String.valueOf(adminPort), "--ready-timeout", "150",
                "--csi-socket", ferry.dir.resolve("csi.sock").toString()));
        arguments.addAll(options);
        // Up, and the whole summary printed (its last line), which the assertions read.
        return ferry.start(outputName, arguments, Duration.ofSeconds(200), "Ferry is up", "Ctrl-C stops everything");
    }

    @Test
    void aSecureFerryUpRunsEachComponentProcessAsItsOwnUserAndAnAgentCannotWriteAnotherNodesKeys() throws Exception {
        String printed = upSecure("--processes", "--no-csi");
        Path credentials = data.resolve("credentials");
        Path adminFile = credentials.resolve(EtcdRoles.ADMIN + ".password");
        assertThat(printed).contains("security: etcd authentication: enabled")
                .contains("FERRY_ETCD_USER=" + EtcdRoles.ADMIN + " FERRY_ETCD_PASSWORD_FILE=" + adminFile);
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(credentials))).isEqualTo("rwx------");
        try (Stream<Path> files = Files.list(credentials)) {
            assertThat(files.toList()).isNotEmpty().allSatisfy(f ->
                    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(f))).as(f.toString()).isEqualTo("rw-------"));
        }

        // Each component process has its own user and only its own password file, never a password.
        Map<String, String> users = Map.of("io.ferry.controller.ControllerMain", EtcdRoles.CONTROLLER,
                "--node=node-1", EtcdRoles.agentRoleName("node-1"), "--node=node-2", EtcdRoles.agentRoleName("node-2"));
        List<ProcessHandle> children = ferry.process().descendants().toList();
        users.forEach((marker, user) -> {
            ProcessHandle child = children.stream().filter(p -> cmdline(p).contains(marker)).findFirst()
                    .orElseThrow(() -> new AssertionError("no component process with " + marker));
            assertThat(environ(child)).as(marker).contains("FERRY_ETCD_USER=" + user + "\n")
                    .contains("FERRY_ETCD_PASSWORD_FILE=" + credentials.resolve(user + ".password") + "\n")
                    .doesNotContain("FERRY_ETCD_PASSWORD=");
        });

        provisionsAsAdminAndKeepsEachAgentToItsOwnNode(credentials);
    }

    @Test
    void aSecureFerryUpInOneJvmWithCsiProvisionsAndKeepsEachAgentToItsOwnNode() throws Exception {
        String printed = upSecure();
        assertThat(printed).contains("security: etcd authentication: enabled", "credentials  " + data.resolve("credentials"));
        provisionsAsAdminAndKeepsEachAgentToItsOwnNode(data.resolve("credentials"));

        // Started again on the same data, even without --secure: it runs secure, init changes nothing.
        ferry.process().destroy();
        assertThat(ferry.process().waitFor(60, TimeUnit.SECONDS)).isTrue();
        String again = up("up-again.out", List.of());
        assertThat(again).contains("running secure", "security: no change", "credentials  " + data.resolve("credentials"))
                .doesNotContain("created");
        Result listed = CtlShell.run(Map.of("FERRY_ETCD_ENDPOINTS", "http://127.0.0.1:" + etcdPort, "FERRY_ETCD_USER", EtcdRoles.ADMIN,
                "FERRY_ETCD_PASSWORD_FILE", data.resolve("credentials").resolve(EtcdRoles.ADMIN + ".password").toString()),
                "volume", "ls");
        assertThat(listed.code()).as(listed.out() + listed.err()).isZero();
        assertThat(listed.out()).contains("vol-secure");
    }

    void provisionsAsAdminAndKeepsEachAgentToItsOwnNode(Path credentials) throws Exception {
        Path adminFile = credentials.resolve(EtcdRoles.ADMIN + ".password");
        String endpoint = "http://127.0.0.1:" + etcdPort;
        Result anonymous = CtlShell.run(Map.of("FERRY_ETCD_ENDPOINTS", endpoint), "volume", "create", "vol-anon", "--size", "16Mi");
        assertThat(anonymous.code()).as(anonymous.out() + anonymous.err()).isNotZero();
        assertThat(anonymous.err()).contains("user name is empty");

        Map<String, String> admin = new HashMap<>(Map.of("FERRY_ETCD_ENDPOINTS", endpoint, "FERRY_ETCD_USER", EtcdRoles.ADMIN,
                "FERRY_ETCD_PASSWORD_FILE", adminFile.toString()));
        Result created = CtlShell.run(admin, "volume", "create", "vol-secure", "--size", "16Mi", "--consumer", "node-2", "--wait");
        assertThat(created.code()).as(created.out() + created.err()).isZero();

        FerryKeys keys = new FerryKeys(FerryKeys.DEFAULT_PREFIX);
        String agent = EtcdRoles.agentRoleName("node-1");
        EtcdOptions asAgent = EtcdOptions.fromEnvironment(Map.of("FERRY_ETCD_ENDPOINTS", endpoint, "FERRY_ETCD_USER", agent,
                "FERRY_ETCD_PASSWORD_FILE", credentials.resolve(agent + ".password").toString()));
        try (EtcdStore store = EtcdStore.connect(asAgent)) {
            Await.result(store.putRaw(keys.orphans("node-1"), "{}".getBytes(StandardCharsets.UTF_8)));
            assertThat(messages(Await.failure(store.putRaw(keys.orphans("node-2"), "{}".getBytes(StandardCharsets.UTF_8)))))
                    .contains("permission denied");
            assertThat(messages(Await.failure(store.put(keys.volumeStatus("node-2", "vol-secure"), "{}"))))
                    .contains("permission denied");
            assertThat(messages(Await.failure(store.put(keys.workItem("node-1", "vol-forged"),
                    WorkItem.of("vol-forged", "node-1", "pool-1", Engine.FILE, 16L << 20, false, 1, null, null)))))
                    .contains("permission denied");
        }
    }

    static String messages(Throwable error) {
        StringBuilder all = new StringBuilder();
        for (Throwable t = error; t != null; t = t.getCause()) {
            all.append(t.getMessage()).append(" | ");
        }
        return all.toString();
    }
}
