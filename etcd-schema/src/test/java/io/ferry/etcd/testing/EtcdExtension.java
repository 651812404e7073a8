package io.ferry.etcd.testing;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.ferry.etcd.EtcdOptions;
import io.ferry.etcd.LocalEtcdMember;
import io.ferry.etcd.LocalEtcdProbe;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Runs a real etcd (Debian's {@code etcd-server} package, 3.4) for a test class: free loopback ports,
 * a temporary data directory, and controls to stop, kill, restart and compact it mid-test.
 *
 * <pre>{@code @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();}</pre>
 *
 * <p>The binary is looked up in {@code FERRY_ETCD_BINARY}, then on the PATH, then in /usr/bin. A
 * missing binary fails the test (it does not skip it) with a message saying which package to install.
 * Tests share one etcd per class; give each test its own key prefix ({@link #uniquePrefix()}).
 */
public final class EtcdExtension implements BeforeAllCallback, AfterAllCallback {

    private static final Duration START_TIMEOUT = Duration.ofSeconds(30);

    private final boolean secured;
    private final int memberCount;
    private Path dataDir;
    private final List<Path> backups = new ArrayList<>();
    private Path tlsDir;
    private List<LocalEtcdMember> members = List.of();
    private final List<Process> processes = new ArrayList<>();
    private String clusterToken;
    private Path logFile;

    /** A plain-text etcd. */
    public EtcdExtension() {
        this(false, 1);
    }

    private EtcdExtension(boolean secured, int memberCount) {
        this.secured = secured;
        this.memberCount = memberCount;
    }

    /**
     * A plain-text etcd cluster of {@code members} processes, for tests of what survives losing a
     * member or the quorum ({@link #killMember}, {@link #startMember}). Snapshot restore is for a
     * single member only.
     */
    public static EtcdExtension cluster(int members) {
        if (members < 1) {
            throw new IllegalArgumentException("a cluster needs at least one member, got " + members);
        }
        return new EtcdExtension(false, members);
    }

    /**
     * An etcd that serves only TLS and demands a client certificate signed by a CA made for the test
     * (with Debian's openssl), as a production cluster would.
     */
    public static EtcdExtension secured() {
        return new EtcdExtension(true, 1);
    }

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        dataDir = Files.createTempDirectory("ferry-etcd-");
        if (secured) {
            tlsDir = Files.createTempDirectory("ferry-etcd-tls-");
            TestCertificates.create(tlsDir);
        }
        logFile = dataDir.resolveSibling(dataDir.getFileName() + ".log");
        members = new ArrayList<>();
        for (int i = 1; i <= memberCount; i++) {
            members.add(new LocalEtcdMember(memberCount == 1 ? "ferry-test" : "ferry-test-" + i, LocalEtcdProbe.freePort(),
                    LocalEtcdProbe.freePort(), memberCount == 1 ? dataDir : dataDir.resolve("member-" + i)));
            processes.add(null);
        }
        members = List.copyOf(members);
        clusterToken = "ferry-test-" + UUID.randomUUID();
        start();
    }

    @Override
    public void afterAll(ExtensionContext context) throws Exception {
        kill();
        deleteRecursively(dataDir);
        deleteRecursively(tlsDir);
        for (Path backup : backups) {
            deleteRecursively(backup);
        }
        Files.deleteIfExists(logFile);
    }

    public static Path binary(String name, String packageName) {
        String override = System.getenv("FERRY_" + name.toUpperCase() + "_BINARY");
        if (override != null && Files.isExecutable(Path.of(override))) {
            return Path.of(override);
        }
        List<Path> candidates = new ArrayList<>();
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!dir.isEmpty()) {
                candidates.add(Path.of(dir, name));
            }
        }
        candidates.add(Path.of("/usr/bin", name));
        candidates.add(Path.of("/usr/local/bin", name));
        return candidates.stream().filter(Files::isExecutable).findFirst().orElseThrow(() -> new IllegalStateException(
                "the '" + name + "' binary was not found on PATH or in /usr/bin: install Debian's " + packageName
                        + " package (sudo apt-get install -y " + packageName + ") or set FERRY_"
                        + name.toUpperCase() + "_BINARY to its path"));
    }

    /**
     * Starts every member that is not running, on the same ports and data directories as before (data
     * survives a restart), and waits until they are healthy.
     */
    public synchronized void start() throws IOException, InterruptedException {
        List<Integer> started = new ArrayList<>();
        for (int i = 0; i < members.size(); i++) {
            if (launch(i)) {
                started.add(i);
            }
        }
        awaitHealthy(started);
    }

    /** Starts member {@code n} (1-based) again and waits until it is healthy. */
    public synchronized void startMember(int n) throws IOException, InterruptedException {
        if (launch(n - 1)) {
            awaitHealthy(List.of(n - 1));
        }
    }

    /** Kills member {@code n} (1-based) with SIGKILL, as a crash of that one machine would. */
    public synchronized void killMember(int n) throws InterruptedException {
        Process p = processes.get(n - 1);
        if (p != null && p.isAlive()) {
            p.destroyForcibly().waitFor();
        }
    }

    private boolean launch(int i) throws IOException {
        Process running = processes.get(i);
        if (running != null && running.isAlive()) {
            return false;
        }
        LocalEtcdMember member = members.get(i);
        List<String> command = new ArrayList<>(member.command(binary("etcd", "etcd-server"), members, clusterToken,
                secured));
        if (secured) {
            command.addAll(List.of(
                    "--cert-file", tlsDir.resolve("server.crt").toString(),
                    "--key-file", tlsDir.resolve("server.key").toString(),
                    "--trusted-ca-file", tlsDir.resolve("ca.crt").toString(),
                    "--client-cert-auth"));
        }
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.redirectErrorStream(true);
        pb.redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()));
        processes.set(i, pb.start());
        return true;
    }

    private void awaitHealthy(List<Integer> started) throws InterruptedException {
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        while (System.nanoTime() < deadline) {
            boolean all = true;
            for (int i : started) {
                Process p = processes.get(i);
                if (!p.isAlive()) {
                    throw new IllegalStateException("etcd " + members.get(i).name() + " exited with " + p.exitValue()
                            + " while starting:\n" + logTail());
                }
                all &= healthy(members.get(i));
            }
            if (all) {
                return;
            }
            Thread.sleep(50);
        }
        kill();
        throw new IllegalStateException("etcd did not become healthy within " + START_TIMEOUT + ":\n" + logTail());
    }

    /** Stops every member gracefully (SIGTERM) and waits for them to exit. */
    public synchronized void stop() throws InterruptedException {
        for (Process p : processes) {
            if (p != null && p.isAlive()) {
                p.destroy();
            }
        }
        for (Process p : processes) {
            if (p != null && !p.waitFor(20, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor();
            }
        }
    }

    /** Kills every member with SIGKILL, as a crash would. */
    public synchronized void kill() throws InterruptedException {
        for (int n = 1; n <= processes.size(); n++) {
            killMember(n);
        }
    }

    public void restart() throws IOException, InterruptedException {
        stop();
        start();
    }

    /**
     * Saves a snapshot of the running etcd with {@code etcdctl snapshot save}, as an operator's backup
     * would, and returns its file (in a temporary directory removed with the extension's data).
     */
    public Path saveSnapshot() throws IOException {
        Path file = Files.createTempDirectory(dataDir.getParent(), "ferry-etcd-backup-").resolve("snapshot.db");
        backups.add(file.getParent());
        etcdctl("snapshot", "save", file.toString());
        return file;
    }

    /**
     * Restores a backup the way an operator would with etcd 3.4: stops etcd, runs {@code etcdctl snapshot
     * restore} into a new data directory (same member name and peer URL, a new cluster token, so the
     * restored etcd is a new cluster with a new cluster id, its revision back at the snapshot's), and
     * starts etcd from it on the same client URL. The old data directory is removed.
     */
    public void restoreSnapshot(Path snapshot) throws IOException, InterruptedException {
        if (members.size() != 1) {
            throw new UnsupportedOperationException("restoreSnapshot is for a single-member etcd");
        }
        stop();
        Path restored = Files.createTempDirectory(dataDir.getParent(), "ferry-etcd-restored-");
        // etcdctl refuses to restore into an existing directory.
        Files.delete(restored);
        String peer = members.get(0).peerUrl();
        etcdctl("snapshot", "restore", snapshot.toString(),
                "--data-dir", restored.toString(),
                "--name", "ferry-test",
                "--initial-cluster", "ferry-test=" + peer,
                "--initial-advertise-peer-urls", peer,
                "--initial-cluster-token", "ferry-restored-" + UUID.randomUUID());
        Path old = dataDir;
        dataDir = restored;
        LocalEtcdMember m = members.get(0);
        members = List.of(new LocalEtcdMember(m.name(), m.clientPort(), m.peerPort(), restored));
        deleteRecursively(old);
        start();
    }

    /** Whether every member runs. */
    public boolean running() {
        return processes.stream().allMatch(p -> p != null && p.isAlive());
    }

    /** Compacts the history up to the current revision; returns that revision. */
    public long compact() {
        try (Client client = Client.builder().endpoints(endpoints().toArray(String[]::new)).build()) {
            long revision = client.getKVClient().get(ByteSequence.from("/", StandardCharsets.UTF_8)).get(10, TimeUnit.SECONDS)
                    .getHeader().getRevision();
            client.getKVClient().compact(revision).get(10, TimeUnit.SECONDS);
            return revision;
        } catch (Exception e) {
            throw new IllegalStateException("compaction failed", e);
        }
    }

    /**
     * Runs Debian's {@code etcdctl} (package etcd-client) against this etcd with the v3 API, the way
     * an operator would, and returns its standard output.
     */
    public String etcdctl(String... args) {
        List<String> command = new ArrayList<>();
        command.add(binary("etcdctl", "etcd-client").toString());
        command.add("--endpoints=" + String.join(",", endpoints()));
        if (secured) {
            command.add("--cacert=" + caFile());
            command.add("--cert=" + clientCertFile());
            command.add("--key=" + clientKeyFile());
        }
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().put("ETCDCTL_API", "3");
        try {
            Process p = pb.start();
            p.getOutputStream().close();
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException("etcdctl " + String.join(" ", args) + " timed out");
            }
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
            if (p.exitValue() != 0) {
                throw new IllegalStateException("etcdctl " + String.join(" ", args) + " exited " + p.exitValue() + ": " + err);
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** The first member's client URL; {@link #endpoints()} lists every member's. */
    public String endpoint() {
        return members.get(0).clientUrl(secured);
    }

    public List<String> endpoints() {
        return members.stream().map(m -> m.clientUrl(secured)).toList();
    }

    public Path caFile() {
        return tlsDir.resolve("ca.crt");
    }

    public Path clientCertFile() {
        return tlsDir.resolve("client.crt");
    }

    public Path clientKeyFile() {
        return tlsDir.resolve("client.key");
    }

    /** Options for this etcd under the given key prefix (with its TLS files), with short timeouts. */
    public EtcdOptions options(String prefix) {
        return builder(prefix).build();
    }

    /** Like {@link #options(String)}, open for more settings such as credentials. */
    public EtcdOptions.Builder builder(String prefix) {
        EtcdOptions.Builder b = new EtcdOptions.Builder().endpoints(endpoints().toArray(String[]::new)).prefix(prefix)
                .connectTimeout(Duration.ofSeconds(2)).requestTimeout(Duration.ofSeconds(5));
        if (secured) {
            b.caFile(caFile()).certFile(clientCertFile()).keyFile(clientKeyFile());
        }
        return b;
    }

    /** A fresh prefix such as {@code /t3f9c2a}, so tests sharing one etcd never see each other's keys. */
    public static String uniquePrefix() {
        return "/t" + UUID.randomUUID().toString().replace("-", "").substring(0, 10);
    }

    public Path logFile() {
        return logFile;
    }

    private boolean healthy(LocalEtcdMember member) {
        if (secured) {
            try {
                etcdctl("endpoint", "health");
                return true;
            } catch (RuntimeException e) {
                return false;
            }
        }
        return LocalEtcdProbe.healthy(member.clientUrl(false));
    }

    private String logTail() {
        try {
            List<String> lines = Files.readAllLines(logFile);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    private static void deleteRecursively(Path dir) throws IOException {
        if (dir == null || !Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    Optional<Process> process() {
        return Optional.ofNullable(processes.isEmpty() ? null : processes.get(0));
    }
}
