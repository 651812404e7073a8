package io.ferry.agent;

import io.ferry.agent.engine.LoopDevices;
import io.ferry.etcd.EtcdOptions;
import io.ferry.runtime.exec.ProcessCommandRunner;
import io.vertx.core.Vertx;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetAddress;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * {@code ferry-agent}: options come from {@code --name=value} arguments, each of which can also be
 * given as an environment variable ({@code --data-address} is {@code FERRY_DATA_ADDRESS}); etcd
 * options come from the environment as for every Ferry process ({@code FERRY_ETCD_ENDPOINTS},
 * {@code FERRY_PREFIX}, TLS and credentials).
 *
 * <pre>
 *   --node=worker-1              this node's name (default: the host name)
 *   --data-address=10.0.1.11     address for NVMe/TCP exports (required)
 *   --admin=127.0.0.1:9091       admin HTTP bind address; "off" disables it
 *   --labels=zone=z1,rack=r7     node labels
 *   --state-dir=/var/lib/ferry   keeps the generated host NQN
 *   --cluster=ferry              ferry.cluster tag on LVM volumes
 *   --spdk-socket=/var/tmp/spdk.sock
 *   --nvmet-root=/sys/kernel/config/nvmet
 *   --host-nqn-file=/etc/nvme/hostnqn   read the host NQN from here; generated into the state dir if absent
 *   --concurrency=8
 *   --loop-devices=auto          how the file engine attaches loop devices: auto, ioctl or losetup
 *   --machine-id=rack7-host3     the machine the registration names (default: the kernel's boot id)
 * </pre>
 */
public final class AgentMain {

    private static final Logger log = LoggerFactory.getLogger(AgentMain.class);

    /** Every argument name {@link #options} reads; any other argument is refused rather than ignored. */
    static final Set<String> ARGUMENTS = Set.of("node", "data-address", "admin", "labels", "state-dir", "cluster",
            "spdk-socket", "nvmet-root", "host-nqn-file", "concurrency", "loop-devices", "machine-id");

    private AgentMain() {
    }

    public static void main(String[] args) throws Exception {
        AgentOptions options = parse(List.of(args), System.getenv());
        EtcdOptions etcd = EtcdOptions.fromEnvironment(System.getenv());
        Vertx vertx = Vertx.vertx();
        Agent agent = new Agent(options, etcd, new ProcessCommandRunner());
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                vertx.close().toCompletionStage().toCompletableFuture().get(15, TimeUnit.SECONDS);
            } catch (Exception e) {
                log.warn("shutdown did not finish cleanly: {}", e.toString());
            }
            stopped.countDown();
        }, "ferry-agent-shutdown"));
        vertx.deployVerticle(agent).onFailure(err -> {
            log.error("the agent could not start", err);
            System.exit(1);
        });
        stopped.await();
    }

    /**
     * The agent's options from its arguments and environment, as {@link #main} reads them, without
     * starting anything (the Kubernetes manifests are checked against this).
     */
    public static AgentOptions parse(List<String> args, Map<String, String> env) throws Exception {
        return options(settings(args.toArray(String[]::new), env));
    }

    /** Merges arguments over environment variables; an argument {@code --foo-bar=x} is {@code FERRY_FOO_BAR}. */
    static Map<String, String> settings(String[] args, Map<String, String> env) {
        Map<String, String> s = new HashMap<>();
        env.forEach((k, v) -> {
            if (k.startsWith("FERRY_")) {
                s.put(k.substring(6).toLowerCase().replace('_', '-'), v);
            }
        });
        for (String arg : args) {
            if (!arg.startsWith("--") || !arg.contains("=")) {
                throw new IllegalArgumentException("arguments look like --name=value, got " + arg);
            }
            String name = arg.substring(2, arg.indexOf('='));
            // A misspelt option must not be dropped silently (an agent told --state-dri= would
            // generate a new host NQN elsewhere). Environment variables are not checked: FERRY_*
            // also carries the etcd settings every Ferry process shares.
            if (!ARGUMENTS.contains(name)) {
                throw new IllegalArgumentException("unknown argument --" + name + "; known: "
                        + ARGUMENTS.stream().sorted().map(a -> "--" + a).toList());
            }
            s.put(name, arg.substring(arg.indexOf('=') + 1));
        }
        return s;
    }

    static AgentOptions options(Map<String, String> s) throws Exception {
        // Only ask the resolver when no node name was given: in a guest or container the host name may
        // not resolve, and that must not stop an agent that was told its name.
        String node = s.containsKey("node") ? s.get("node") : InetAddress.getLocalHost().getHostName().toLowerCase();
        String data = s.get("data-address");
        if (data == null || data.isBlank()) {
            throw new IllegalArgumentException("--data-address (or FERRY_DATA_ADDRESS) is required");
        }
        AgentOptions o = AgentOptions.defaults(node, data, Path.of(s.getOrDefault("state-dir", "/var/lib/ferry")));
        String adminSetting = s.getOrDefault("admin", "127.0.0.1:9091");
        if (adminSetting.equals("off")) {
            o = o.withAdmin("127.0.0.1", -1);
        } else {
            int colon = adminSetting.lastIndexOf(':');
            String host = adminSetting.substring(0, colon).replace("[", "").replace("]", "");
            o = o.withAdmin(host, Integer.parseInt(adminSetting.substring(colon + 1)));
        }
        o = o.withLabels(labels(s.getOrDefault("labels", "")));
        if (s.containsKey("cluster")) {
            o = o.withCluster(s.get("cluster"));
        }
        if (s.containsKey("spdk-socket")) {
            o = o.withSpdkSocket(Path.of(s.get("spdk-socket")));
        }
        if (s.containsKey("host-nqn-file")) {
            o = o.withHostNqnFile(Path.of(s.get("host-nqn-file")));
        }
        if (s.containsKey("nvmet-root")) {
            o = o.withNvmetRoot(Path.of(s.get("nvmet-root")));
        }
        if (s.containsKey("machine-id")) {
            o = o.withMachineId(s.get("machine-id"));
        }
        if (s.containsKey("concurrency")) {
            o = o.withConcurrency(Integer.parseInt(s.get("concurrency")));
        }
        if (s.containsKey("loop-devices")) {
            String value = s.get("loop-devices");
            try {
                o = o.withLoopDevices(LoopDevices.Mechanism.valueOf(value.toUpperCase(Locale.ROOT)));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--loop-devices must be auto, ioctl or losetup, got " + value);
            }
        }
        return o;
    }

    static Map<String, String> labels(String text) {
        Map<String, String> labels = new LinkedHashMap<>();
        for (String pair : text.split(",")) {
            if (pair.isBlank()) {
                continue;
            }
            int eq = pair.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("labels look like key=value,key=value; got " + pair);
            }
            labels.put(pair.substring(0, eq).strip(), pair.substring(eq + 1).strip());
        }
        return labels;
    }
}
