package io.ferry.tools.cli;

import io.ferry.etcd.EtcdOptions;
import io.ferry.etcd.store.BadValueException;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.store.EtcdUnavailableException;
import io.ferry.model.ValidationException;
import java.io.IOException;
import java.nio.file.Files;
import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * {@code ferryctl}: Ferry's command line. It reads and writes Ferry's etcd keys directly, with the
 * same endpoint and TLS settings as the daemons, and asks the controller's admin API where that
 * knows more (explain).
 */
@Command(name = "ferryctl", mixinStandardHelpOptions = true, scope = ScopeType.INHERIT, version = "ferryctl 0.1.0",
        description = "Manage Ferry pools, volumes, snapshots and attachments; call CSI plugins.",
        subcommands = {
                StatusCommand.class, NodeCommands.class, PoolCommands.class, VolumeCommands.class,
                SnapshotCommands.class, OrphanCommands.class, AttachCommand.class, DetachCommand.class, EventsCommand.class,
                WatchCommand.class, BenchCommands.class, CsiCommands.class, SecurityCommands.class, AutoComplete.GenerateCompletion.class},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {
                "0:done",
                "1:failed",
                "2:wrong options or arguments",
                "3:not found",
                "4:exists with other settings, or in use",
                "5:timed out waiting (--wait)",
                "6:etcd unreachable (csi: the CSI endpoint unreachable)",
                "7:refused by the cluster (no pool fits, invalid)"})
public final class FerryCtl {

    @Option(names = "--etcd-endpoints", scope = ScopeType.INHERIT, paramLabel = "URL[,URL...]",
            description = "etcd endpoints (default: $FERRY_ETCD_ENDPOINTS or http://127.0.0.1:2379)")
    String endpoints;

    @Option(names = "--prefix", scope = ScopeType.INHERIT, description = "key prefix (default: $FERRY_PREFIX or /ferry)")
    String prefix;

    @Option(names = "--etcd-ca", scope = ScopeType.INHERIT, description = "CA certificate for https endpoints ($FERRY_ETCD_CA)")
    Path ca;

    @Option(names = "--etcd-cert", scope = ScopeType.INHERIT, description = "client certificate ($FERRY_ETCD_CERT)")
    Path cert;

    @Option(names = "--etcd-key", scope = ScopeType.INHERIT, description = "client key, PKCS#8 PEM ($FERRY_ETCD_KEY)")
    Path key;

    @Option(names = "--etcd-user", scope = ScopeType.INHERIT, description = "etcd user ($FERRY_ETCD_USER; password in the file $FERRY_ETCD_PASSWORD_FILE, or in $FERRY_ETCD_PASSWORD)")
    String user;

    // No picocli default: ${env:...} would read the JVM's environment, not the one given to run().
    @Option(names = "--admin", scope = ScopeType.INHERIT, paramLabel = "URL",
            description = "controller admin API (default: $FERRY_ADMIN or " + DEFAULT_ADMIN + ")")
    String admin;

    @Option(names = "--admin-token-file", scope = ScopeType.INHERIT, paramLabel = "FILE",
            description = "file holding the admin API's bearer token, for a controller started with one"
                    + " (default: $FERRY_ADMIN_TOKEN_FILE)")
    String adminTokenFile;

    static final String DEFAULT_ADMIN = "http://127.0.0.1:7360";

    @Option(names = {"-o", "--output"}, scope = ScopeType.INHERIT, defaultValue = "table",
            description = "output format: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE})")
    Output.Format format;

    private EtcdStore store;
    private Map<String, String> environment = System.getenv();
    private PrintWriter out;
    private PrintWriter err;

