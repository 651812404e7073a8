package io.ferry.agent;

import io.ferry.agent.engine.FileEngine;
import io.ferry.agent.engine.SpdkEngine;
import io.ferry.agent.engine.VolumeEngine;
import io.ferry.agent.export.Exporter;
import io.ferry.agent.export.NvmetExporter;
import io.ferry.agent.export.SpdkExporter;
import io.ferry.etcd.EtcdOptions;
import io.ferry.etcd.FerryKeys;
import io.ferry.runtime.informer.Informer;
import io.ferry.runtime.informer.InformerOptions;
import io.ferry.runtime.informer.LeasedKey;
import io.ferry.runtime.reconcile.ReconcileRuntime;
import io.ferry.runtime.reconcile.RuntimeOptions;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.runtime.lease.LeaseSession;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.Engine;
import io.ferry.model.GlobalConfig;
import io.ferry.model.KeyLayout;
import io.ferry.model.NodeRegistration;
import io.ferry.model.PoolConfig;
import io.ferry.model.SnapshotStatus;
import io.ferry.model.SnapshotWorkItem;
import io.ferry.model.VolumeStatus;
import io.ferry.model.WorkItem;
import io.ferry.runtime.exec.CommandRunner;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import io.ferry.runtime.auth.HostKeyFile;

/**
 * One storage node's agent. Deploy it as a verticle (or run {@link AgentMain}); everything it does
 * happens on its context or on worker threads.
 *
 * <p>Start-up order matters for crash safety: nothing is inventoried, created, adopted or deleted
 * before the agent knows its cluster's id ({@code <prefix>/config/cluster}), which every ownership
 * marker carries; it waits for the key (readiness false, saying so) and stops on a malformed one.
 * Then the status informers are synced before anything else, because a status key is the agent's record of what it served; leftovers of interrupted
 * operations are removed before any reconcile can run; only then do the work informers start,
 * which feed the reconcile runtimes.
 */
public final class Agent extends VerticleBase {

    private static final Logger log = LoggerFactory.getLogger(Agent.class);

    private final AgentOptions options;
    private final EtcdOptions etcdOptions;
    private final CommandRunner runner;
    private final PrometheusMeterRegistry registry;
    private final Function<AgentMetrics, Map<Engine, VolumeEngine>> engineFactory;
    private final Instant startedAt = Clock.now();

    private EtcdStore store;
    private NodeContext ctx;
    private StatusWriter statuses;
    private VolumeReconciler volumes;
    private SnapshotReconciler snapshots;
    private PoolReconciler poolReconciler;
    private OrphanScanner orphans;
    private LeaseSession lease;
    private AgentAdmin admin;
    private String hostNqn;
    private HostAuth hostAuth;
    private NodeRegistrations registrations;
    private Map<Engine, VolumeEngine> engines;
    private LeasedKey<NodeRegistration> registration;
    private volatile boolean crashed;
    private volatile boolean stopping;
    private OrphanOrders orphanOrders;
    /** Watches the cluster's key layout while work is also read from its layout-1 place. */
    private Informer<KeyLayout> keyLayout;
    private final List<Long> timers = new ArrayList<>();

    public Agent(AgentOptions options, EtcdOptions etcdOptions, CommandRunner runner) {
        this(options, etcdOptions, runner, new PrometheusMeterRegistry(PrometheusConfig.DEFAULT), null);
    }

    /**
     * @param engineFactory builds the engines from the metrics; null for the standard set (file,
     *                      LVM, LVM thin, SPDK, each offered only where its tools exist)
     */
    public Agent(AgentOptions options, EtcdOptions etcdOptions, CommandRunner runner,
            PrometheusMeterRegistry registry, Function<AgentMetrics, Map<Engine, VolumeEngine>> engineFactory) {
        this.options = options;
        this.etcdOptions = etcdOptions;
        this.runner = runner;
        this.registry = registry;
        this.engineFactory = engineFactory != null ? engineFactory : this::standardEngines;
    }

    private Map<Engine, VolumeEngine> standardEngines(AgentMetrics metrics) {
        Map<Engine, VolumeEngine> engines = new EnumMap<>(Engine.class);
        engines.put(Engine.FILE, new FileEngine(new CountingCommandRunner(runner, "file", metrics),
                options.loopDevices()));
        engines.putAll(EngineSet.optional(options, runner, metrics));
        return engines;
    }

    /**
     * Everything that blocks (the etcd client's first request, engine probes, the host NQN file)
     * runs on a worker thread first: under an emulated CPU it took 10-20 s, and on the event loop
     * that let the lease expire before the first registration.
     */
    @Override
    public Future<?> start() {
        return vertx.executeBlocking(this::prepare, false)
                .compose(this::startOnContext)
                .onSuccess(v -> log.info("agent {} started: engines {}, host NQN {}", options.node(), engines(), hostNqn))
                .onFailure(err -> log.error("agent {} failed to start", options.node(), err));
    }

