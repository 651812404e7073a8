package io.ferry.tools.up;

import io.ferry.agent.AgentOptions;
import io.ferry.cluster.ClusterPlan;
import io.ferry.cluster.LocalCluster;
import io.ferry.controller.ControllerOptions;
import io.ferry.etcd.ClusterIdentities;
import io.ferry.etcd.EtcdOptions;
import io.ferry.etcd.EtcdRoles;
import io.ferry.etcd.LocalEtcdMember;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.model.ClusterIdentity;
import io.ferry.runtime.admin.AdminOptions;
import io.ferry.runtime.exec.ProcessCommandRunner;
import io.vertx.core.Future;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * {@code ferry up}: a whole Ferry cluster on one machine. A local etcd (its data kept under the data
 * directory), the controller, N agents each with a file pool and its own node name, rack and switch,
 * the CSI endpoint and the admin APIs; in one JVM as separate verticles (the default, cheap on small
 * machines) or as separate processes ({@code --processes}). Ctrl-C stops everything cleanly; running
 * it again with the same data directory brings back every volume.
 */
@Command(name = "up", mixinStandardHelpOptions = true,
        description = "Start etcd, the controller, agents with file pools, the CSI endpoint and the admin APIs on this machine.")
final class UpCommand implements Callable<Integer> {

    @Option(names = "--agents", defaultValue = "1", description = "agents (nodes) to run, each with its own file pool (default: ${DEFAULT-VALUE})")
    int agents;

    @Option(names = "--data-dir", defaultValue = "var/ferry", description = "where etcd data, pools, state and logs live (default: ${DEFAULT-VALUE})")
    Path dataDir;

    @Option(names = "--etcd-port", defaultValue = "2379", description = "local etcd client port; the peer port is the next one,"
            + " and further members take the ports after those (default: ${DEFAULT-VALUE})")
    int etcdPort;

    @Option(names = "--etcd-members", defaultValue = "1", paramLabel = "N", description = "run the local etcd as a cluster of"
            + " N members (1, 3 or 5), each its own process; 3 is the least that survives losing one, and the least for"
            + " production (default: ${DEFAULT-VALUE})")
    int etcdMembers;

    @Option(names = "--etcd-endpoints", description = "use this etcd instead of starting one")
    String externalEtcd;

    @Option(names = "--etcd-data-dir", paramLabel = "DIR", description = "where the local etcd keeps its data (default:"
            + " <data-dir>/etcd); a dedicated fast disk keeps etcd's fsyncs out of the way of other writes, and a tmpfs"
            + " such as /dev/shm suits throwaway clusters and benchmarks (everything is lost at reboot)")
    Path etcdDataDir;

    @Option(names = "--prefix", defaultValue = "/ferry", description = "etcd key prefix (default: ${DEFAULT-VALUE})")
    String prefix;

    @Option(names = "--admin-port", defaultValue = "7360",
            description = "controller admin port; agent i listens on this + i (default: ${DEFAULT-VALUE})")
    int adminPort;

    @Option(names = "--csi-socket", description = "CSI endpoint socket (default: <data-dir>/csi/csi.sock)")
    Path csiSocket;

    @Option(names = "--processes", description = "run the controller, each agent and the CSI endpoint as separate processes")
    boolean processes;

    @Option(names = "--ready-timeout", defaultValue = "120", paramLabel = "SECONDS", description = "how long to wait for"
            + " the controller to lead, every agent to register and the CSI endpoint to answer before saying what is not"
            + " up (default: ${DEFAULT-VALUE})")
    int readyTimeoutSeconds;

    // Declared as --csi: picocli's negated form --no-csi then turns it off (declared as --no-csi, both forms left it on).
    @Option(names = "--csi", negatable = true, defaultValue = "true", fallbackValue = "true", description = "serve the CSI endpoint; --no-csi skips it (default: ${DEFAULT-VALUE})")
    boolean csi;

    @Option(names = "--secure", description = "turn etcd authentication on (ferryctl security init) and run each component"
            + " as its own etcd user; the password files go to <data-dir>/credentials (mode 0600). Once on, every later"
            + " ferry up on this data directory runs secure")
    boolean secure;

    /** The etcd users of a secure run; null otherwise. */
    private UpCredentials credentials;

