package io.ferry.csi;

import io.ferry.etcd.EtcdOptions;
import io.ferry.runtime.informer.InformerOptions;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.runtime.exec.ProcessCommandRunner;
import java.util.Locale;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import io.ferry.runtime.auth.HostKeyFile;

/** {@code ferry-csi}: the CSI plugin in controller mode, node mode, or both. */
@Command(name = "ferry-csi", mixinStandardHelpOptions = true, versionProvider = CsiMain.Version.class,
        description = "Ferry CSI plugin. etcd settings come from FERRY_ETCD_ENDPOINTS, FERRY_PREFIX, FERRY_ETCD_CA, "
                + "FERRY_ETCD_CERT, FERRY_ETCD_KEY, FERRY_ETCD_USER, FERRY_ETCD_PASSWORD.")
public final class CsiMain implements Callable<Integer> {

    /** Where the sidecars expect the socket unless told otherwise (the manifests use these paths). */
    public static final String DEFAULT_ENDPOINT = "unix:///csi/csi.sock";

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--mode", description = "controller, node or both (default: ${DEFAULT-VALUE})")
    String mode = "both";

    @Option(names = "--endpoint", description = "unix:///path/to/csi.sock, or tcp://host:port (no authentication: "
            + "loopback or a private network only) (default: ${DEFAULT-VALUE})")
    String endpoint = DEFAULT_ENDPOINT;

    @Option(names = "--node-id", description = "this node's name as its Ferry agent registers it; required in node mode")
    String nodeId;

    @Option(names = "--max-volumes", description = "volumes per node announced to the CO; 0 for no limit")
    long maxVolumes;

    @Option(names = "--topology", split = ",", description = "extra topology segments key=value, e.g. topology.ferry.csi.io/rack=r1")
    Map<String, String> topology = new LinkedHashMap<>();

    @Option(names = "--nvme-reconnect-delay", description = "seconds, passed to nvme connect (default: ${DEFAULT-VALUE})")
    int reconnectDelay = 2;

    @Option(names = "--nvme-ctrl-loss-tmo", description = "seconds, passed to nvme connect; -1 retries forever (default: ${DEFAULT-VALUE})")
    int ctrlLossTimeout = 600;

    @Option(names = "--nvme-auth-keys", description = "this host's NVMe authentication keys, kept by the node's Ferry agent"
            + " (default: $FERRY_NVME_AUTH_KEYS or ${DEFAULT-VALUE})")
    Path authKeys = Path.of(System.getenv().getOrDefault("FERRY_NVME_AUTH_KEYS",
            HostKeyFile.DEFAULT_PATH));

    @Option(names = "--mirror-check-seconds", description = "how often the mirrors assembled on this node are checked and"
            + " given back legs that returned; 0 never (default: ${DEFAULT-VALUE})")
    int mirrorCheckSeconds = (int) MirrorKeeper.INTERVAL.toSeconds();

    /** The checked arguments: what {@link #call} starts the server with. */
    public record Parsed(CsiServer.Mode mode, CsiEndpoint endpoint, String nodeId) {
    }

    /**
     * The arguments as {@link #main} reads and checks them, without starting anything (the
     * Kubernetes manifests are checked against this); a bad argument throws
     * {@link CommandLine.ParameterException}.
     */
    public static Parsed parse(String... args) {
        CsiMain main = new CsiMain();
        CommandLine commandLine = new CommandLine(main);
        commandLine.parseArgs(args);
        return main.checked(commandLine);
    }

    private Parsed checked(CommandLine commandLine) {
        CsiServer.Mode m;
        CsiEndpoint listen;
        try {
            m = parseMode(mode);
            listen = CsiEndpoint.parse(endpoint);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(commandLine, e.getMessage());
        }
        if (m != CsiServer.Mode.CONTROLLER && (nodeId == null || nodeId.isBlank())) {
            throw new CommandLine.ParameterException(commandLine, "--node-id is required in node mode");
        }
        return new Parsed(m, listen, nodeId);
    }

    @Override
    public Integer call() throws Exception {
        Parsed parsed = checked(spec.commandLine());
        CsiServer.Mode m = parsed.mode();
        CsiEndpoint listen = parsed.endpoint();
        NodeService.Options node = m == CsiServer.Mode.CONTROLLER ? null
                : NodeService.Options.defaults(nodeId).withMaxVolumes(maxVolumes).withTopology(topology)
                .withNvme(reconnectDelay, ctrlLossTimeout).withNvmeAuthKeys(authKeys)
                .withMirrorCheck(Duration.ofSeconds(Math.max(0, mirrorCheckSeconds)));
        EtcdOptions etcd = EtcdOptions.fromEnvironment(System.getenv());
        CsiServer server = new CsiServer(new CsiServer.Options(m, listen, node, InformerOptions.defaults()),
                EtcdStore.connectAndWarmUp(etcd), true, new ProcessCommandRunner());
        try {
            server.start();
        } catch (IOException e) {
            server.close();
            System.err.println("ferry-csi: " + e.getMessage());
            return 1;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(server::close, "csi-shutdown"));
        server.awaitTermination();
        return 0;
    }

    static CsiServer.Mode parseMode(String value) {
        return switch (value.toLowerCase(Locale.ROOT)) {
            case "controller" -> CsiServer.Mode.CONTROLLER;
            case "node" -> CsiServer.Mode.NODE;
            case "both" -> CsiServer.Mode.BOTH;
            default -> throw new IllegalArgumentException("--mode must be controller, node or both, not " + value);
        };
    }

    /** {@code unix:///csi/csi.sock} (or a bare absolute path) to the socket's path; a tcp endpoint is refused. */
    public static Path socketPath(String endpoint) {
        if (CsiEndpoint.parse(endpoint) instanceof CsiEndpoint.Unix unix) {
            return unix.socket();
        }
        throw new IllegalArgumentException("--endpoint " + endpoint + " is not a Unix socket");
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"ferry-csi " + Driver.VERSION};
        }
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new CsiMain()).execute(args));
    }
}
