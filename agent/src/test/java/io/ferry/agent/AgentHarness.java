package io.ferry.agent;

import io.ferry.agent.engine.LoopDevices;
import io.ferry.etcd.ClusterIdentities;
import io.ferry.etcd.EtcdOptions;
import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.store.Versioned;
import io.ferry.etcd.testing.Await;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.model.ClusterIdentity;
import io.ferry.model.Engine;
import io.ferry.model.Orphan;
import io.ferry.model.OrphanAdoption;
import io.ferry.model.OrphanAdoptionResult;
import io.ferry.model.OrphanRemoval;
import io.ferry.model.OrphanRemovalResult;
import io.ferry.model.OrphanReport;
import io.ferry.model.Placement;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolSource;
import io.ferry.model.Sizes;
import io.ferry.model.SnapshotStatus;
import io.ferry.model.SnapshotWorkItem;
import io.ferry.model.VolumePhase;
import io.ferry.model.VolumeSource;
import io.ferry.model.VolumeStatus;
import io.ferry.model.WorkItem;
import io.ferry.runtime.device.TestDisks;
import io.ferry.runtime.exec.CommandRunner;
import io.ferry.runtime.exec.ProcessCommandRunner;
import io.ferry.runtime.pool.PoolMarker;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

import static org.awaitility.Awaitility.await;

/**
 * Runs real agents against a real etcd and real loop devices, playing the controller by writing
 * pool configs and work items directly. Everything it attaches under its directory is detached
 * again in {@link #close()}, also after a failed test.
 *
 * <p>Registered as an extension it is closed after each test:
 * <pre>{@code
 * @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();
 * @RegisterExtension final AgentHarness h = AgentHarness.withFilePool(etcd, "files");
 * }</pre>
 */
public final class AgentHarness implements AutoCloseable, AfterEachCallback {

    public static final String NODE = "node-a";
    /** The file pool most tests give their volumes. */
    public static final String FILES = "files";

    public final Path root;
    public final Path poolDir;
    public final Path stateDir;
    public final EtcdOptions etcdOptions;
    public final EtcdStore store;
    public final FerryKeys keys;
    private volatile Vertx vertx;
    private volatile Agent agent;
    private boolean closed;

    /** A harness whose cluster exists: it writes the cluster id as the first controller would. */
    public AgentHarness(EtcdOptions etcdOptions) {
        this(etcdOptions, true);
    }

    /** A harness whose cluster exists, under a key prefix of its own in {@code etcd}. */
    public AgentHarness(EtcdExtension etcd) {
        this(etcd.options(EtcdExtension.uniquePrefix()));
    }

    /** A harness under a key prefix of its own whose cluster exists and has a file pool {@code pool}. */
    public static AgentHarness withFilePool(EtcdExtension etcd, String pool) {
        AgentHarness harness = new AgentHarness(etcd);
        harness.filePool(pool);
        return harness;
    }