    public static void main(String[] args) {
        // A command line prints its own results; library chatter below WARN would only get in the way.
        if (System.getenv("FERRY_LOG_LEVEL") == null) {
            System.setProperty("FERRY_LOG_LEVEL", "WARN");
        }
        System.exit(run(args, System.getenv(), new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs one invocation; the entry point for tests, which pass their own environment and streams. */
    public static int run(String[] args, Map<String, String> env, PrintWriter out, PrintWriter err) {
        FerryCtl root = new FerryCtl();
        root.environment = env;
        root.out = out;
        root.err = err;
        CommandLine cli = new CommandLine(root);
        cli.setOut(out);
        cli.setErr(err);
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            Throwable cause = unwrap(e);
            int code = exitCodeFor(cause);
            err.println("error: " + messageFor(cause));
            err.flush();
            return code;
        });
        try {
            return cli.execute(args);
        } finally {
            root.close();
        }
    }

    EtcdStore store() {
        if (store == null) {
            store = EtcdStore.connect(etcdOptions());
        }
        return store;
    }

    /** The etcd settings: options first, then the environment given to {@link #run}. */
    EtcdOptions etcdOptions() {
        EtcdOptions base = EtcdOptions.fromEnvironment(environment);
        EtcdOptions.Builder b = new EtcdOptions.Builder()
                .endpoints(endpoints != null ? endpoints.split(",")
                        : base.endpoints().stream().map(Object::toString).toArray(String[]::new))
                .prefix(prefix != null ? prefix : base.prefix())
                .caFile(ca != null ? ca : base.caFile())
                .certFile(cert != null ? cert : base.certFile())
                .keyFile(key != null ? key : base.keyFile())
                .user(user != null ? user : base.user())
                .password(user != null ? EtcdOptions.password(environment) : base.password());
        return b.build();
    }

    /** The admin API's bearer token from --admin-token-file or $FERRY_ADMIN_TOKEN_FILE; null without one. */
    String adminToken() {
        String file = adminTokenFile != null ? adminTokenFile : environment.get("FERRY_ADMIN_TOKEN_FILE");
        if (file == null || file.isBlank()) {
            return null;
        }
        try {
            String token = Files.readString(Path.of(file)).strip();
            return token.isEmpty() ? null : token;
        } catch (IOException e) {
            throw new CliException(ExitCodes.USAGE, "cannot read the admin token file " + file + ": " + e.getMessage());
        }
    }

    /** The admin API's base URL: --admin, then $FERRY_ADMIN, then the controller's default address. */
    String adminUrl() {
        String value = admin != null ? admin : environment.getOrDefault("FERRY_ADMIN", DEFAULT_ADMIN);
        value = value.contains("://") ? value : "http://" + value;
        return value.endsWith("/") ? value.substring(0, value.length() - 1) : value;
    }

    Output output() {
        return new Output(out, format);
    }

    PrintWriter out() {
        return out;
    }

    PrintWriter err() {
        return err;
    }

    Map<String, String> environment() {
        return environment;
    }

    private void close() {
        if (store != null) {
            try {
                store.close();
            } catch (RuntimeException e) {
                // The command has finished and its exit code stands; a failure to close the client
                // (such as a watch callback racing the shutdown) must not turn it into a crash.
            }
        }
    }

    static Throwable unwrap(Throwable e) {
        Throwable t = e;
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }

    static int exitCodeFor(Throwable e) {
        if (e instanceof CliException c) {
            return c.exitCode();
        }
        if (e instanceof ValidationException) {
            return ExitCodes.USAGE;
        }
        if (e instanceof EtcdUnavailableException) {
            return ExitCodes.ETCD_UNAVAILABLE;
        }
        return ExitCodes.FAILED;
    }

    static String messageFor(Throwable e) {
        if (e instanceof EtcdUnavailableException) {
            return e.getMessage() + " (is etcd running? set --etcd-endpoints or FERRY_ETCD_ENDPOINTS; `ferry up` starts a local one)";
        }
        if (e instanceof BadValueException b) {
            return b.getMessage() + " (fix it with etcdctl put; see docs/etcd-schema.md)";
        }
        return String.valueOf(e.getMessage());
    }
}
