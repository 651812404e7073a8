package io.ferry.tools.up;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * One Ferry component (controller, agent, CSI endpoint) run as a child JVM of this process, on this
 * JVM's class path, logging to {@code <logs>/<name>.log} (appended, so that a component restarted
 * after a kill keeps one log). The one place that knows how {@code ferry up --processes} and the chaos
 * run start each component, so the command lines they test are the ones users run. Each child stops
 * by itself when this process is gone ({@link ExitWithParent}).
 */
public final class ComponentProcess {

    private final String name;
    private final List<String> command;
    private final Map<String, String> env;
    private final Path log;
    private volatile Process process;

    private ComponentProcess(String name, List<String> command, Map<String, String> env, Path log) {
        this.name = name;
        this.command = List.copyOf(command);
        this.env = Map.copyOf(env);
        this.log = log;
    }

    /**
     * How every component reaches etcd: all its endpoints (a component given one member of a cluster
     * stops with that member) and the key prefix.
     */
    public record Etcd(String endpoints, String prefix) {
        Map<String, String> environment() {
            return Map.of("FERRY_ETCD_ENDPOINTS", endpoints, "FERRY_PREFIX", prefix);
        }
    }

    /** A controller taking part in the leader election as {@code id}, its admin API on {@code adminPort}. */
    public static ComponentProcess controller(String name, String id, int adminPort, Etcd etcd, Path logs, List<String> jvmOptions) {
        return java(name, etcd, logs, jvmOptions, "io.ferry.controller.ControllerMain", List.of("--id", id,
                "--admin", "127.0.0.1:" + adminPort));
    }

    /** A controller as above whose leadership lease lasts {@code leaseTtlSeconds} (how long a dead leader holds it). */
    public static ComponentProcess controller(String name, String id, int adminPort, int leaseTtlSeconds, Etcd etcd, Path logs,
            List<String> jvmOptions) {
        return java(name, etcd, logs, jvmOptions, "io.ferry.controller.ControllerMain", List.of("--id", id,
                "--admin", "127.0.0.1:" + adminPort, "--lease-ttl", Integer.toString(leaseTtlSeconds)));
    }

    /**
     * An agent serving {@code node}, its own state directory and host NQN file under {@code stateDir}
     * (every agent of one machine needs its own host NQN, not the host's one).
     */
    public static ComponentProcess agent(String node, int adminPort, Map<String, String> labels, Path stateDir, Etcd etcd,
            Path logs, List<String> jvmOptions) {
        StringBuilder joined = new StringBuilder();
        labels.forEach((k, v) -> joined.append(joined.isEmpty() ? "" : ",").append(k).append('=').append(v));
        return java(node, etcd, logs, jvmOptions, "io.ferry.agent.AgentMain", List.of("--node=" + node,
                "--data-address=127.0.0.1", "--admin=127.0.0.1:" + adminPort, "--labels=" + joined,
                "--state-dir=" + stateDir, "--host-nqn-file=" + stateDir.resolve("hostnqn-of-host-not-used")));
    }

    /** The CSI endpoint in both modes on a Unix socket, its node plugin serving {@code node}. */
    public static ComponentProcess csi(String name, Path socket, String node, Etcd etcd, Path logs, List<String> jvmOptions) {
        return java(name, etcd, logs, jvmOptions, "io.ferry.csi.CsiMain", List.of("--mode", "both",
                "--endpoint", "unix://" + socket, "--node-id", node));
    }

    private static ComponentProcess java(String name, Etcd etcd, Path logs, List<String> jvmOptions, String mainClass,
            List<String> args) {
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElse("java"));
        command.addAll(jvmOptions);
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        // Through ExitWithParent, so that the component stops when this process dies, kill -9 included.
        command.add(ExitWithParent.class.getName());
        command.add(mainClass);
        command.addAll(args);
        return new ComponentProcess(name, command, etcd.environment(), logs.resolve(name + ".log"));
    }

    public String name() {
        return name;
    }

    public Path log() {
        return log;
    }

    /** Starts the process; a no-op while it runs. */
    public synchronized void start() throws IOException {
        if (process != null && process.isAlive()) {
            return;
        }
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().putAll(env);
        pb.redirectErrorStream(true);
        pb.redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        // Standard input stays a pipe from this process: its end-of-file is how the child learns we died.
        pb.redirectInput(ProcessBuilder.Redirect.PIPE);
        process = pb.start();
    }

    public boolean alive() {
        Process p = process;
        return p != null && p.isAlive();
    }

    /** The running process, for callers that report its exit; empty before the first start. */
    public Optional<Process> process() {
        return Optional.ofNullable(process);
    }

    /** SIGKILL: no shutdown hook, no lease revoked, nothing flushed; what a crash looks like. */
    public synchronized void kill() throws InterruptedException {
        Process p = process;
        if (p != null && p.isAlive()) {
            p.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
        }
    }

    /** SIGTERM, then SIGKILL if it has not exited within {@code graceSeconds}. */
    public synchronized void stop(int graceSeconds) throws InterruptedException {
        Process p = process;
        if (p == null || !p.isAlive()) {
            return;
        }
        p.destroy();
        if (!p.waitFor(graceSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }
}
