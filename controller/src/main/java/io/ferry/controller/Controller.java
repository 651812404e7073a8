package io.ferry.controller;

import io.ferry.model.SnapshotScheduling;
import io.ferry.model.VolumeScheduling;
import io.ferry.placement.Scheduler;
import io.ferry.runtime.reconcile.ReconcileRuntime;
import io.ferry.etcd.store.Store;
import io.ferry.runtime.lease.LeaderElection;
import io.ferry.etcd.store.Leadership;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.ControllerLeader;
import io.ferry.model.Json;
import io.ferry.runtime.admin.AdminServer;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;

/**
 * The Ferry controller: informers over the cluster's keys, a leader election, and two reconcile
 * runtimes (volumes, snapshots) that only act while this instance leads. Standbys keep their
 * caches warm so that a takeover starts deciding at once.
 *
 * <p>Everything runs on one Vert.x context created at {@link #start()}, which is what lets the
 * cluster state and the serial commit lane live without locks.
 */
public final class Controller {

    private static final Logger log = LoggerFactory.getLogger(Controller.class);

    private final Vertx vertx;
    private final Store store;
    private final ControllerOptions options;
    private final PrometheusMeterRegistry registry;
    private final Clock clock;
    private Context context;
    private ClusterState state;
    private ReconcileRuntime volumeRuntime;
    private ReconcileRuntime snapshotRuntime;
    private VolumeReconciler volumes;
    private SnapshotReconciler snapshots;
    private LeaderElection election;
    private AdminServer admin;
    private ControllerMetrics metrics;
    private volatile Leadership leadership;
    private boolean capacityRetryPending;
    private boolean auditPending;
    private LedgerAudit ledgers;
    private LifecycleEvents events;
    private ConsoleStream consoleStream;
    private RewindHold rewindHold;
    private SecretDistributor secrets;
    private KeyRotations rotations;
    private volatile boolean stopRequested;
    private long resyncTimer = -1;
    private long gaugeTimer = -1;
    /**
     * Pool gauges are recomputed this often: capacity comes from agents' pool statuses and
     * allocation from ledgers, both of which change without any reconcile of the controller's own.
     */
    static final Duration GAUGE_INTERVAL = Duration.ofSeconds(5);

    public Controller(Vertx vertx, Store store, ControllerOptions options, PrometheusMeterRegistry registry) {
        this.vertx = vertx;
        this.store = store;
        this.options = options;
        this.registry = registry;
        this.clock = Clock.systemUTC();
    }

    public Future<Void> start() {
        context = vertx.getOrCreateContext();
        Promise<Void> started = Promise.promise();
        context.runOnContext(v -> doStart().onComplete(started));
        return started.future();
    }

