package io.ferry.etcd;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * One member of an etcd cluster run on this host's loopback ({@code ferry up}, benchmarks, tests):
 * the one place that knows how such a member is started, so that a single etcd and a three-member
 * cluster are started the same way everywhere.
 *
 * @param name       member name, unique in its cluster
 * @param clientPort loopback port clients use
 * @param peerPort   loopback port the other members use
 * @param dataDir    where the member keeps its data
 */
public record LocalEtcdMember(String name, int clientPort, int peerPort, Path dataDir) {

    public String clientUrl(boolean tls) {
        return (tls ? "https" : "http") + "://127.0.0.1:" + clientPort;
    }

    public String peerUrl() {
        return "http://127.0.0.1:" + peerPort;
    }

    /**
     * The command line that starts this member as part of {@code cluster} (which includes it). The
     * initial-cluster flags matter only the first time a data directory is used; afterwards etcd reads
     * its membership from the data, so restarting a member with the same command is always right.
     *
     * @param token a token unique to this cluster, so members of two clusters never join each other
     */
    public List<String> command(Path binary, List<LocalEtcdMember> cluster, String token, boolean tls) {
        if (!cluster.contains(this)) {
            throw new IllegalArgumentException("member " + name + " is not in its own cluster " + cluster);
        }
        String initial = cluster.stream().map(m -> m.name + "=" + m.peerUrl()).collect(Collectors.joining(","));
        List<String> command = new ArrayList<>(List.of(binary.toString(),
                "--name", name,
                "--data-dir", dataDir.toString(),
                "--listen-client-urls", clientUrl(tls),
                "--advertise-client-urls", clientUrl(tls),
                "--listen-peer-urls", peerUrl(),
                "--initial-advertise-peer-urls", peerUrl(),
                "--initial-cluster", initial,
                "--initial-cluster-state", "new",
                "--initial-cluster-token", token,
                "--logger", "zap",
                "--log-level", "warn"));
        return command;
    }

    /** The client endpoints of {@code cluster}, comma-separated, as every Ferry component takes them. */
    public static String endpoints(List<LocalEtcdMember> cluster, boolean tls) {
        return cluster.stream().map(m -> m.clientUrl(tls)).collect(Collectors.joining(","));
    }
}