    /** @param createCluster false to leave {@code <prefix>/config/cluster} absent, as before any controller ran */
    public AgentHarness(EtcdOptions etcdOptions, boolean createCluster) {
        try {
            this.root = Files.createTempDirectory("ferry-agent-it-");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        this.poolDir = root.resolve("pool");
        this.stateDir = root.resolve("state");
        this.etcdOptions = etcdOptions;
        this.store = EtcdStore.connect(etcdOptions);
        this.keys = store.keys();
        if (createCluster) {
            createCluster();
        }
    }

    /** Creates the cluster id if absent, as the first controller or ferry up does; returns the stored one. */
    public ClusterIdentity createCluster() {
        return Await.result(ClusterIdentities.ensure(store, Instant.now()));
    }

    /** Deploys an agent without waiting for its start to complete (it may be waiting for the cluster id). */
    public Agent startInBackground() {
        vertx = Vertx.vertx();
        agent = new Agent(options(), etcdOptions, new ProcessCommandRunner(),
                new PrometheusMeterRegistry(PrometheusConfig.DEFAULT), null);
        vertx.deployVerticle(agent);
        return agent;
    }

    public AgentOptions options() {
        return AgentOptions.defaults(NODE, "127.0.0.1", stateDir)
                .withHostNqnFile(root.resolve("no-hostnqn"))
                .withNvmetRoot(root.resolve("no-nvmet"))
                .withIntervals(Duration.ofSeconds(1), Duration.ofSeconds(2));
    }

    public Agent start() {
        return start(new ProcessCommandRunner(), options());
    }

    public Agent start(CommandRunner runner, AgentOptions options) {
        return start(runner, options, new VertxOptions());
    }

    public Agent start(CommandRunner runner, AgentOptions options, VertxOptions vertxOptions) {
        vertx = Vertx.vertx(vertxOptions);
        agent = new Agent(options, etcdOptions, runner, new PrometheusMeterRegistry(PrometheusConfig.DEFAULT), null);
        Await.result(vertx.deployVerticle(agent));
        return agent;
    }

    public Vertx vertx() {
        return vertx;
    }

    public Agent agent() {
        return agent;
    }

    /** A kill -9 as far as etcd and the node can tell: no cleanup, the lease simply stops. */
    public void crash() {
        agent.simulateCrash();
        Vertx v = vertx;
        vertx = null;
        agent = null;
        v.close();
    }

    public void stop() {
        if (vertx != null) {
            Await.result(vertx.close());
            vertx = null;
            agent = null;
        }
    }

    public PoolConfig filePool(String name) {
        return filePool(name, poolDir);
    }

    /** A file pool over any directory: another harness's, to play a second cluster on the same host. */
    public PoolConfig filePool(String name, Path directory) {
        PoolConfig pool = PoolConfig.builder(name, NODE, Engine.FILE, PoolSource.directory(directory.toString()))
                .prepare(true).build();
        Await.result(store.put(keys.poolConfig(name), pool));
        return pool;
    }

    /**
     * The controller's work: the volume's placement and its work item, in one transaction as the
     * controller writes them (the agent carries out only work a placement accounts for).
     */
    public void putWork(WorkItem item) {
        VolumeSource source = item.source();
        Placement placement = Placement.of(item.volume(), item.pool(), item.node(),
                item.engine(), item.sizeBytes(), item.thin(), item.generation(), null,
                source == null ? null : source.snapshot(), source == null ? null : source.volume(), Instant.now());
        Await.result(store.txn().put(keys.placement(item.volume()), placement)
                .put(keys.workItem(item.node(), item.volume()), item).commit());
    }

    /** A work item alone, as someone other than the controller would write it. */
    public void putWorkWithoutPlacement(WorkItem item) {
        Await.result(store.put(keys.workItem(item.node(), item.volume()), item));
    }

    /** The controller's deletion order: the volume's work item rewritten with deletionRequested. */
    public void orderDeletion(String volume) {
        WorkItem live = Await.result(store.get(keys.workItem(NODE, volume), WorkItem.class)).orElseThrow().value();
        Await.result(store.put(keys.workItem(NODE, volume), live.deletion(live.generation() + 1)));
    }

    /**
     * The controller's side of a whole deletion: the order, the agent's acknowledgement (a Deleted
     * status of the order's generation), then the order withdrawn, after which the agent drops its status.
     */
    public void deleteVolume(String volume) {
        orderDeletion(volume);
        awaitDeletedAndWithdraw(volume);
    }

    public void awaitDeletedAndWithdraw(String volume) {
        long order = Await.result(store.get(keys.workItem(NODE, volume), WorkItem.class)).orElseThrow().value().generation();
        await().atMost(Duration.ofSeconds(30)).until(() -> status(volume)
                .filter(s -> s.phase() == VolumePhase.DELETED && s.observedGeneration() >= order).isPresent());
        Await.result(store.delete(keys.workItem(NODE, volume)));
    }

    /** The same for a snapshot. */
    public void deleteSnapshot(String snapshot) {
        String key = keys.snapshotWorkItem(NODE, snapshot);
        SnapshotWorkItem live = Await.result(store.get(key, SnapshotWorkItem.class)).orElseThrow().value();
        SnapshotWorkItem order = live.deletion(live.generation() + 1);
        Await.result(store.put(key, order));
        await().atMost(Duration.ofSeconds(30)).until(() -> Await.result(store.get(keys.snapshotStatus(NODE, snapshot),
                SnapshotStatus.class)).map(Versioned::value)
                .filter(s -> s.phase() == VolumePhase.DELETED && s.observedGeneration() >= order.generation()).isPresent());
        Await.result(store.delete(key));
    }

    public Optional<VolumeStatus> status(String volume) {
        return Await.result(store.get(keys.volumeStatus(NODE, volume), VolumeStatus.class)).map(Versioned::value);
    }

    /** Waits until the volume is Ready at {@code generation} or later; returns that status. */
    public VolumeStatus awaitReady(String volume, long generation) {
        await().atMost(Duration.ofSeconds(30)).until(() -> status(volume)
                .filter(s -> s.phase() == VolumePhase.READY && s.observedGeneration() >= generation).isPresent());
        return status(volume).orElseThrow();
    }

    /** Waits until the volume is Ready at any generation; returns that status. */
    public VolumeStatus awaitReady(String volume) {
        return awaitReady(volume, 0);
    }

    /**
     * Has a 16 MiB volume created in the pool {@link #FILES}, waits until it is Ready and writes its
     * first MiB through its device, bytes drawn from the volume's name; returns its image file.
     */
    public Path createAndFill(String volume) throws IOException {
        putWork(WorkItem.of(volume, NODE, FILES, Engine.FILE, 16 * Sizes.MIB, true, 1, null, null));
        TestDisks.writeFirstMiB(awaitReady(volume).devicePath(), volume.hashCode());
        return poolDir.resolve(volume + ".img");
    }

    /** What the agent reports as orphans on its node now. */
    public List<Orphan> orphans() {
        return Await.result(store.get(keys.orphans(NODE), OrphanReport.class))
                .map(v -> v.value().orphans()).orElse(List.of());
    }

    /** The reported orphan whose volume tag is {@code volume}, if there is one. */
    public Optional<Orphan> orphan(String volume) {
        return orphans().stream().filter(o -> volume.equals(o.volumeTag())).findFirst();
    }

    /** Writes the order as ferryctl orphan rm does, and waits for the agent's answer. */
    public OrphanRemovalResult removeOrphan(String id, String object) {
        Await.result(store.put(keys.orphanRemoval(NODE, id), OrphanRemoval.of(id, NODE, object, "test", Instant.now())));
        return awaitAnswer(keys.orphanRemovalResult(NODE, id), OrphanRemovalResult.class);
    }

    /** Writes the order as ferryctl orphan adopt does, and waits for the agent's answer. */
    public OrphanAdoptionResult adoptOrphan(String id, String object) {
        Await.result(store.put(keys.orphanAdoption(NODE, id), OrphanAdoption.of(id, NODE, object, "test", Instant.now())));
        return awaitAnswer(keys.orphanAdoptionResult(NODE, id), OrphanAdoptionResult.class);
    }

    private <T> T awaitAnswer(String key, Class<T> type) {
        await().atMost(Duration.ofSeconds(30)).until(() -> Await.result(store.getRaw(key)).isPresent());
        return Await.result(store.get(key, type)).orElseThrow().value();
    }

    /** Loop devices whose backing file lies in this harness's directory tree. */
    public List<LoopDevices.Loop> loops() {
        return new LoopDevices(new ProcessCommandRunner(), Duration.ofSeconds(10)).all().stream()
                .filter(l -> l.backingFile().startsWith(root.toString())).toList();
    }

    /** The pool directory's files, without the emptied spares the file engine keeps for reuse. */
    public List<String> poolFiles() throws IOException {
        return filesOfPool().stream().filter(name -> !name.startsWith(".spare-") && !name.equals(PoolMarker.FILE_NAME))
                .toList();
    }

    public List<String> spareFiles() throws IOException {
        return filesOfPool().stream().filter(name -> name.startsWith(".spare-")).toList();
    }

    private List<String> filesOfPool() throws IOException {
        if (!Files.isDirectory(poolDir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(poolDir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Override
    public void afterEach(ExtensionContext context) throws IOException {
        close();
    }

    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        try {
            stop();
        } catch (RuntimeException e) {
            // Keep cleaning up.
        }
        LoopDevices devices = new LoopDevices(new ProcessCommandRunner(), Duration.ofSeconds(10));
        for (LoopDevices.Loop loop : loops()) {
            try {
                devices.detach(loop.device(), null);
            } catch (RuntimeException e) {
                // Reported by the next test's leak check rather than hiding this test's failure.
            }
        }
        store.close();
        try (Stream<Path> s = Files.walk(root)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