    private final PrintWriter out = new PrintWriter(System.out, true);
    /** Started components, the last started first: stopping walks it from the front. */
    private final Deque<AutoCloseable> running = new ConcurrentLinkedDeque<>();
    /** Restarts the child processes that die; closed first on shutdown, so that stopping them is not taken for crashes. */
    private final Supervisor supervisor = new Supervisor(out);
    /** Held while this ferry up runs: two of them on one data directory would run two agents on each pool. */
    private FileChannel dataDirLock;

    @Override
    public Integer call() throws Exception {
        if (agents < 1 || agents > 32) {
            throw new IllegalArgumentException("--agents must be between 1 and 32, was " + agents);
        }
        if (externalEtcd != null && etcdMembers != 1) {
            throw new IllegalArgumentException("--etcd-members starts a local etcd; it cannot be combined with --etcd-endpoints");
        }
        Path data = dataDir.toAbsolutePath().normalize();
        Path logs = data.resolve("logs");
        Files.createDirectories(logs);
        Path socket = (csiSocket != null ? csiSocket : data.resolve("csi/csi.sock")).toAbsolutePath();
        lockDataDir(data);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            shutDown();
            stopped.countDown();
        }, "ferry-up-shutdown"));

        String endpoint;
        if (externalEtcd != null) {
            endpoint = externalEtcd;
        } else {
            LocalEtcd etcd = LocalEtcd.forUp(etcdData(data), logs.resolve("etcd.log"), etcdPort, etcdMembers,
                    data.resolve("run"));
            etcd.claim(out);
            etcd.start(LocalEtcd.findOrInstall(new ProcessCommandRunner(), out));
            running.push(etcd);
            endpoint = etcd.endpoint();
            for (int i = 0; i < etcd.memberCount(); i++) {
                int member = i;
                LocalEtcdMember m = etcd.members().get(i);
                supervisor.watch(new Supervisor.Child(etcdMembers == 1 ? "etcd" : "etcd " + m.name(),
                        () -> etcd.memberProcess(member), () -> etcd.startMember(member), etcd.logFile(m)));
            }
        }
        Map<String, Map<String, String>> nodes = new LinkedHashMap<>();
        for (int i = 1; i <= agents; i++) {
            nodes.put("node-" + i, Map.of("zone", "zone-1", "rack", "rack-" + ((i - 1) % 4 + 1), "switch",
                    "switch-" + ((i - 1) % 2 + 1)));
        }
        EtcdOptions etcdOptions = new EtcdOptions.Builder().endpoints(endpoint.split(",")).prefix(prefix).build();
        if (!secure && UpCredentials.madeBefore(data)) {
            out.println("note: an earlier ferry up --secure turned etcd authentication on for this data directory ("
                    + UpCredentials.directory(data) + "); running secure.");
            secure = true;
        }
        if (secure) {
            credentials = UpCredentials.init(data, endpoint, prefix, nodes.keySet(), out);
        }
        // ferry up itself declares pools and watches readiness as an operator would: as ferry-admin.
        EtcdStore store = EtcdStore.connect(as(etcdOptions, EtcdRoles.ADMIN));
        running.push(store);
        ensureClusterIdentity(store);

        Path poolsRoot = Files.createDirectories(data.resolve("pools"));
        long share = poolShare(Files.getFileStore(poolsRoot).getTotalSpace(), agents);
        warnIfEtcdSharesThePools(data, poolsRoot);
        int n = 0;
        for (Map.Entry<String, Map<String, String>> node : nodes.entrySet()) {
            n++;
            FilePools.declare(store, "pool-" + n, node.getKey(), poolsRoot.resolve(node.getKey()), node.getValue(), share);
        }

        // Records older than this are an earlier run's, and say nothing about this one's components.
        long startRevision = wait(store.currentRevision());
        String controllerId = processes ? PROCESS_CONTROLLER_ID : "ferry-up-" + ProcessHandle.current().pid();
        ClusterPlan plan = plan(data, socket, nodes, controllerId);
        if (processes) {
            startProcesses(plan, etcdOptions, logs);
        } else {
            // Each component on a connection of its own user, so that running in one JVM grants none
            // of them more than it has in its own process.
            running.push(LocalCluster.start(etcdOptions, this::as, plan,
                    plan.csi() == null ? null : CsiComponent.serving(plan.csi())));
        }
        Readiness readiness = new Readiness(controllerId, List.copyOf(nodes.keySet()), csi ? socket : null, startRevision);
        long started = System.nanoTime();
        Map<String, String> problems = awaitReady(readiness, store, started + TimeUnit.SECONDS.toNanos(readyTimeoutSeconds));
        printSummary(endpoint, data, socket, nodes, problems);
        // Not up yet: keep looking, and say so once it is (a component may need its restarts first).
        while (!stopped.await(2, TimeUnit.SECONDS)) {
            if (!problems.isEmpty() && (problems = whatIsNotUp(readiness, store)).isEmpty()) {
                out.println("Ferry is up now, " + (System.nanoTime() - started) / 1_000_000_000 + " s after the start.");
            }
        }
        return 0;
    }

    /** {@code options} as {@code user} when running secure; unchanged otherwise. */
    private EtcdOptions as(EtcdOptions options, String user) {
        return credentials == null ? options : credentials.options(options, user);
    }

    private ComponentProcess.Etcd as(ComponentProcess.Etcd etcd, String user) {
        return credentials == null ? etcd : credentials.process(etcd, user);
    }

    /** The identity of the controller {@code ferry up --processes} runs; ferry up knows its own leader by it. */
    static final String PROCESS_CONTROLLER_ID = "ferry-up-controller";

    private void lockDataDir(Path data) throws IOException {
        Path lockFile = Files.createDirectories(data.resolve("run")).resolve("ferry-up.lock");
        dataDirLock = FileLocks.exclusive(lockFile, "another ferry up is running with the data directory " + data + " (it holds "
                + lockFile + "); stop it first, or give a different --data-dir");
    }

    private Map<String, String> awaitReady(Readiness readiness, EtcdStore store, long deadline) throws InterruptedException {
        while (true) {
            Map<String, String> problems = whatIsNotUp(readiness, store);
            if (problems.isEmpty() || System.nanoTime() >= deadline) {
                return problems;
            }
            Thread.sleep(500);
        }
    }

    /**
     * Readiness's findings, each with how its component last exited when it did, and every child
     * that is down now waiting for its restart.
     */
    private Map<String, String> whatIsNotUp(Readiness readiness, EtcdStore store) {
        Map<String, String> problems = new LinkedHashMap<>(readiness.problems(store));
        for (String child : supervisor.restarts().keySet()) {
            if (problems.containsKey(child) || supervisor.down(child)) {
                supervisor.lastExit(child).ifPresent(exit -> problems.merge(child, "exited with status "
                        + Supervisor.describe(exit.status()) + " after " + exit.ran().toSeconds() + " s ("
                        + supervisor.restarts().get(child) + " restart(s) so far); last log line: " + exit.lastLogLine(),
                        (a, b) -> a + "; " + b));
            }
        }
        return problems;
    }

    /**
     * Every agent of {@code ferry up} is a node of its own, so none of them can see that the others'
     * pools sit on the same disk; each would report the whole disk. The pools are given their shares
     * instead: four fifths of the file system, split evenly, the rest left to etcd and the system.
     */
    static long poolShare(long fileSystemBytes, int agents) {
        long share = fileSystemBytes / 5 * 4 / agents;
        return Math.max(1L << 20, share - share % (1L << 20));
    }

    private void warnIfEtcdSharesThePools(Path data, Path poolsRoot) throws IOException {
        if (externalEtcd != null) {
            return;
        }
        Path etcd = etcdData(data);
        Path existing = etcd;
        while (existing != null && !Files.exists(existing)) {
            existing = existing.getParent();
        }
        if (existing != null && Files.getAttribute(existing, "unix:dev").equals(Files.getAttribute(poolsRoot, "unix:dev"))) {
            out.println("note: etcd keeps its data (" + etcd + ") on the file system the pools fill; if the pools"
                    + " fill it, etcd stops and the cluster with it. The pools get four fifths of it; for anything"
                    + " beyond a trial, give --etcd-data-dir on another file system.");
        }
    }

    /** Before any agent starts, so that none of them waits for the controller to create it. */
    private void ensureClusterIdentity(EtcdStore store) throws Exception {
        ClusterIdentity id = wait(ClusterIdentities.ensure(store, Instant.now()));
        out.println("cluster id " + id.id() + " (" + store.keys().clusterIdentity() + ")");
    }

    private static <T> T wait(Future<T> future) throws Exception {
        return future.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }

    /** What this ferry up runs, in its JVM or as child processes alike. */
    private ClusterPlan plan(Path data, Path socket, Map<String, Map<String, String>> nodes, String controllerId) {
        List<AgentOptions> agentOptions = new ArrayList<>();
        int i = 0;
        for (Map.Entry<String, Map<String, String>> node : nodes.entrySet()) {
            i++;
            Path state = data.resolve("state").resolve(node.getKey());
            agentOptions.add(AgentOptions.defaults(node.getKey(), "127.0.0.1", state)
                    .withAdmin("127.0.0.1", adminPort + i)
                    .withLabels(node.getValue())
                    // Every agent of this machine needs its own host NQN, not the host's one.
                    .withHostNqnFile(state.resolve("hostnqn-of-host-not-used")));
        }
        return new ClusterPlan(List.of(ControllerOptions.defaults(controllerId).withAdmin(AdminOptions.loopback(adminPort))),
                agentOptions, csi ? new ClusterPlan.Csi(socket, nodes.keySet().iterator().next()) : null);
    }

    private void startProcesses(ClusterPlan plan, EtcdOptions etcdOptions, Path logs) throws Exception {
        ComponentProcess.Etcd etcd = new ComponentProcess.Etcd(String.join(",",
                etcdOptions.endpoints().stream().map(Object::toString).toList()), prefix);
        for (ComponentProcess component : PlanProcesses.of(plan, role -> as(etcd, role), logs, List.of())) {
            start(component);
        }
    }

    private void start(ComponentProcess component) throws Exception {
        component.start();
        running.push(() -> component.stop(20));
        supervisor.watch(new Supervisor.Child(component.name(), component::process, component::start, component.log()));
    }

    private Path etcdData(Path data) {
        return etcdDataDir != null ? etcdDataDir.toAbsolutePath().normalize() : data.resolve("etcd");
    }

    private void printSummary(String endpoint, Path data, Path socket, Map<String, Map<String, String>> nodes,
                              Map<String, String> problems) {
        out.println();
        if (problems.isEmpty()) {
            out.println("Ferry is up" + (processes ? " (one process per component)" : " (one JVM)") + ".");
        } else {
            out.println("Ferry is NOT up after " + readyTimeoutSeconds + " s:");
            problems.forEach((component, problem) -> out.println("  " + component + ": " + problem));
            out.println("ferry up keeps running, restarts what exits, and prints a line once all of it is up; logs in "
                    + data.resolve("logs") + ".");
        }
        out.println("  etcd         " + endpoint + (externalEtcd == null ? "   data " + etcdData(data) : "") + "   prefix " + prefix);
        out.println("  controller   http://127.0.0.1:" + adminPort + "   (web console at /, /readyz /metrics /api/v1/pools /api/v1/volumes)");
        int i = 0;
        for (Map.Entry<String, Map<String, String>> node : nodes.entrySet()) {
            i++;
            out.println("  agent        " + node.getKey() + " http://127.0.0.1:" + (adminPort + i) + "   pool pool-" + i
                    + " in " + data.resolve("pools").resolve(node.getKey()) + "   " + node.getValue());
        }
        if (csi) {
            out.println("  CSI          unix://" + socket);
        }
        out.println("  data dir     " + data + "   logs " + data.resolve("logs"));
        String ctl = "bin/ferryctl";
        if (credentials != null) {
            out.println("  credentials  " + credentials.directory() + "   (etcd authentication on, each component its own user)");
            out.println("  admin        " + credentials.adminEnvironment());
            ctl = credentials.adminEnvironment() + " bin/ferryctl";
        }
        out.println();
        out.println("Try:  " + ctl + " status");
        out.println("      " + ctl + " volume create demo --size 1Gi --consumer node-1");
        out.println("      " + ctl + " attach demo --node node-1");
        out.println("Ctrl-C stops everything; volumes are kept for the next `ferry up` with the same --data-dir.");
    }

    private void shutDown() {
        out.println("stopping Ferry...");
        try {
            supervisor.close();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        AutoCloseable component;
        while ((component = running.poll()) != null) {
            try {
                component.close();
            } catch (Exception e) {
                out.println("warning: " + e.getMessage());
            }
        }
        out.println("stopped.");
    }

}