    private AgentMetrics prepare() throws Exception {
        store = EtcdStore.connectAndWarmUp(etcdOptions);
        AgentMetrics metrics = new AgentMetrics(registry, Path.of("/sys/block"));
        engines = engineFactory.apply(metrics);
        engines.values().forEach(VolumeEngine::available);
        hostNqn = HostNqn.resolve(options.hostNqnFile(), options.stateDir());
        HostKeyFile.ensure(options.stateDir().resolve(HostKeyFile.FILE_NAME), Instant.now());
        registrations = new NodeRegistrations(options, hostNqn,
                MachineId.resolve(options.machineId(), MachineId.BOOT_ID), startedAt);
        return metrics;
    }

    private Future<Void> startOnContext(AgentMetrics metrics) {
        FerryKeys keys = store.keys();
        ctx = new NodeContext(vertx, store, options.node(), engines, metrics);
        statuses = new StatusWriter(store);
        volumes = new VolumeReconciler(ctx, statuses);
        snapshots = new SnapshotReconciler(ctx, statuses);
        poolReconciler = new PoolReconciler(ctx, statuses);
        orphans = new OrphanScanner(ctx, statuses);
        orphanOrders = new OrphanOrders(ctx, registry);
        OrphanTargets orphanTargets = new OrphanTargets(ctx);
        OrphanRemovals removals = new OrphanRemovals(ctx, orphanTargets);
        OrphanAdoptions adoptions = new OrphanAdoptions(ctx, orphanTargets, statuses);
        RuntimeOptions runtimeOptions = RuntimeOptions.defaults().withConcurrency(options.concurrency());
        ReconcileRuntime volumeRuntime = new ReconcileRuntime(vertx, "agent-volumes", options.node(), volumes::reconcile,
                runtimeOptions, registry);
        ReconcileRuntime snapshotRuntime = new ReconcileRuntime(vertx, "agent-snapshots", options.node(),
                snapshots::reconcile, runtimeOptions, registry);
        ReconcileRuntime poolRuntime = new ReconcileRuntime(vertx, "agent-pools", options.node(), poolReconciler::reconcile,
                runtimeOptions.withConcurrency(2), registry);
        ctx.bindRuntimes(volumeRuntime, snapshotRuntime, poolRuntime);
        InformerOptions informerOptions = InformerOptions.defaults();
        String node = options.node();
        Informer<VolumeStatus> volumeStatuses = new Informer<>(vertx, store, keys.volumeStatuses(node), VolumeStatus.class,
                new StatusHandler<>(statuses, volumeRuntime::enqueue, volumes::acknowledgementTaken),
                informerOptions, registry);
        Informer<SnapshotStatus> snapshotStatuses = new Informer<>(vertx, store, keys.snapshotStatuses(node), SnapshotStatus.class,
                new StatusHandler<>(statuses, snapshotRuntime::enqueue, ack -> { }), informerOptions, registry);
        Informer<PoolConfig> pools = new Informer<>(vertx, store, keys.poolConfigs(), PoolConfig.class, new PoolHandler(node, ctx.badPoolConfigs,
                poolRuntime::enqueue, this::retryWorkOfPool), informerOptions, registry);
        WorkHandler<WorkItem> workHandler = new WorkHandler<>(ctx.badWork, WorkItem::volume,
                volumeRuntime::enqueue);
        WorkItems<WorkItem> work = new WorkItems<>("volume work", new Informer<>(vertx, store, keys.workItems(node), WorkItem.class,
                workHandler, informerOptions, registry), v -> keys.workItem(node, v),
                new Informer<>(vertx, store, keys.legacyWorkItems(node), WorkItem.class,
                        new LegacyWorkHandler<>(workHandler), informerOptions, registry),
                v -> keys.legacyWorkItem(node, v), WorkItem::volume);
        WorkHandler<SnapshotWorkItem> snapshotWorkHandler = new WorkHandler<>(ctx.badSnapshotWork,
                SnapshotWorkItem::snapshot, snapshotRuntime::enqueue);
        WorkItems<SnapshotWorkItem> snapshotWork = new WorkItems<>("snapshot work", new Informer<>(vertx, store, keys.snapshotWorkItems(node),
                SnapshotWorkItem.class, snapshotWorkHandler, informerOptions, registry),
                s -> keys.snapshotWorkItem(node, s),
                new Informer<>(vertx, store, keys.legacySnapshotWorkItems(node), SnapshotWorkItem.class,
                        new LegacyWorkHandler<>(snapshotWorkHandler), informerOptions, registry),
                s -> keys.legacySnapshotWorkItem(node, s), SnapshotWorkItem::snapshot);
        ctx.bindInformers(pools, work, snapshotWork, volumeStatuses, snapshotStatuses);
        String layoutKey = keys.keyLayout();
        keyLayout = new Informer<>(vertx, store, layoutKey, key -> key.equals(layoutKey) ? KeyLayout.class : null,
                new KeyLayoutHandler(this::retireLegacyWork), informerOptions, registry);

        admin = new AgentAdmin(vertx, options, registry, ctx, orphans, () -> registration != null && registration.present());
        return admin.start()
                .compose(v -> new ClusterIdentityWait(vertx, store, () -> stopping).await())
                .compose(id -> {
                    ctx.bindCluster(id);
                    engines.values().forEach(e -> e.bindCluster(id.id()));
                    log.info("agent {} belongs to cluster {}", node, id.id());
                    return store.get(keys.globalConfig(), GlobalConfig.class);
                })
                .map(v -> v.map(Versioned::value).orElse(GlobalConfig.defaults()))
                .recover(err -> {
                    log.warn("cannot read {} ({}); using the defaults", keys.globalConfig(), err.getMessage());
                    return Future.succeededFuture(GlobalConfig.defaults());
                })
                .compose(global -> {
                    // The pair is published and the copies for this node are read before any work:
                    // an export that needs one finds it at its first attempt.
                    hostAuth = new HostAuth(vertx, store, node, hostNqn,
                            options.stateDir().resolve(HostKeyFile.FILE_NAME), new LiveControllerKeys(options.nvmeSysfsRoot()),
                            global.nvmeAuth(), this::reconcileExports, informerOptions, registry);
                    ctx.bindExporters(exporter(global), spdkExporter(global));
                    hostAuth.serveWith(() -> Arrays.asList(ctx.exporter(), ctx.spdkExporter()));
                    return hostAuth.start();
                })
                .compose(v -> Future.all(ctx.volumeStatuses().start(), ctx.snapshotStatuses().start(), ctx.pools().start()))
                .compose(v -> orphans.removeLeftovers())
                // The layout is read before any work: a migrated cluster's layout-1 places are never read.
                .compose(v -> keyLayout.start())
                .compose(v -> Future.all(ctx.work().start(), ctx.snapshotWork().start()))
                .compose(v -> orphanOrders.start(removals.kind()))
                .compose(v -> orphanOrders.start(adoptions.kind()))
                .compose(v -> LeaseSession.open(vertx, store, options.leaseTtl(),
                        newLease -> registration.leaseChanged(), () -> { }))
                .compose(session -> {
                    lease = session;
                    registration = new LeasedKey<>(vertx, store, session, keys.registration(node),
                            NodeRegistration.class, informerOptions, registry);
                    return registration.start(registrationValue());
                })
                .onSuccess(v -> afterSync());
    }

