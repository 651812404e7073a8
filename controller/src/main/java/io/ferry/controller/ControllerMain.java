package io.ferry.controller;

import io.ferry.etcd.EtcdOptions;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.runtime.admin.AdminOptions;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Vertx;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/** {@code ferry-controller}: runs one controller instance until interrupted. */
@Command(name = "ferry-controller", mixinStandardHelpOptions = true,
        description = "Places Ferry volumes on pools and drives their lifecycle. Run several for high availability;"
                + " one leads, the others stand by.%n"
                + "etcd is configured through FERRY_ETCD_ENDPOINTS, FERRY_PREFIX, FERRY_ETCD_CA, FERRY_ETCD_CERT,"
                + " FERRY_ETCD_KEY, FERRY_ETCD_USER and FERRY_ETCD_PASSWORD, or the options below.")
public final class ControllerMain implements Callable<Integer> {

    @Option(names = "--id", description = "identity in the leader election (default: host name and process id)")
    String id;

    @Option(names = "--etcd-endpoints", description = "comma-separated etcd endpoints (overrides FERRY_ETCD_ENDPOINTS)")
    String endpoints;

    @Option(names = "--prefix", description = "etcd key prefix (overrides FERRY_PREFIX; default /ferry)")
    String prefix;

    @Option(names = "--admin", defaultValue = "127.0.0.1:7360", description = "admin HTTP host:port (default ${DEFAULT-VALUE})")
    String adminAddress;

    @Option(names = "--admin-token-file", description = "file holding the bearer token for mutating admin endpoints")
    Path adminTokenFile;

    @Option(names = "--lease-ttl", defaultValue = "10", description = "leader lease TTL in seconds (default ${DEFAULT-VALUE})")
    int leaseTtlSeconds;

    @Option(names = "--event-retention", defaultValue = "60",
            description = "minutes lifecycle events are kept at least (they expire by 7/6 of it; default ${DEFAULT-VALUE})")
    int eventRetentionMinutes;

    public static void main(String[] args) {
        System.exit(new CommandLine(new ControllerMain()).execute(args));
    }

    /**
     * The arguments as {@link #main} reads them, checked as far as that is possible without
     * starting anything or reading the token file (the Kubernetes manifests are checked against
     * this); a bad argument throws {@link CommandLine.ParameterException}.
     */
    public static ControllerMain parse(String... args) {
        ControllerMain main = new ControllerMain();
        new CommandLine(main).parseArgs(args);
        main.admin(null);
        return main;
    }

    /** This controller's identity in the election, or null for the host name and process id. */
    public String id() {
        return id;
    }

    /** The admin server's settings from {@code --admin}, with the given bearer token. */
    public AdminOptions admin(String token) {
        int colon = adminAddress.lastIndexOf(':');
        int port;
        try {
            port = colon < 0 ? -1 : Integer.parseInt(adminAddress.substring(colon + 1));
        } catch (NumberFormatException e) {
            port = -1;
        }
        if (colon < 0 || port < 0 || port > 65535) {
            throw new CommandLine.ParameterException(new CommandLine(this), "--admin must be host:port, was " + adminAddress);
        }
        return new AdminOptions(adminAddress.substring(0, colon), port, token);
    }

    @Override
    public Integer call() throws Exception {
        EtcdOptions etcd = EtcdOptions.fromEnvironment(System.getenv());
        if (endpoints != null) {
            etcd = new EtcdOptions(new EtcdOptions.Builder().endpoints(endpoints.split(",")).build().endpoints(), etcd.prefix(),
                    etcd.caFile(), etcd.certFile(), etcd.keyFile(), etcd.user(), etcd.password(), etcd.connectTimeout(),
                    etcd.requestTimeout());
        }
        if (prefix != null) {
            etcd = etcd.withPrefix(prefix);
        }
        if (eventRetentionMinutes < 1) {
            throw new CommandLine.ParameterException(new CommandLine(this), "--event-retention must be 1 minute or more, was "
                    + eventRetentionMinutes);
        }
        String identity = id != null ? id : InetAddress.getLocalHost().getHostName() + "-" + ProcessHandle.current().pid();
        String token = adminTokenFile == null ? null : Files.readString(adminTokenFile).trim();
        AdminOptions admin = admin(token);

        Vertx vertx = Vertx.vertx();
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        EtcdStore store = EtcdStore.connectAndWarmUp(etcd);
        Controller controller = new Controller(vertx, store,
                ControllerOptions.defaults(identity).withAdmin(admin).withLeaseTtl(Duration.ofSeconds(leaseTtlSeconds))
                        .withEventRetention(Duration.ofMinutes(eventRetentionMinutes)), registry);
        // No time limit: a controller started while etcd has no quorum waits for it, as its log says.
        controller.start().toCompletionStage().toCompletableFuture().get();
        System.out.println("ferry-controller " + identity + " running; etcd " + etcd.endpoints() + " prefix " + etcd.prefix()
                + "; admin " + controller.adminUrl());
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                controller.stop().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
                store.close();
                vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
            } catch (Exception e) {
                System.err.println("unclean shutdown: " + e.getMessage());
            } finally {
                stopped.countDown();
            }
        }, "ferry-controller-shutdown"));
        stopped.await();
        return 0;
    }
}