    private Future<Void> doStart() {
        metrics = new ControllerMetrics(registry);
        metrics.leader(this::isLeader);
        SerialLane lane = new SerialLane();
        events = new LifecycleEvents(vertx, store, options.id(), clock, options.eventRetention(), this::currentLeadership,
                registry);
        state = new ClusterState(vertx, store, options.informers(), registry, new ClusterState.Listener() {
            @Override
            public void volumeChanged(String volume) {
                if (volume != null && volumeRuntime != null) {
                    volumeRuntime.enqueue(volume);
                }
            }

            @Override
            public void snapshotChanged(String snapshot) {
                if (snapshot != null && snapshotRuntime != null) {
                    snapshotRuntime.enqueue(snapshot);
                }
            }

            @Override
            public void capacityChanged() {
                retryWaitingSoon();
                // A pool removed from the config may leave its (empty) ledger behind.
                auditLedgersSoon();
            }

            @Override
            public void ledgerChanged(String pool) {
                auditLedgersSoon();
            }

            @Override
            public void valueChanged(Object before, Object after) {
                events.changed(before, after);
                if (consoleStream != null) {
                    consoleStream.changed();
                }
            }
        });
        rewindHold = new RewindHold(vertx, state.informers(), registry, clock, () -> {
            // Own writes from before the hold may belong to the lost history; etcd's view is complete now.
            state.forgetOwnWrites();
            reconcileEverything(false);
        });
        // Every decision writes through this view: a transaction decided before the hold began is
        // still refused while it lasts.
        Store decisions = store.holdingCommitsWhile(rewindHold::held);
        DecisionContext ctx = new DecisionContext(decisions, state, metrics, this::currentLeadership, clock);
        volumes = new VolumeReconciler(ctx, lane, new Scheduler(), key -> volumeRuntime.failedAttempts(key));
        ledgers = new LedgerAudit(ctx, lane);
        snapshots = new SnapshotReconciler(ctx, lane, key -> snapshotRuntime.failedAttempts(key));
        secrets = new SecretDistributor(vertx, store, decisions, this::currentLeadership, options.informers(), registry);
        rotations = new KeyRotations(vertx, store, decisions, this::currentLeadership, secrets, options.informers(),
                registry);
        volumeRuntime = new ReconcileRuntime(vertx, "volumes", volumes::reconcile, options.runtime(), registry);
        snapshotRuntime = new ReconcileRuntime(vertx, "snapshots", snapshots::reconcile, options.runtime(), registry);
        StartupWrites startup = new StartupWrites(vertx, store, clock, () -> stopRequested);
        return startup.clusterIdentity()
                .onSuccess(id -> log.info("cluster id {} ({})", id.id(), store.keys().clusterIdentity()))
                .compose(id -> startup.keyLayout())
                .compose(v -> state.start())
                .compose(v -> secrets.start())
                .compose(v -> rotations.start())
                .compose(v -> startAdmin())
                .compose(v -> {
                    String identity = Json.encodeToString(ControllerLeader.of(options.id(),
                            admin == null ? null : admin.url().replace("http://", ""), clock.instant()));
                    election = new LeaderElection(vertx, store, store.keys().controllerLeader(), identity, options.leaseTtl(),
                            new LeaderElection.Listener() {
                                @Override
                                public void onElected(Leadership won) {
                                    leadership = won;
                                    log.info("controller {} leads", options.id());
                                    state.forgetOwnWrites();
                                    reconcileEverything(false);
                                }

                                @Override
                                public void onDeposed() {
                                    leadership = null;
                                    state.forgetOwnWrites();
                                    events.deposed();
                                    log.warn("controller {} is no longer the leader", options.id());
                                }
                            });
                    resyncTimer = vertx.setPeriodic(options.resyncInterval().toMillis(), t -> reconcileEverything(true));
                    gauges();
                    gaugeTimer = vertx.setPeriodic(GAUGE_INTERVAL.toMillis(), t -> gauges());
                    return election.start();
                });
    }

    private void gauges() {
        metrics.pools(state.candidates());
        metrics.volumes(state.volumePhases());
        metrics.multiPart(PartsCensus.count(state.allParts(), v -> state.placement(v).map(Versioned::value),
                state::nodeAlive));
    }

    private Future<Void> startAdmin() {
        if (options.admin() == null) {
            return Future.succeededFuture();
        }
        admin = new AdminServer(vertx, options.admin(), registry, () -> {
            if (!state.synced()) {
                return new AdminServer.Readiness(false, "reading the cluster state from etcd");
            }
            Optional<String> held = rewindHold.held();
            if (held.isPresent()) {
                return new AdminServer.Readiness(false, held.get());
            }
            return new AdminServer.Readiness(true, isLeader() ? "leader" : "standby");
        });
        consoleStream = new ConsoleStream(vertx);
        new ControllerApi(state, volumes, ledgers, metrics, this::isLeader).mount(admin.router(), consoleStream, store);
        return admin.start().mapEmpty();
    }

    /**
     * The leadership a decision is taken under: none while this controller does not lead, nor while it
     * holds its decisions after etcd went back in time ({@link RewindHold}). Every reconciler asks
     * before deciding anything, and does nothing without it.
     */
    private Optional<Leadership> currentLeadership() {
        return rewindHold.holding() ? Optional.empty() : Optional.ofNullable(leadership);
    }

    public boolean isLeader() {
        return leadership != null;
    }

    /** The admin API's base URL, or null without an admin endpoint. */
    public String adminUrl() {
        return admin == null ? null : admin.url();
    }

