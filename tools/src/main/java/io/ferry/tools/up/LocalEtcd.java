package io.ferry.tools.up;

import io.ferry.etcd.LocalEtcdProbe;
import io.ferry.runtime.exec.Command;
import io.ferry.runtime.exec.CommandRunner;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * An etcd process on loopback: the one {@code ferry up} runs for a single machine (its data under
 * Ferry's data directory, so volumes survive a restart), and throw-away ones for benchmarks.
 */
public final class LocalEtcd implements AutoCloseable {

    private final Path dataDir;
    private final Path logFile;
    private final int clientPort;
    private final int peerPort;
    private final List<String> extraArgs;
    private final boolean temporary;
    private Process process;

    LocalEtcd(Path dataDir, Path logFile, int clientPort) {
        this(dataDir, logFile, clientPort, clientPort + 1, List.of(), false);
    }

    private LocalEtcd(Path dataDir, Path logFile, int clientPort, int peerPort, List<String> extraArgs, boolean temporary) {
        this.dataDir = dataDir;
        this.logFile = logFile;
        this.clientPort = clientPort;
        this.peerPort = peerPort;
        this.extraArgs = List.copyOf(extraArgs);
        this.temporary = temporary;
    }

    /**
     * Starts an etcd on free ports with a temporary data directory that {@link #close()} deletes.
     * The binary is {@code FERRY_ETCD_BINARY}, or etcd from the PATH.
     *
     * @param extraArgs more etcd flags, e.g. {@code --quota-backend-bytes} for large benchmarks
     */
    public static LocalEtcd temporary(String... extraArgs) throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory("ferry-etcd-");
        LocalEtcd etcd = new LocalEtcd(dir.resolve("data"), dir.resolve("etcd.log"), LocalEtcdProbe.freePort(), LocalEtcdProbe.freePort(), List.of(extraArgs), true);
        String override = System.getenv("FERRY_ETCD_BINARY");
        etcd.start(override != null ? Path.of(override) : find().orElseThrow(() ->
                new IllegalStateException("etcd is not installed: sudo apt-get install -y etcd-server")));
        return etcd;
    }

    public String endpoint() {
        return "http://127.0.0.1:" + clientPort;
    }

    /**
     * Finds etcd, installing Debian's etcd-server when running as root and it is missing; otherwise
     * explains how to install it.
     */
    static Path findOrInstall(CommandRunner runner, java.io.PrintWriter out) {
        Optional<Path> found = find();
        if (found.isPresent()) {
            return found.get();
        }
        if (!"root".equals(System.getProperty("user.name"))) {
            throw new IllegalStateException("etcd is not installed. Install Debian's etcd-server package:"
                    + " sudo apt-get install -y etcd-server   (then run ferry up again)");
        }
        out.println("installing etcd-server with apt-get (etcd was not found)...");
        out.flush();
        runner.run(Command.of("apt-get", "update", "-qq").withTimeout(Duration.ofMinutes(5)));
        runner.run(new Command(List.of("apt-get", "install", "-y", "-qq", "--no-install-recommends", "etcd-server"),
                Duration.ofMinutes(10), null, null));
        return find().orElseThrow(() -> new IllegalStateException("apt-get installed etcd-server but no etcd binary was found"));
    }

    static Optional<Path> find() {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(":")) {
            Path candidate = Path.of(dir, "etcd");
            if (!dir.isEmpty() && Files.isExecutable(candidate)) {
                return Optional.of(candidate);
            }
        }
        Path debian = Path.of("/usr/bin/etcd");
        return Files.isExecutable(debian) ? Optional.of(debian) : Optional.empty();
    }

    void start(Path binary) throws IOException, InterruptedException {
        if (portInUse(clientPort) || portInUse(peerPort)) {
            throw new IllegalStateException("port " + clientPort + " or " + peerPort + " on 127.0.0.1 is already in use"
                    + " (another ferry up or etcd?); stop it or choose --etcd-port");
        }
        Files.createDirectories(dataDir);
        Files.createDirectories(logFile.getParent());
        String client = endpoint();
        String peer = "http://127.0.0.1:" + peerPort;
        List<String> command = new java.util.ArrayList<>(List.of(binary.toString(),
                "--name", "ferry-up",
                "--data-dir", dataDir.toString(),
                "--listen-client-urls", client,
                "--advertise-client-urls", client,
                "--listen-peer-urls", peer,
                "--initial-advertise-peer-urls", peer,
                "--initial-cluster", "ferry-up=" + peer,
                "--logger", "zap",
                "--log-level", "warn"));
        command.addAll(extraArgs);
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.redirectErrorStream(true);
        pb.redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()));
        process = pb.start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("etcd exited with " + process.exitValue() + " while starting; see " + logFile);
            }
            if (healthy()) {
                return;
            }
            Thread.sleep(100);
        }
        close();
        throw new IllegalStateException("etcd did not become healthy within 30 s; see " + logFile);
    }

    private boolean healthy() {
        return LocalEtcdProbe.healthy(endpoint());
    }

    static boolean portInUse(int port) {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", port), 200);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    @Override
    public void close() {
        stop();
        if (temporary) {
            try (java.util.stream.Stream<Path> files = Files.walk(dataDir.getParent())) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            } catch (IOException e) {
                // A leftover temporary directory is not worth failing a run for.
            }
        }
    }

    private void stop() {
        if (process != null && process.isAlive()) {
            process.destroy();
            try {
                if (!process.waitFor(15, TimeUnit.SECONDS)) {
                    process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
    }
}