    /** Every volume whose work item asks for an export: the keys or the auth setting they depend on changed. */
    private void reconcileExports() {
        if (ctx.work() == null) {
            return;
        }
        for (Versioned<WorkItem> item : ctx.work().values()) {
            if (item.value().export() != null) {
                ctx.volumeRuntime().enqueue(item.value().volume());
            }
        }
    }

    private Exporter exporter(GlobalConfig global) {
        NvmetExporter nvmet = new NvmetExporter(options.nvmetRoot(), global.nqnPrefix(), ctx.cluster().id(), options.dataAddress(),
                global.exportPortMin(), options.nvmetPortId(), hostAuth);
        return nvmet.available() ? nvmet : Exporter.none("kernel nvmet is not loaded (no " + options.nvmetRoot() + ")");
    }

    /**
     * SPDK exports listen on {@code exportPortMin + 1} when the port range allows it, so that the
     * kernel target and SPDK can both serve one node; with a one-port range they share
     * {@code exportPortMin}, which works only when just one of them exports.
     */
    private Exporter spdkExporter(GlobalConfig global) {
        if (!(ctx.engines.get(Engine.SPDK) instanceof SpdkEngine spdk)) {
            return Exporter.none("no SPDK engine on this node");
        }
        int port = global.exportPortMax() > global.exportPortMin() ? global.exportPortMin() + 1
                : global.exportPortMin();
        return new SpdkExporter(spdk.client(), global.nqnPrefix(), ctx.cluster().id(), options.dataAddress(), port,
                spdk::available, hostAuth, options.stateDir().resolve(SpdkExporter.KEY_DIR));
    }

