package io.ferry.etcd;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.ClientBuilder;
import io.ferry.model.ValidationException;

import javax.net.ssl.SSLException;
import java.net.URI;
import java.nio.charset.StandardCharsets;

/** Builds jetcd clients from {@link EtcdOptions}; the only place that knows jetcd's builder. */
public final class EtcdClients {

    private EtcdClients() {
    }

    /**
     * Builds a client. The application's Vert.x instance is deliberately NOT handed to jetcd:
     * jetcd 0.8.7 closes the Vert.x it was given when the client closes, which would take down every
     * verticle sharing it. jetcd then starts a small daemon Vert.x of its own.
     */
    public static Client create(EtcdOptions options) {
        ClientBuilder builder = Client.builder()
                .endpoints(options.endpoints().toArray(URI[]::new))
                .connectTimeout(options.connectTimeout())
                // jetcd retries unary calls itself; bound it so callers see failures instead of hanging.
                .retryMaxDuration(options.requestTimeout())
                .keepaliveWithoutCalls(false);
        if (options.user() != null) {
            builder.user(bytes(options.user())).password(bytes(options.password()));
        }
        if (options.tls()) {
            try {
                builder.sslContext(ssl -> {
                    if (options.caFile() != null) {
                        ssl.trustManager(options.caFile().toFile());
                    }
                    if (options.certFile() != null) {
                        ssl.keyManager(options.certFile().toFile(), options.keyFile().toFile());
                    }
                });
            } catch (SSLException | IllegalArgumentException e) {
                throw new ValidationException("tls", "cannot load etcd TLS material: " + e.getMessage());
            }
        }
        return builder.build();
    }

    static ByteSequence bytes(String s) {
        return ByteSequence.from(s, StandardCharsets.UTF_8);
    }
}