    /** Queues every known volume and snapshot; a resync skips keys that failed terminally. */
    private void reconcileEverything(boolean resync) {
        if (!isLeader()) {
            return;
        }
        Set<String> volumeNames = new HashSet<>();
        state.watchedIntents().forEach(v -> volumeNames.add(v.value().name()));
        state.watchedPlacements().forEach(v -> volumeNames.add(v.value().volume()));
        state.watchedRecords().forEach(v -> {
            if (v.value() instanceof VolumeScheduling s) {
                volumeNames.add(s.volume());
            }
        });
        Set<String> snapshotNames = new HashSet<>();
        state.watchedSnapshotIntents().forEach(v -> snapshotNames.add(v.value().name()));
        state.watchedRecords().forEach(v -> {
            if (v.value() instanceof SnapshotScheduling s) {
                snapshotNames.add(s.snapshot());
            }
        });
        for (String name : volumeNames) {
            if (resync) {
                volumeRuntime.resync(name);
            } else {
                volumeRuntime.enqueue(name);
            }
        }
        for (String name : snapshotNames) {
            if (resync) {
                snapshotRuntime.resync(name);
            } else {
                snapshotRuntime.enqueue(name);
            }
        }
        gauges();
        auditLedgersSoon();
        secrets.soon();
    }

    /**
     * Ledger events come in bursts (every placement moves one), and a ledger changed by hand needs no
     * instant answer: one audit shortly after a burst compares them all.
     */
    private void auditLedgersSoon() {
        if (auditPending || ledgers == null || !isLeader()) {
            return;
        }
        auditPending = true;
        vertx.setTimer(500, t -> {
            auditPending = false;
            ledgers.auditAll().onFailure(err -> log.warn("ledger audit failed; the next one retries: {}", err.getMessage()));
        });
    }

    /**
     * Volumes and snapshots without room (to be placed, or for a volume to grow) are retried when
     * capacity changes, batched: a burst of ledger updates (a thousand placements) triggers one retry
     * round, not a thousand. So are volumes and snapshots whose last
     * reconcile failed terminally: an intent that is itself invalid is recorded as Invalid without
     * failing, so such a failure came from another key the volume depends on (a malformed ledger,
     * pool config or pool status), and that key has just changed.
     */
    private void retryWaitingSoon() {
        if (capacityRetryPending || volumes == null
                || !volumes.anyWaitingForRoom() && volumeRuntime.terminalFailures().isEmpty()
                && !snapshots.anyWaitingForRoom() && snapshotRuntime.terminalFailures().isEmpty()) {
            return;
        }
        capacityRetryPending = true;
        vertx.setTimer(200, t -> {
            capacityRetryPending = false;
            if (isLeader()) {
                volumes.waitingForRoom().forEach(volumeRuntime::enqueue);
                volumeRuntime.terminalFailures().keySet().forEach(volumeRuntime::enqueue);
                snapshots.waitingForRoom().forEach(snapshotRuntime::enqueue);
                snapshotRuntime.terminalFailures().keySet().forEach(snapshotRuntime::enqueue);
            }
        });
    }

    /** For tests and tools: runs a read against the controller's state on its context. */
    public <T> Future<T> inspect(Callable<T> read) {
        Promise<T> result = Promise.promise();
        context.runOnContext(v -> {
            try {
                result.complete(read.call());
            } catch (Exception e) {
                result.fail(e);
            }
        });
        return result.future();
    }

    public Future<Void> stop() {
        stopRequested = true;
        Promise<Void> stopped = Promise.promise();
        context.runOnContext(v -> {
            vertx.cancelTimer(resyncTimer);
            vertx.cancelTimer(gaugeTimer);
            if (election != null) {
                election.close();
            }
            leadership = null;
            events.close();
            if (consoleStream != null) {
                consoleStream.close();
            }
            volumeRuntime.close();
            snapshotRuntime.close();
            state.close();
            rotations.close();
            secrets.close();
            (admin == null ? Future.<Void>succeededFuture() : admin.close()).onComplete(stopped);
        });
        return stopped.future();
    }

    static <T> Optional<T> value(Optional<Versioned<T>> v) {
        return v.map(Versioned::value);
    }
}