    /** Enqueues what the informers alone would not: statuses left without work, and pool timers. */
    private void afterSync() {
        for (Versioned<VolumeStatus> s : ctx.volumeStatuses().values()) {
            ctx.volumeRuntime().enqueue(s.value().volume());
        }
        for (Versioned<SnapshotStatus> s : ctx.snapshotStatuses().values()) {
            ctx.snapshotRuntime().enqueue(s.value().snapshot());
        }
        enqueuePools();
        timers.add(vertx.setPeriodic(options.poolInterval().toMillis(), t -> enqueuePools()));
        runOrphanScan();
        timers.add(vertx.setPeriodic(options.orphanInterval().toMillis(), t -> runOrphanScan()));
    }

    private void enqueuePools() {
        for (PoolConfig p : ctx.ownPools()) {
            ctx.poolRuntime().resync(p.name());
        }
        for (String bad : ctx.badPoolConfigs.names()) {
            ctx.poolRuntime().resync(bad);
        }
    }

    private void runOrphanScan() {
        orphans.scan().onFailure(err -> log.warn("inventory of node {} failed: {}", options.node(), err.getMessage()));
    }

    private NodeRegistration registrationValue() {
        return registrations.value(ctx.exporter(), ctx.spdkExporter(), ctx.spdkExporter() != null, engines(),
                admin.registeredAddress());
    }

    /** Volumes and snapshots of a pool that just became this node's, or changed: they get another chance. */
    private void retryWorkOfPool(String pool) {
        for (Versioned<WorkItem> w : ctx.work() == null ? List.<Versioned<WorkItem>>of() : ctx.work().values()) {
            if (w.value().pool().equals(pool)) {
                ctx.volumeRuntime().enqueue(w.value().volume());
            }
        }
        for (Versioned<SnapshotWorkItem> w : ctx.snapshotWork() == null ? List.<Versioned<SnapshotWorkItem>>of()
                : ctx.snapshotWork().values()) {
            if (w.value().pool().equals(pool)) {
                ctx.snapshotRuntime().enqueue(w.value().snapshot());
            }
        }
    }

    /** Engines whose tools exist on this host: what the registration offers the scheduler. */
    public Set<Engine> engines() {
        Set<Engine> available = new TreeSet<>();
        engines.forEach((kind, engine) -> {
            if (engine.available()) {
                available.add(kind);
            }
        });
        return available;
    }

    /** The admin server's port, or -1. */
    public int adminPort() {
        return admin == null ? -1 : admin.port();
    }

    public String hostNqn() {
        return hostNqn;
    }

    /** Completes when no reconcile is queued, running or waiting; for tests and benchmarks. */
    public Future<Boolean> idle() {
        return Future.all(ctx.volumeRuntime().idle(), ctx.snapshotRuntime().idle(), ctx.poolRuntime().idle())
                .map(all -> all.<Boolean>list().stream().allMatch(b -> b));
    }

    /**
     * Makes the next stop behave like a killed process: no lease revocation, no status writes,
     * nothing but dropping the etcd connection. For crash-safety tests.
     */
    public void simulateCrash() {
        crashed = true;
    }

    @Override
    public Future<?> stop() {
        stopping = true;
        timers.forEach(vertx::cancelTimer);
        if (registration != null) {
            registration.close();
        }
        if (ctx == null) { // start failed before anything was built
            if (store != null) {
                store.close();
            }
            return Future.succeededFuture();
        }
        if (hostAuth != null) {
            hostAuth.close();
        }
        for (AutoCloseable c : new AutoCloseable[] {orphanOrders, keyLayout, ctx.work(), ctx.snapshotWork(), ctx.pools(), ctx.volumeStatuses(),
                ctx.snapshotStatuses(), ctx.volumeRuntime(), ctx.snapshotRuntime(), ctx.poolRuntime()}) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception e) {
                log.debug("close failed", e);
            }
        }
        Future<Void> revoked = crashed || lease == null ? Future.succeededFuture() : lease.revoke();
        Future<Void> adminClosed = crashed || admin == null ? Future.succeededFuture() : admin.close();
        return Future.join(revoked, adminClosed).eventually(() -> {
            store.close();
            return Future.succeededFuture();
        });
    }

    /** The cluster finished moving to key layout 2: from now on work comes only from {@code work/<node>/}. */
    private void retireLegacyWork() {
        if (ctx.work().readingLegacy() || ctx.snapshotWork().readingLegacy()) {
            log.info("key layout {} recorded at {}: node {} reads work only from {}", KeyLayout.CURRENT,
                    ctx.keys.keyLayout(), ctx.node, ctx.keys.work(ctx.node));
        }
        ctx.work().legacyRetired(ctx.volumeRuntime()::enqueue);
        ctx.snapshotWork().legacyRetired(ctx.snapshotRuntime()::enqueue);
    }

}
