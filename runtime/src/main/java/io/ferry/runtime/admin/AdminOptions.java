package io.ferry.runtime.admin;

/**
 * @param host        address to bind; loopback by default so nothing is exposed by accident
 * @param port        0 picks a free port (see {@link AdminServer#port()})
 * @param bearerToken token required by mutating endpoints; null keeps the API read-only
 */
public record AdminOptions(String host, int port, String bearerToken) {

    public AdminOptions {
        host = host == null || host.isBlank() ? "127.0.0.1" : host;
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("admin port must be 0..65535, was " + port);
        }
        bearerToken = bearerToken == null || bearerToken.isBlank() ? null : bearerToken;
    }

    public static AdminOptions loopback(int port) {
        return new AdminOptions("127.0.0.1", port, null);
    }
}
