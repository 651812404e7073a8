package io.ferry.cluster;

import io.ferry.agent.Agent;
import io.ferry.agent.AgentOptions;
import io.ferry.controller.Controller;
import io.ferry.controller.ControllerOptions;
import io.ferry.etcd.ClusterIdentities;
import io.ferry.etcd.EtcdOptions;
import io.ferry.etcd.EtcdRoles;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.model.ClusterIdentity;
import io.ferry.runtime.exec.CommandRunner;
import io.ferry.runtime.exec.ProcessCommandRunner;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A Ferry cluster in one JVM over a given etcd: controllers and agents, each with its own etcd
 * connection, plus whatever {@link Component}s are plugged in (the CSI endpoint: module {@code csi}
 * sits above this one, see docs/architecture.md). The one way {@code ferry up}, the ITs that need a
 * cluster and the benchmarks assemble one.
 *
 * <p>Components start in the order asked and can be stopped and started again one by one, as the
 * ITs do to take a node away or fail a leader over; {@link #close()} stops what still runs, the last
 * started first, and then the Vert.x instance and the connections this cluster opened. The etcd
 * itself belongs to the caller.
 */
public final class LocalCluster implements AutoCloseable {

    /** How long starting or stopping one component may take before the cluster gives up on it. */
    private static final long STEP_SECONDS = 60;

    /** A component started against this cluster, such as the CSI endpoint. */
    @FunctionalInterface
    public interface Component<T extends AutoCloseable> {
        T start(LocalCluster cluster) throws Exception;
    }

    /** The options a component connects with, given its etcd role (each its own user when authentication is on). */
    @FunctionalInterface
    public interface Access {
        EtcdOptions as(EtcdOptions options, String role);

        /** Every component connects with the cluster's options: etcd authentication is off. */
        static Access open() {
            return (options, role) -> options;
        }
    }

    private final EtcdOptions etcd;
    private final Access access;
    private final CommandRunner runner;
    private final Vertx vertx;
    private final EtcdStore store;
    private final Map<String, Controller> controllers = new LinkedHashMap<>();
    private final Map<String, String> agentDeployments = new LinkedHashMap<>();
    /** Started components, the last started first: closing walks it from the front. */
    private final Deque<Running> running = new ConcurrentLinkedDeque<>();

    private record Running(String name, AutoCloseable stop) {
    }

    private LocalCluster(EtcdOptions etcd, Access access, CommandRunner runner, int workerThreads) {
        this.etcd = Objects.requireNonNull(etcd, "etcd");
        this.access = access;
        this.runner = runner;
        // Agents do their blocking work (fsync, losetup) on worker threads; several agents share
        // this JVM's pool, so it grows with them beyond Vert.x's default 20.
        this.vertx = Vertx.vertx(new VertxOptions().setWorkerPoolSize(workerThreads));
        this.store = EtcdStore.connect(options(EtcdRoles.ADMIN));
    }

    /** A cluster on {@code etcd} with nothing started yet; every component connects with these options. */
    public static LocalCluster on(EtcdOptions etcd) {
        return on(etcd, Access.open(), new ProcessCommandRunner(), 1);
    }

    /**
     * A cluster on {@code etcd} with nothing started yet.
     *
     * @param access         the options each component connects with
     * @param expectedAgents how many agents will share the worker pool
     */
    public static LocalCluster on(EtcdOptions etcd, Access access, CommandRunner runner,
            int expectedAgents) {
        return new LocalCluster(etcd, access, runner, 16 * (Math.max(1, expectedAgents) + 1));
    }

    /**
     * Starts everything {@code plan} names on a cluster: the cluster identity first (so that no agent
     * waits for a controller to create it), then the controllers, the agents and the CSI endpoint
     * through {@code csi}. On a failure what was started is stopped again.
     */
    public static LocalCluster start(EtcdOptions etcd, Access access, ClusterPlan plan,
            Component<?> csi) throws Exception {
        LocalCluster cluster = on(etcd, access, new ProcessCommandRunner(), plan.agents().size());
        try {
            cluster.ensureIdentity();
            for (ControllerOptions controller : plan.controllers()) {
                cluster.startController(controller);
            }
            for (AgentOptions agent : plan.agents()) {
                cluster.startAgent(agent);
            }
            if (plan.csi() != null) {
                cluster.startComponent("csi", csi);
            }
            return cluster;
        } catch (Exception | Error e) {
            try {
                cluster.close();
            } catch (Exception suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    /** The options a component with etcd role {@code role} connects with. */
    public EtcdOptions options(String role) {
        return access.as(etcd, role);
    }

    /** The cluster's own connection, as the operator (ferry-admin when authentication is on). */
    public EtcdStore store() {
        return store;
    }

    public Vertx vertx() {
        return vertx;
    }

    public CommandRunner runner() {
        return runner;
    }

    /** Creates the cluster's identity unless it exists, as the first controller would. */
    public ClusterIdentity ensureIdentity() {
        return await(ClusterIdentities.ensure(store, Instant.now()));
    }

    /** Starts a controller on a connection of its own; it takes the lead once no other holds it. */
    public Controller startController(ControllerOptions options) {
        if (controllers.containsKey(options.id())) {
            throw new IllegalStateException("controller " + options.id() + " is already running");
        }
        EtcdStore own = EtcdStore.connect(options(EtcdRoles.CONTROLLER));
        Controller controller = new Controller(vertx, own, options, new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
        try {
            await(controller.start());
        } catch (RuntimeException e) {
            own.close();
            throw e;
        }
        controllers.put(options.id(), controller);
        running.push(new Running("controller " + options.id(), () -> {
            controllers.remove(options.id());
            try {
                await(controller.stop());
            } finally {
                own.close();
            }
        }));
        return controller;
    }

    /** The running controller {@code id}. */
    public Controller controller(String id) {
        Controller controller = controllers.get(id);
        if (controller == null) {
            throw new NoSuchElementException("no controller " + id + " runs in this cluster; running: " + controllers.keySet());
        }
        return controller;
    }

    /** Stops controller {@code id}: its election key goes with its lease. */
    public void stopController(String id) {
        controller(id);
        stop("controller " + id);
    }

    /** Starts the agent of {@code options.node()}; it finds the volumes of a previous run and adopts them. */
    public void startAgent(AgentOptions options) {
        startAgent(options, new Agent(options, options(EtcdRoles.agentRoleName(options.node())), runner));
    }

    /** Starts an agent built by the caller (its engines or metrics chosen by a test) for {@code options.node()}. */
    public void startAgent(AgentOptions options, Agent agent) {
        String node = options.node();
        if (agentDeployments.containsKey(node)) {
            throw new IllegalStateException("the agent of " + node + " is already running");
        }
        String deployment = await(vertx.deployVerticle(agent));
        agentDeployments.put(node, deployment);
        running.push(new Running("agent " + node, () -> {
            agentDeployments.remove(node);
            await(vertx.undeploy(deployment));
        }));
    }

    /** Whether the agent of {@code node} runs. */
    public boolean agentRuns(String node) {
        return agentDeployments.containsKey(node);
    }

    /** Stops the agent of {@code node}, as a node going down would; its registration goes with its lease. */
    public void stopAgent(String node) {
        if (!agentDeployments.containsKey(node)) {
            throw new NoSuchElementException("no agent of " + node + " runs in this cluster; running: "
                    + agentDeployments.keySet());
        }
        stop("agent " + node);
    }

    /** Starts a plugged-in component; it is closed with the cluster, after what started later. */
    public <T extends AutoCloseable> T startComponent(String name, Component<T> component) throws Exception {
        T started = component.start(this);
        running.push(new Running(name, started));
        return started;
    }

    private void stop(String name) {
        for (Running r : running) {
            if (r.name().equals(name)) {
                running.remove(r);
                try {
                    r.stop().close();
                } catch (RuntimeException e) {
                    throw e;
                } catch (Exception e) {
                    throw new IllegalStateException("stopping " + name + " failed: " + e.getMessage(), e);
                }
                return;
            }
        }
    }

    /**
     * Stops every component still running, the last started first, then Vert.x and the cluster's
     * connection. Every step runs even if one before it failed; the first failure is thrown with the
     * others suppressed.
     */
    @Override
    public void close() throws Exception {
        List<Exception> errors = new ArrayList<>();
        Running next;
        while ((next = running.poll()) != null) {
            try {
                next.stop().close();
            } catch (Exception e) {
                errors.add(new IllegalStateException("stopping " + next.name() + " failed: " + e.getMessage(), e));
            }
        }
        try {
            store.close();
        } catch (RuntimeException e) {
            errors.add(e);
        }
        try {
            await(vertx.close());
        } catch (RuntimeException e) {
            errors.add(e);
        }
        if (!errors.isEmpty()) {
            Exception first = errors.get(0);
            errors.subList(1, errors.size()).forEach(first::addSuppressed);
            throw first;
        }
    }

    private static <T> T await(Future<T> future) {
        try {
            return future.toCompletionStage().toCompletableFuture().get(STEP_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw new IllegalStateException(e.getCause());
        } catch (TimeoutException e) {
            throw new IllegalStateException("a cluster component did not start or stop within " + STEP_SECONDS + " s", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while starting or stopping a cluster component", e);
        }
    }
}
