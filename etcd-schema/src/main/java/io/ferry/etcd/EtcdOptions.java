package io.ferry.etcd;

import io.ferry.model.ValidationException;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * How to reach etcd: endpoints, key prefix, TLS material and credentials. Shared by every Ferry
 * process and by ferryctl, so a secured production etcd works the same way everywhere.
 *
 * <p>TLS is used when any endpoint is {@code https://}; {@code caFile} then pins the server CA
 * (otherwise the JVM trust store applies), and {@code certFile}/{@code keyFile} (PEM, PKCS#8 key)
 * enable client-certificate authentication. {@code user}/{@code password} use etcd's own auth.
 *
 * @param requestTimeout upper bound for one unary request (get, put, txn); watches are not bounded
 */
public record EtcdOptions(
        List<URI> endpoints,
        String prefix,
        Path caFile,
        Path certFile,
        Path keyFile,
        String user,
        String password,
        Duration connectTimeout,
        Duration requestTimeout) {

    public static final String DEFAULT_ENDPOINT = "http://127.0.0.1:2379";

    public EtcdOptions {
        endpoints = List.copyOf(Objects.requireNonNull(endpoints, "endpoints"));
        if (endpoints.isEmpty()) {
            throw new ValidationException("endpoints", "at least one etcd endpoint is required, e.g. " + DEFAULT_ENDPOINT);
        }
        boolean anyTls = false;
        for (URI uri : endpoints) {
            String scheme = uri.getScheme();
            if (!"http".equals(scheme) && !"https".equals(scheme) || uri.getHost() == null || uri.getPort() <= 0) {
                throw new ValidationException("endpoints",
                        "etcd endpoint \"" + uri + "\" is invalid: expected http://host:port or https://host:port");
            }
            anyTls |= "https".equals(scheme);
        }
        prefix = new FerryKeys(prefix == null ? FerryKeys.DEFAULT_PREFIX : prefix).prefix();
        if ((certFile == null) != (keyFile == null)) {
            throw new ValidationException("certFile", "a client certificate needs both certFile and keyFile");
        }
        if (!anyTls && (caFile != null || certFile != null)) {
            throw new ValidationException("endpoints",
                    "TLS files were given but no endpoint uses https://; use https:// endpoints for a TLS-secured etcd");
        }
        for (Path file : new Path[] {caFile, certFile, keyFile}) {
            if (file != null && !Files.isReadable(file)) {
                throw new ValidationException("tls", "TLS file " + file + " does not exist or is not readable");
            }
        }
        if ((user == null) != (password == null)) {
            throw new ValidationException("user", "etcd authentication needs both a user and a password");
        }
        connectTimeout = connectTimeout == null ? Duration.ofSeconds(5) : connectTimeout;
        requestTimeout = requestTimeout == null ? Duration.ofSeconds(10) : requestTimeout;
    }

    /** Plain-text etcd at the given endpoints with the default prefix and timeouts. */
    public static EtcdOptions of(String... endpoints) {
        return new Builder().endpoints(endpoints).build();
    }

    /**
     * Reads the options from environment-style variables, so every binary accepts the same ones:
     * {@code FERRY_ETCD_ENDPOINTS} (comma-separated), {@code FERRY_PREFIX}, {@code FERRY_ETCD_CA},
     * {@code FERRY_ETCD_CERT}, {@code FERRY_ETCD_KEY}, {@code FERRY_ETCD_USER}, and the password either in
     * {@code FERRY_ETCD_PASSWORD_FILE} (what {@code ferryctl security init} writes) or {@code FERRY_ETCD_PASSWORD}.
     */
    public static EtcdOptions fromEnvironment(Map<String, String> env) {
        Builder b = new Builder();
        b.endpoints(env.getOrDefault("FERRY_ETCD_ENDPOINTS", DEFAULT_ENDPOINT).split(","));
        b.prefix(env.get("FERRY_PREFIX"));
        b.caFile(pathOrNull(env.get("FERRY_ETCD_CA")));
        b.certFile(pathOrNull(env.get("FERRY_ETCD_CERT")));
        b.keyFile(pathOrNull(env.get("FERRY_ETCD_KEY")));
        b.user(env.get("FERRY_ETCD_USER"));
        b.password(password(env));
        return b.build();
    }

    /**
     * The etcd password from {@code FERRY_ETCD_PASSWORD_FILE} (the file's content without its line
     * end) or {@code FERRY_ETCD_PASSWORD}; null when neither is set. A file keeps the password out
     * of the process environment, which other users of the host may read in {@code /proc}.
     */
    public static String password(Map<String, String> env) {
        String file = env.get("FERRY_ETCD_PASSWORD_FILE");
        String inline = env.get("FERRY_ETCD_PASSWORD");
        if (file == null || file.isBlank()) {
            return inline;
        }
        if (inline != null) {
            throw new ValidationException("password",
                    "both FERRY_ETCD_PASSWORD and FERRY_ETCD_PASSWORD_FILE are set; set only one");
        }
        try {
            String password = Files.readString(Path.of(file)).strip();
            if (password.isEmpty()) {
                throw new ValidationException("password", "etcd password file " + file + " is empty");
            }
            return password;
        } catch (IOException e) {
            throw new ValidationException("password", "cannot read the etcd password file " + file + ": " + e.getMessage());
        }
    }

    private static Path pathOrNull(String s) {
        return s == null || s.isBlank() ? null : Path.of(s);
    }

    public boolean tls() {
        return endpoints.stream().anyMatch(u -> "https".equals(u.getScheme()));
    }

    public FerryKeys keys() {
        return new FerryKeys(prefix);
    }

    /** The same etcd and prefix as another etcd user. */
    public EtcdOptions withUser(String newUser, String newPassword) {
        return new EtcdOptions(endpoints, prefix, caFile, certFile, keyFile, newUser, newPassword, connectTimeout, requestTimeout);
    }

    public EtcdOptions withPrefix(String newPrefix) {
        return new EtcdOptions(endpoints, newPrefix, caFile, certFile, keyFile, user, password, connectTimeout, requestTimeout);
    }

    @Override
    public String toString() {
        // Never print the password: these options end up in startup logs.
        return "EtcdOptions[endpoints=" + endpoints + ", prefix=" + prefix + ", tls=" + tls()
                + ", clientCert=" + (certFile != null) + ", user=" + user + "]";
    }

    public static final class Builder {
        private final List<URI> endpoints = new ArrayList<>();
        private String prefix;
        private Path caFile;
        private Path certFile;
        private Path keyFile;
        private String user;
        private String password;
        private Duration connectTimeout;
        private Duration requestTimeout;

        public Builder endpoints(String... values) {
            for (String value : values) {
                String trimmed = value.trim();
                if (trimmed.isEmpty()) {
                    continue;
                }
                try {
                    endpoints.add(URI.create(trimmed.contains("://") ? trimmed : "http://" + trimmed));
                } catch (IllegalArgumentException e) {
                    throw new ValidationException("endpoints", "etcd endpoint \"" + trimmed + "\" is not a URI: " + e.getMessage());
                }
            }
            return this;
        }

        public Builder prefix(String value) {
            this.prefix = value;
            return this;
        }

        public Builder caFile(Path value) {
            this.caFile = value;
            return this;
        }

        public Builder certFile(Path value) {
            this.certFile = value;
            return this;
        }

        public Builder keyFile(Path value) {
            this.keyFile = value;
            return this;
        }

        public Builder user(String value) {
            this.user = value;
            return this;
        }

        public Builder password(String value) {
            this.password = value;
            return this;
        }

        public Builder connectTimeout(Duration value) {
            this.connectTimeout = value;
            return this;
        }

        public Builder requestTimeout(Duration value) {
            this.requestTimeout = value;
            return this;
        }

        public EtcdOptions build() {
            return new EtcdOptions(endpoints, prefix, caFile, certFile, keyFile, user, password, connectTimeout, requestTimeout);
        }
    }
}
