package io.ferry.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.ferry.agent.engine.FileEngine;
import io.ferry.agent.engine.SpdkEngine;
import io.ferry.agent.engine.VolumeEngine;
import io.ferry.agent.export.Exporter;
import io.ferry.agent.export.NvmetExporter;
import io.ferry.agent.export.SpdkExporter;
import io.ferry.etcd.EtcdOptions;
import io.ferry.etcd.FerryKeys;
import io.ferry.model.Condition;
import io.ferry.model.ExportTarget;
import io.ferry.model.NodeReason;
import io.ferry.runtime.informer.Informer;
import io.ferry.runtime.informer.InformerHandler;
import io.ferry.runtime.informer.InformerOptions;
import io.ferry.runtime.informer.LeasedKey;
import io.ferry.runtime.reconcile.ReconcileRuntime;
import io.ferry.runtime.reconcile.RuntimeOptions;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.runtime.lease.LeaseSession;
import io.ferry.etcd.store.RawEntry;
import io.ferry.etcd.store.Versioned;
import io.ferry.etcd.ClusterIdentities;
import io.ferry.model.ClusterIdentity;
import io.ferry.model.Engine;
import io.ferry.model.GlobalConfig;
import io.ferry.model.KeyLayout;
import io.ferry.model.NodeRegistration;
import io.ferry.model.PoolConfig;
import io.ferry.model.SnapshotStatus;
import io.ferry.model.SnapshotWorkItem;
import io.ferry.model.ValidationException;
import io.ferry.model.VolumePhase;
import io.ferry.model.VolumeStatus;
import io.ferry.model.WorkItem;
import io.ferry.runtime.admin.AdminOptions;
import io.ferry.runtime.admin.AdminServer;
import io.ferry.runtime.exec.CommandRunner;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import java.util.EnumSet;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import io.ferry.model.HostSecret;
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
    private static final ObjectMapper JSON = new ObjectMapper();

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
    private AdminServer admin;
    private String hostNqn;
    private HostKeyFile.Pair hostKeys;
    private HostAuth hostAuth;
    private String machineId;
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
        hostKeys = HostKeyFile.ensure(
                options.stateDir().resolve(HostKeyFile.FILE_NAME), Instant.now());
        machineId = MachineId.resolve(options.machineId(), MachineId.BOOT_ID);
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
        ctx.volumeRuntime = new ReconcileRuntime(vertx, "agent-volumes", options.node(), volumes::reconcile,
                runtimeOptions, registry);
        ctx.snapshotRuntime = new ReconcileRuntime(vertx, "agent-snapshots", options.node(), snapshots::reconcile,
                runtimeOptions, registry);
        ctx.poolRuntime = new ReconcileRuntime(vertx, "agent-pools", options.node(), poolReconciler::reconcile,
                runtimeOptions.withConcurrency(2), registry);
        InformerOptions informerOptions = InformerOptions.defaults();
        String node = options.node();
        ctx.volumeStatuses = new Informer<>(vertx, store, keys.volumeStatuses(node), VolumeStatus.class,
                new StatusHandler<>(ctx.volumeRuntime), informerOptions, registry);
        ctx.snapshotStatuses = new Informer<>(vertx, store, keys.snapshotStatuses(node), SnapshotStatus.class,
                new StatusHandler<>(ctx.snapshotRuntime), informerOptions, registry);
        ctx.pools = new Informer<>(vertx, store, keys.poolConfigs(), PoolConfig.class, new PoolHandler(),
                informerOptions, registry);
        ctx.work = new WorkItems<>("volume work", new Informer<>(vertx, store, keys.workItems(node), WorkItem.class,
                new WorkHandler(), informerOptions, registry), v -> keys.workItem(node, v),
                new Informer<>(vertx, store, keys.legacyWorkItems(node), WorkItem.class,
                        new LegacyHandler<>(new WorkHandler()), informerOptions, registry),
                v -> keys.legacyWorkItem(node, v), WorkItem::volume);
        ctx.snapshotWork = new WorkItems<>("snapshot work", new Informer<>(vertx, store, keys.snapshotWorkItems(node),
                SnapshotWorkItem.class, new SnapshotWorkHandler(), informerOptions, registry),
                s -> keys.snapshotWorkItem(node, s),
                new Informer<>(vertx, store, keys.legacySnapshotWorkItems(node), SnapshotWorkItem.class,
                        new LegacyHandler<>(new SnapshotWorkHandler()), informerOptions, registry),
                s -> keys.legacySnapshotWorkItem(node, s), SnapshotWorkItem::snapshot);
        String layoutKey = keys.keyLayout();
        keyLayout = new Informer<>(vertx, store, layoutKey, key -> key.equals(layoutKey) ? KeyLayout.class : null,
                new InformerHandler<>() {
                    @Override
                    public void onUpsert(Versioned<KeyLayout> current, Versioned<KeyLayout> previous) {
                        if (current.value().migrated()) {
                            retireLegacyWork();
                        }
                    }

                    @Override
                    public void onDelete(String key, Versioned<KeyLayout> lastKnown) {
                        // Once retired, the layout-1 places stay unread: a deleted layout key does
                        // not make this node's own prefix a source of work again.
                    }
                }, informerOptions, registry);

        return startAdmin()
                .compose(v -> awaitClusterIdentity())
                .compose(id -> {
                    ctx.cluster = id;
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
                    hostAuth = new HostAuth(vertx, store, node, HostSecret.of(node, hostNqn,
                            hostKeys.generation(), hostKeys.hostKey(), hostKeys.ctrlKey(), hostKeys.createdAt()),
                            global.nvmeAuth(), this::reconcileExports, informerOptions, registry);
                    ctx.exporter = exporter(global);
                    ctx.spdkExporter = spdkExporter(global);
                    return hostAuth.start();
                })
                .compose(v -> Future.all(ctx.volumeStatuses.start(), ctx.snapshotStatuses.start(), ctx.pools.start()))
                .compose(v -> orphans.removeLeftovers())
                // The layout is read before any work: a migrated cluster's layout-1 places are never read.
                .compose(v -> keyLayout.start())
                .compose(v -> Future.all(ctx.work.start(), ctx.snapshotWork.start()))
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

    /**
     * The cluster's identity, waited for while it does not exist (a new cluster whose first
     * controller has not started yet). A malformed value fails the start: guessing or replacing it
     * would disown every volume marked with the real one.
     */
    private Future<ClusterIdentity> awaitClusterIdentity() {
        Promise<ClusterIdentity> found = Promise.promise();
        tryClusterIdentity(found, true);
        return found.future();
    }

    private void tryClusterIdentity(Promise<ClusterIdentity> found, boolean first) {
        if (stopping) {
            found.tryFail("the agent is stopping");
            return;
        }
        ClusterIdentities.read(store).onComplete(ar -> {
            if (ar.succeeded() && ar.result().isPresent()) {
                found.tryComplete(ar.result().get());
            } else if (ar.failed() && ar.cause() instanceof ClusterIdentities.Unusable) {
                found.tryFail(ar.cause());
            } else {
                if (first) {
                    log.warn("waiting for {} ({}): it is created by the first controller or by ferry up; until it"
                            + " exists this agent creates, adopts and deletes nothing", store.keys().clusterIdentity(),
                            ar.failed() ? ar.cause().getMessage() : "absent");
                }
                vertx.setTimer(1000, t -> tryClusterIdentity(found, false));
            }
        });
    }

    /** Every volume whose work item asks for an export: the keys or the auth setting they depend on changed. */
    private void reconcileExports() {
        if (ctx.work == null) {
            return;
        }
        for (Versioned<WorkItem> item : ctx.work.values()) {
            if (item.value().export() != null) {
                ctx.volumeRuntime.enqueue(item.value().volume());
            }
        }
    }

    private Exporter exporter(GlobalConfig global) {
        NvmetExporter nvmet = new NvmetExporter(options.nvmetRoot(), global.nqnPrefix(), ctx.cluster.id(), options.dataAddress(),
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
        return new SpdkExporter(spdk.client(), global.nqnPrefix(), ctx.cluster.id(), options.dataAddress(), port,
                spdk::available, hostAuth, options.stateDir().resolve(SpdkExporter.KEY_DIR));
    }

    /** Enqueues what the informers alone would not: statuses left without work, and pool timers. */
    private void afterSync() {
        for (Versioned<VolumeStatus> s : ctx.volumeStatuses.values()) {
            ctx.volumeRuntime.enqueue(s.value().volume());
        }
        for (Versioned<SnapshotStatus> s : ctx.snapshotStatuses.values()) {
            ctx.snapshotRuntime.enqueue(s.value().snapshot());
        }
        enqueuePools();
        timers.add(vertx.setPeriodic(options.poolInterval().toMillis(), t -> enqueuePools()));
        runOrphanScan();
        timers.add(vertx.setPeriodic(options.orphanInterval().toMillis(), t -> runOrphanScan()));
    }

    private void enqueuePools() {
        for (PoolConfig p : ctx.ownPools()) {
            ctx.poolRuntime.resync(p.name());
        }
        for (String bad : ctx.badPoolConfigs.keySet()) {
            ctx.poolRuntime.resync(bad);
        }
    }

    private void runOrphanScan() {
        orphans.scan().onFailure(err -> log.warn("inventory of node {} failed: {}", options.node(), err.getMessage()));
    }

    private NodeRegistration registrationValue() {
        Set<ExportTarget> exporters = EnumSet.noneOf(ExportTarget.class);
        if (ctx.exporter != null && ctx.exporter.available()) {
            exporters.add(ExportTarget.NVMET);
        }
        if (ctx.spdkExporter != null && ctx.spdkExporter.available()) {
            exporters.add(ExportTarget.SPDK);
        }
        Set<Engine> engines = engines();
        // The scheduler places a volume for another node's consumer only where it can be exported.
        return NodeRegistration.of(options.node(), options.dataAddress(),
                admin == null || admin.port() < 0 ? null : adminAddress(), hostNqn, engines, options.labels(),
                options.version(), startedAt).withExporters(exporters).withMachineId(machineId)
                .withConditions(capabilities(exporters, engines, ctx.spdkExporter != null, Instant.now()));
    }

    /**
     * What the node can do, as conditions with typed reasons: whether it can export (and with which
     * target, or why not) and which engines it found. A node's capabilities are measured when its
     * registration is written, so every condition changed then.
     */
    static List<Condition> capabilities(Set<ExportTarget> exporters, Set<Engine> engines,
            boolean spdkConfigured, Instant now) {
        Condition canExport;
        if (exporters.contains(ExportTarget.NVMET)) {
            canExport = Condition.of(Condition.CAN_EXPORT, true,
                    NodeReason.NVMET_LOADED, exporters.contains(ExportTarget.SPDK)
                            ? "kernel nvmet and the SPDK target" : "kernel nvmet");
        } else if (exporters.contains(ExportTarget.SPDK)) {
            canExport = Condition.of(Condition.CAN_EXPORT, true,
                    NodeReason.SPDK_RUNNING, "the SPDK target (kernel nvmet is not loaded)");
        } else if (spdkConfigured && engines.equals(Set.of(Engine.SPDK))) {
            canExport = Condition.of(Condition.CAN_EXPORT, false,
                    NodeReason.SPDK_NOT_RUNNING, "the SPDK target does not answer; volumes of this node"
                            + " serve only consumers on it");
        } else {
            canExport = Condition.of(Condition.CAN_EXPORT, false,
                    NodeReason.NVMET_NOT_LOADED, "kernel nvmet is not loaded (modprobe nvmet nvmet-tcp)"
                            + (spdkConfigured ? " and the SPDK target does not answer" : "")
                            + "; volumes of this node serve only consumers on it");
        }
        Condition available = engines.isEmpty()
                ? Condition.of(Condition.ENGINES_AVAILABLE, false,
                        NodeReason.NO_ENGINE, "no engine's tools or socket were found")
                : Condition.of(Condition.ENGINES_AVAILABLE, true,
                        NodeReason.ENGINES_PROBED, engines.stream().map(Engine::value).sorted()
                                .collect(Collectors.joining(", ")));
        return Condition.carryTransitions(List.of(), List.of(canExport, available), now);
    }

    private String adminAddress() {
        String host = options.adminHost().contains(":") ? "[" + options.adminHost() + "]" : options.adminHost();
        return host + ":" + admin.port();
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

    private Future<Void> startAdmin() {
        if (options.adminPort() < 0) {
            return Future.succeededFuture();
        }
        admin = new AdminServer(vertx, new AdminOptions(options.adminHost(), options.adminPort(), null), registry,
                this::readiness);
        AdminApi.install(admin.router(), ctx, orphans);
        return admin.start().mapEmpty();
    }

    private AdminServer.Readiness readiness() {
        if (ctx.cluster == null) {
            return new AdminServer.Readiness(false, "waiting for the cluster id at " + store.keys().clusterIdentity()
                    + " (created by the first controller or ferry up)");
        }
        if (registration == null || !registration.present()) {
            return new AdminServer.Readiness(false, "the registration " + store.keys().registration(options.node())
                    + " is not in etcd with this agent's lease (yet)");
        }
        if (!ctx.work.synced() || !ctx.pools.synced()) {
            return new AdminServer.Readiness(false, "informers are not synced with etcd");
        }
        return new AdminServer.Readiness(true, "registered as " + options.node());
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
        return Future.all(ctx.volumeRuntime.idle(), ctx.snapshotRuntime.idle(), ctx.poolRuntime.idle())
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
        for (AutoCloseable c : new AutoCloseable[] {orphanOrders, keyLayout, ctx.work, ctx.snapshotWork, ctx.pools, ctx.volumeStatuses,
                ctx.snapshotStatuses, ctx.volumeRuntime, ctx.snapshotRuntime, ctx.poolRuntime}) {
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

    // ---- informer handlers: quick, on the agent's context, only enqueue ----

    /** The cluster finished moving to key layout 2: from now on work comes only from {@code work/<node>/}. */
    private void retireLegacyWork() {
        if (ctx.work.readingLegacy() || ctx.snapshotWork.readingLegacy()) {
            log.info("key layout {} recorded at {}: node {} reads work only from {}", KeyLayout.CURRENT,
                    ctx.keys.keyLayout(), ctx.node, ctx.keys.work(ctx.node));
        }
        ctx.work.legacyRetired(ctx.volumeRuntime::enqueue);
        ctx.snapshotWork.legacyRetired(ctx.snapshotRuntime::enqueue);
    }

    /**
     * Work read from its layout-1 place. A delete there is not passed on: the controller's migration
     * deletes a key only after copying it to the layout-2 place, whose watch may deliver the copy
     * later, and reconciling in between would find no work at all. A key of the old layout deleted
     * for good (an older controller releasing a volume) is removed with the volume's status, whose
     * own event reconciles the volume.
     */
    private static final class LegacyHandler<T> implements InformerHandler<T> {
        private final InformerHandler<T> delegate;

        LegacyHandler(InformerHandler<T> delegate) {
            this.delegate = delegate;
        }

        @Override
        public void onUpsert(Versioned<T> current, Versioned<T> previous) {
            delegate.onUpsert(current, previous);
        }

        @Override
        public void onDelete(String key, Versioned<T> lastKnown) {
        }

        @Override
        public void onBadValue(RawEntry raw, ValidationException error) {
            delegate.onBadValue(raw, error);
        }
    }

    private final class WorkHandler implements InformerHandler<WorkItem> {
        @Override
        public void onUpsert(Versioned<WorkItem> current, Versioned<WorkItem> previous) {
            volumes.badWorkItems.remove(current.value().volume());
            ctx.volumeRuntime.enqueue(current.value().volume());
        }

        @Override
        public void onDelete(String key, Versioned<WorkItem> lastKnown) {
            String volume = NodeContext.lastSegment(key);
            volumes.badWorkItems.remove(volume);
            ctx.volumeRuntime.enqueue(volume);
        }

        @Override
        public void onBadValue(RawEntry raw, ValidationException error) {
            String volume = NodeContext.lastSegment(raw.key());
            volumes.badWorkItems.put(volume, error.getMessage());
            ctx.volumeRuntime.enqueue(volume);
        }
    }

    private final class SnapshotWorkHandler implements InformerHandler<SnapshotWorkItem> {
        @Override
        public void onUpsert(Versioned<SnapshotWorkItem> current, Versioned<SnapshotWorkItem> previous) {
            snapshots.badWorkItems.remove(current.value().snapshot());
            ctx.snapshotRuntime.enqueue(current.value().snapshot());
        }

        @Override
        public void onDelete(String key, Versioned<SnapshotWorkItem> lastKnown) {
            ctx.snapshotRuntime.enqueue(NodeContext.lastSegment(key));
        }

        @Override
        public void onBadValue(RawEntry raw, ValidationException error) {
            String snapshot = NodeContext.lastSegment(raw.key());
            snapshots.badWorkItems.put(snapshot, error.getMessage());
            ctx.snapshotRuntime.enqueue(snapshot);
        }
    }

    /** Someone else changing or deleting our status key: reconcile, which rewrites it if needed. */
    private final class StatusHandler<T> implements InformerHandler<T> {
        private final ReconcileRuntime runtime;

        StatusHandler(ReconcileRuntime runtime) {
            this.runtime = runtime;
        }

        @Override
        public void onUpsert(Versioned<T> current, Versioned<T> previous) {
            Optional<Object> mine = statuses.last(current.key());
            if (mine.isPresent() && !statuses.isMine(current.key(), current.value(), current.modRevision())) {
                statuses.forget(current.key());
                runtime.enqueue(NodeContext.lastSegment(current.key()));
            }
        }

        @Override
        public void onDelete(String key, Versioned<T> lastKnown) {
            Optional<Object> mine = statuses.last(key);
            if (mine.isPresent()) {
                statuses.forget(key);
                if (mine.get() instanceof VolumeStatus acknowledgement && acknowledgement.phase() == VolumePhase.DELETED) {
                    volumes.acknowledgementTaken(acknowledgement);
                }
                runtime.enqueue(NodeContext.lastSegment(key));
            }
        }
    }

    private final class PoolHandler implements InformerHandler<PoolConfig> {
        @Override
        public void onUpsert(Versioned<PoolConfig> current, Versioned<PoolConfig> previous) {
            PoolConfig pool = current.value();
            boolean mine = pool.node().equals(options.node());
            boolean wasMine = previous != null && previous.value().node().equals(options.node());
            ctx.badPoolConfigs.remove(pool.name());
            if (mine || wasMine || ctx.badPoolConfigs.containsKey(pool.name())) {
                ctx.poolRuntime.enqueue(pool.name());
            }
            if (mine) {
                // Volumes and snapshots waiting for this pool (or failed on its old config) get another chance.
                for (Versioned<WorkItem> w : ctx.work == null ? List.<Versioned<WorkItem>>of() : ctx.work.values()) {
                    if (w.value().pool().equals(pool.name())) {
                        ctx.volumeRuntime.enqueue(w.value().volume());
                    }
                }
                for (Versioned<SnapshotWorkItem> w : ctx.snapshotWork == null ? List.<Versioned<SnapshotWorkItem>>of()
                        : ctx.snapshotWork.values()) {
                    if (w.value().pool().equals(pool.name())) {
                        ctx.snapshotRuntime.enqueue(w.value().snapshot());
                    }
                }
            }
        }

        @Override
        public void onDelete(String key, Versioned<PoolConfig> lastKnown) {
            String pool = NodeContext.lastSegment(key);
            if (lastKnown == null || lastKnown.value().node().equals(options.node())
                    || ctx.badPoolConfigs.containsKey(pool)) {
                ctx.badPoolConfigs.remove(pool);
                ctx.poolRuntime.enqueue(pool);
            }
        }

        @Override
        public void onBadValue(RawEntry raw, ValidationException error) {
            String pool = NodeContext.lastSegment(raw.key());
            // Only the node named in the broken value reports it; peek at that one field.
            String named = null;
            try {
                JsonNode tree = JSON.readTree(raw.value());
                named = tree.path("node").asText(null);
            } catch (Exception e) {
                // Not even JSON: nobody can tell whose pool it is.
            }
            if (options.node().equals(named)) {
                ctx.badPoolConfigs.put(pool, error.getMessage());
                ctx.poolRuntime.enqueue(pool);
            }
        }
    }
}
