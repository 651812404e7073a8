package io.ferry.tools.cli;

import io.ferry.etcd.testing.EtcdExtension;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * {@code bin/ferryctl} with its resident server, run as a user runs it: the real script in bash
 * against a real etcd. The first command runs in a JVM of its own and leaves a server behind; later
 * ones are answered by that server with the caller's own environment, output and exit status.
 */
class ResidentServerIT {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    static final Path ROOT = Path.of("").toAbsolutePath().getParent();

    Path stateDir;
    Path workDir;

    @BeforeEach
    void dirs() throws IOException {
        stateDir = Files.createTempDirectory("ferryctl-resident");
        Files.delete(stateDir);
        workDir = Files.createTempDirectory("ferryctl-cwd");
    }

    @AfterEach
    void stopServers() throws IOException {
        for (long pid : serverPids()) {
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroy);
        }
    }

    record Run(int code, String out, String err) {
    }

    Run ferryctl(Map<String, String> extraEnv, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of("bash", ROOT.resolve("bin/ferryctl").toString()));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command).directory(workDir.toFile());
        pb.environment().put("FERRY_ETCD_ENDPOINTS", etcd.endpoint());
        pb.environment().put("FERRY_RESIDENT_DIR", stateDir.toString());
        pb.environment().remove("FERRY_RESIDENT");
        pb.environment().putAll(extraEnv);
        Path out = Files.createTempFile("out", ".txt");
        Path err = Files.createTempFile("err", ".txt");
        pb.redirectOutput(out.toFile()).redirectError(err.toFile());
        Process p = pb.start();
        assertThat(p.waitFor(300, TimeUnit.SECONDS)).as("ferryctl %s finished", List.of(args)).isTrue();
        return new Run(p.exitValue(), Files.readString(out), Files.readString(err));
    }

    Run ferryctl(String... args) throws Exception {
        return ferryctl(Map.of(), args);
    }

    List<Path> addressFiles() throws IOException {
        if (!Files.isDirectory(stateDir)) {
            return List.of();
        }
        try (Stream<Path> files = Files.list(stateDir)) {
            return files.filter(f -> f.getFileName().toString().endsWith(ResidentServer.ADDRESS_SUFFIX)).toList();
        }
    }

    List<Long> serverPids() throws IOException {
        List<Long> pids = new ArrayList<>();
        for (Path f : addressFiles()) {
            String[] fields = Files.readString(f).trim().split(" ");
            pids.add(Long.parseLong(fields[2]));
        }
        return pids;
    }

    long awaitServer() {
        await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(200))
                .until(() -> serverPids().size() == 1 && ProcessHandle.of(serverPids().get(0)).isPresent());
        try {
            return serverPids().get(0);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void aSecondCommandIsAnsweredByTheServerTheFirstLeftWithTheCallersEnvironmentOutputAndStatus() throws Exception {
        Run first = ferryctl("volume", "create", "vol-a", "--size", "1Gi", "--no-wait");
        assertThat(first.code()).as(first.err()).isZero();
        long server = awaitServer();
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(stateDir))).isEqualTo("rwx------");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(addressFiles().get(0)))).isEqualTo("rw-------");

        // The server ran it: no new JVM, so no new process besides the server; the prefix comes from
        // this call's environment, not the server's.
        Run other = ferryctl(Map.of("FERRY_PREFIX", "/elsewhere"), "volume", "create", "vol-b", "--size", "2Gi", "--no-wait");
        assertThat(other.code()).as(other.err()).isZero();
        assertThat(etcd.etcdctl("get", "--prefix", "--keys-only", "/elsewhere/volumes/")).contains("/elsewhere/volumes/vol-b");
        assertThat(etcd.etcdctl("get", "--prefix", "--keys-only", "/ferry/volumes/")).contains("/ferry/volumes/vol-a")
                .doesNotContain("vol-b");
        assertThat(serverPids()).containsExactly(server);

        // Output and status equal to a JVM of its own.
        Run viaServer = ferryctl("volume", "ls", "-o", "json");
        Run ownJvm = ferryctl(Map.of("FERRY_RESIDENT", "off"), "volume", "ls", "-o", "json");
        assertThat(viaServer.code()).isZero();
        assertThat(viaServer.out()).isEqualTo(ownJvm.out()).contains("vol-a");

        Run missing = ferryctl("volume", "describe", "no-such-volume");
        Run missingOwn = ferryctl(Map.of("FERRY_RESIDENT", "off"), "volume", "describe", "no-such-volume");
        assertThat(missing.code()).isEqualTo(ExitCodes.NOT_FOUND).isEqualTo(missingOwn.code());
        assertThat(missing.err()).isEqualTo(missingOwn.err()).contains("no-such-volume");
        assertThat(missing.out()).isEmpty();

        Run usage = ferryctl("volume", "create", "vol-c");
        assertThat(usage.code()).isEqualTo(ExitCodes.USAGE);
        assertThat(usage.err()).contains("--size");
        assertThat(serverPids()).containsExactly(server);
    }

    @Test
    void aClientWithoutTheTokenRunsNothing() throws Exception {
        assertThat(ferryctl("status").code()).isIn(0, 1);
        awaitServer();
        String[] address = Files.readString(addressFiles().get(0)).trim().split(" ");
        Path errFile = Files.createTempFile(stateDir, "err", "");
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), Integer.parseInt(address[0]))) {
            OutputStream o = s.getOutputStream();
            String request = String.join("\0", "not-the-token", errFile.toString(), "4", "volume", "create", "forged",
                    "--size=1Gi", "1", "FERRY_ETCD_ENDPOINTS=" + etcd.endpoint()) + "\0";
            o.write(request.getBytes(StandardCharsets.UTF_8));
            o.flush();
            assertThat(s.getInputStream().read()).as("the server hangs up at once").isEqualTo(-1);
        }
        assertThat(Files.readString(errFile)).isEmpty();
        assertThat(etcd.etcdctl("get", "--prefix", "--keys-only", "/ferry/volumes/")).doesNotContain("forged");
        // ... and the server is still there for its user.
        assertThat(ferryctl("volume", "ls").code()).isZero();
    }

    @Test
    void aServerOfAnOlderBuildStepsAsideAndTheCommandStillRuns() throws Exception {
        assertThat(ferryctl("volume", "ls").code()).isZero();
        long old = awaitServer();
        Path jar = ROOT.resolve("tools/target/ferry-tools-0.1.0-SNAPSHOT.jar");
        FileTime before = Files.getLastModifiedTime(jar);
        // A rebuild, as far as the server can tell: the jar's time moves (forward, so that bin/_launch
        // does not think the sources newer and rebuild it).
        Files.setLastModifiedTime(jar, FileTime.from(Instant.now().plusSeconds(1)));
        try {
            Run run = ferryctl("volume", "create", "vol-after", "--size", "1Gi", "--no-wait");
            assertThat(run.code()).as(run.err()).isZero();
            assertThat(etcd.etcdctl("get", "--prefix", "--keys-only", "/ferry/volumes/")).contains("vol-after");
            await().atMost(Duration.ofSeconds(30)).until(() -> ProcessHandle.of(old).isEmpty());
            long next = awaitServer();
            assertThat(next).isNotEqualTo(old);
        } finally {
            Files.setLastModifiedTime(jar, before.toInstant().isAfter(Instant.now()) ? before : FileTime.from(Instant.now()));
        }
    }

    @Test
    void anAddressFileNamingADeadServerIsNotTrusted() throws Exception {
        assertThat(ferryctl("volume", "ls").code()).isZero();
        long server = awaitServer();
        Path address = addressFiles().get(0);
        String[] fields = Files.readString(address).trim().split(" ");
        ProcessHandle.of(server).ifPresent(ProcessHandle::destroyForcibly);
        await().atMost(Duration.ofSeconds(30)).until(() -> ProcessHandle.of(server).isEmpty());
        // kill -9 left the file behind; the port may be anyone's by now.
        Files.writeString(address, String.join(" ", fields) + "\n");
        Run run = ferryctl("volume", "ls");
        assertThat(run.code()).as(run.err()).isZero();
        assertThat(run.err()).doesNotContain("resident server");
        assertThat(awaitServer()).isNotEqualTo(server);
    }
}
