package io.ferry.tools.bench;

import java.io.IOException;
import java.net.HttpURLConnection;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A throw-away single-member etcd on free loopback ports with a temporary data directory, for the
 * heap measurement. The binary is {@code FERRY_ETCD_BINARY} or /usr/bin/etcd (Debian's etcd-server).
 */
final class LocalEtcd implements AutoCloseable {

    private final Path dataDir;
    private final Process process;
    final String endpoint;

    LocalEtcd() throws IOException, InterruptedException {
        String binary = System.getenv().getOrDefault("FERRY_ETCD_BINARY", "/usr/bin/etcd");
        dataDir = Files.createTempDirectory("ferry-bench-etcd-");
        int clientPort = freePort();
        int peerPort = freePort();
        endpoint = "http://127.0.0.1:" + clientPort;
        String peer = "http://127.0.0.1:" + peerPort;
        ProcessBuilder pb = new ProcessBuilder(List.of(binary,
                "--name", "ferry-bench",
                "--data-dir", dataDir.toString(),
                "--listen-client-urls", endpoint,
                "--advertise-client-urls", endpoint,
                "--listen-peer-urls", peer,
                "--initial-advertise-peer-urls", peer,
                "--initial-cluster", "ferry-bench=" + peer,
                "--initial-cluster-state", "new",
                "--quota-backend-bytes", String.valueOf(8L << 30),
                "--logger", "zap",
                "--log-level", "warn"));
        pb.redirectErrorStream(true);
        pb.redirectOutput(dataDir.resolveSibling(dataDir.getFileName() + ".log").toFile());
        process = pb.start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("etcd exited with " + process.exitValue() + "; see " + dataDir + ".log");
            }
            if (healthy()) {
                return;
            }
            Thread.sleep(50);
        }
        close();
        throw new IllegalStateException("etcd did not become healthy within 30 s");
    }

    private boolean healthy() {
        try {
            HttpURLConnection c = (HttpURLConnection) URI.create(endpoint + "/health").toURL().openConnection();
            c.setConnectTimeout(500);
            c.setReadTimeout(500);
            return c.getResponseCode() == 200;
        } catch (IOException e) {
            return false;
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @Override
    public void close() throws InterruptedException, IOException {
        if (process.isAlive()) {
            process.destroyForcibly().waitFor();
        }
        try (Stream<Path> files = Files.walk(dataDir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
        Files.deleteIfExists(dataDir.resolveSibling(dataDir.getFileName() + ".log"));
    }
}
