package io.ferry.etcd;

import java.io.IOException;
import java.net.HttpURLConnection;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;

/** What starting an etcd process on this host needs: a free loopback port, and its health. */
public final class LocalEtcdProbe {

    private LocalEtcdProbe() {
    }

    /** A port free on loopback now; etcd may still lose it to another process before it binds. */
    public static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            socket.setReuseAddress(true);
            return socket.getLocalPort();
        }
    }

    /** Whether a plain-HTTP etcd at {@code endpoint} answers {@code /health} with health true. */
    public static boolean healthy(String endpoint) {
        try {
            HttpURLConnection conn = (HttpURLConnection) URI.create(endpoint + "/health").toURL().openConnection();
            conn.setConnectTimeout(500);
            conn.setReadTimeout(1000);
            try {
                return conn.getResponseCode() == 200
                        && new String(conn.getInputStream().readAllBytes(), StandardCharsets.UTF_8).contains("true");
            } finally {
                conn.disconnect();
            }
        } catch (IOException e) {
            return false;
        }
    }
}
