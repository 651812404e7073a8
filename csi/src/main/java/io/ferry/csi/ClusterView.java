package io.ferry.csi;

import io.ferry.etcd.FerryKeys;
import io.ferry.runtime.informer.Informer;
import io.ferry.runtime.informer.InformerHandler;
import io.ferry.runtime.informer.InformerOptions;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.Attachment;
import io.ferry.model.ClusterIdentity;
import io.ferry.model.ControllerLeader;
import io.ferry.model.GlobalConfig;
import io.ferry.model.Ledger;
import io.ferry.model.NodeRegistration;
import io.ferry.model.Placement;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolStatus;
import io.ferry.model.SnapshotIntent;
import io.ferry.model.SnapshotScheduling;
import io.ferry.model.SnapshotStatus;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeScheduling;
import io.ferry.model.VolumeStatus;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The plugin's watched copy of the keys it reads, and the one way it waits for something to happen
 * in etcd: {@link #await} re-evaluates a condition on every change delivered by the informers'
 * watches, so a CSI call returns as soon as the controller or an agent has written the status it
 * waits for, and nothing polls.
 *
 * <p>Reads that decide whether to write (idempotency checks) go to etcd directly, because the
 * cache may not yet hold the plugin's own latest write; the cache is for waiting and listing.
 */
public final class ClusterView implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(ClusterView.class);

    private final FerryKeys keys;
    private final Informer<VolumeIntent> volumes;
    private final Informer<SnapshotIntent> snapshots;
    private final Informer<Attachment> attachments;
    private final Informer<Placement> placements;
    private final Informer<Ledger> ledgers;
    private final Informer<VolumeScheduling> volumeSchedulings;
    private final Informer<SnapshotScheduling> snapshotSchedulings;
    private final Informer<Object> config;
    private final Informer<Object> nodes;
    /** Candidates of the controllers' election: one key per running controller, bound to its lease. */
    private final Informer<ControllerLeader> controllers;
    private final List<Informer<?>> all = new ArrayList<>();
    private final Set<Waiter<?>> waiters = ConcurrentHashMap.newKeySet();

    public ClusterView(Vertx vertx, EtcdStore store, InformerOptions options, MeterRegistry registry) {
        this.keys = store.keys();
        volumes = add(new Informer<>(vertx, store, keys.volumes(), VolumeIntent.class, wake(), options, registry));
        snapshots = add(new Informer<>(vertx, store, keys.snapshots(), SnapshotIntent.class, wake(), options, registry));
        attachments = add(new Informer<>(vertx, store, keys.attachments(), Attachment.class, wake(), options, registry));
        placements = add(new Informer<>(vertx, store, keys.placements(), Placement.class, wake(), options, registry));
        ledgers = add(new Informer<>(vertx, store, keys.ledgers(), Ledger.class, wake(), options, registry));
        volumeSchedulings = add(new Informer<>(vertx, store, keys.volumeSchedulings(), VolumeScheduling.class, wake(),
                options, registry));
        snapshotSchedulings = add(new Informer<>(vertx, store, keys.snapshotSchedulings(), SnapshotScheduling.class,
                wake(), options, registry));
        Function<String, Class<?>> configType = key -> keys.parse(key).map(ref -> switch (ref.kind()) {
            case GLOBAL_CONFIG -> GlobalConfig.class;
            case CLUSTER_IDENTITY -> ClusterIdentity.class;
            case POOL_CONFIG -> PoolConfig.class;
            default -> null;
        }).orElse(null);
        config = add(new Informer<Object>(vertx, store, keys.prefix() + "/config/", typed(configType), wake(), options,
                registry));
        Function<String, Class<?>> nodeType = key -> keys.parse(key).map(ref -> switch (ref.kind()) {
            case NODE_REGISTRATION -> NodeRegistration.class;
            case NODE_POOL_STATUS -> PoolStatus.class;
            case NODE_VOLUME_STATUS -> VolumeStatus.class;
            case NODE_SNAPSHOT_STATUS -> SnapshotStatus.class;
            default -> null;
        }).orElse(null);
        nodes = add(new Informer<Object>(vertx, store, keys.nodes(), typed(nodeType), wake(), options, registry));
        controllers = add(new Informer<>(vertx, store, keys.controllerLeader() + "/", ControllerLeader.class, wake(),
                options, registry));
    }

    /**
     * Whether any Ferry controller is running: each one keeps a candidate key in the election
     * while its lease lives (an unreadable one still counts: somebody holds it).
     */
    public boolean controllerRunning() {
        return !controllers.values().isEmpty() || !controllers.badKeys().isEmpty();
    }

    @SuppressWarnings("unchecked")
    private static Function<String, Class<?>> typed(Function<String, Class<?>> f) {
        return f;
    }

    private <T> Informer<T> add(Informer<T> informer) {
        all.add(informer);
        return informer;
    }

    private <T> InformerHandler<T> wake() {
        return new InformerHandler<>() {
            @Override
            public void onUpsert(Versioned<T> current, Versioned<T> previous) {
                recheck();
            }

            @Override
            public void onDelete(String key, Versioned<T> lastKnown) {
                recheck();
            }

            @Override
            public void onSynced(long revision) {
                recheck();
            }
        };
    }

    /** Completes once every informer has delivered its first listing. */
    public Future<Void> start() {
        List<Future<Void>> started = new ArrayList<>();
        for (Informer<?> informer : all) {
            started.add(informer.start());
        }
        return Future.all(started).mapEmpty();
    }

    public boolean synced() {
        return all.stream().allMatch(Informer::synced);
    }

    // ---- waiting ----

    /**
     * Waits until {@code condition} returns a value, re-evaluating it after every change the
     * watches deliver. The condition runs on informer threads and must only read this view; it may
     * throw (typically a gRPC status) to end the wait with that failure.
     */
    public <T> CompletableFuture<T> await(Supplier<Optional<T>> condition, Duration timeout) {
        Waiter<T> waiter = new Waiter<>(condition);
        // Registered before the first evaluation, so a change landing in between is not missed.
        waiters.add(waiter);
        waiter.check();
        waiter.result.orTimeout(Math.max(1, timeout.toMillis()), TimeUnit.MILLISECONDS)
                .whenComplete((v, e) -> waiters.remove(waiter));
        return waiter.result;
    }

    private void recheck() {
        for (Waiter<?> waiter : waiters) {
            waiter.check();
        }
    }

    private static final class Waiter<T> {
        final Supplier<Optional<T>> condition;
        final CompletableFuture<T> result = new CompletableFuture<>();

        Waiter(Supplier<Optional<T>> condition) {
            this.condition = condition;
        }

        void check() {
            if (result.isDone()) {
                return;
            }
            try {
                condition.get().ifPresent(result::complete);
            } catch (RuntimeException e) {
                result.completeExceptionally(e);
            }
        }
    }

    // ---- reads from the cache ----

    public Optional<VolumeIntent> volume(String name) {
        return volumes.get(keys.volume(name)).map(Versioned::value);
    }

    public Optional<Versioned<VolumeIntent>> volumeVersioned(String name) {
        return volumes.get(keys.volume(name));
    }

    /** The etcd revision up to which the view has every change of the volume intents. */
    public long volumesRevision() {
        return volumes.revision();
    }

    /** All volume intents, sorted by name. */
    public List<VolumeIntent> volumes() {
        return volumes.values().stream().map(Versioned::value).sorted(Comparator.comparing(VolumeIntent::name)).toList();
    }

    public Optional<SnapshotIntent> snapshot(String name) {
        return snapshots.get(keys.snapshot(name)).map(Versioned::value);
    }

    public List<SnapshotIntent> snapshots() {
        return snapshots.values().stream().map(Versioned::value).sorted(Comparator.comparing(SnapshotIntent::name)).toList();
    }

    public Optional<Placement> placement(String volume) {
        return placements.get(keys.placement(volume)).map(Versioned::value);
    }

    /** Every placement, in no particular order. */
    public List<Placement> placements() {
        return placements.values().stream().map(Versioned::value).toList();
    }

    public Optional<VolumeScheduling> volumeScheduling(String volume) {
        return volumeSchedulings.get(keys.volumeScheduling(volume)).map(Versioned::value);
    }

    public Optional<SnapshotScheduling> snapshotScheduling(String snapshot) {
        return snapshotSchedulings.get(keys.snapshotScheduling(snapshot)).map(Versioned::value);
    }

    /** Nodes the volume is attached to (published on), sorted. */
    public List<String> attachedNodes(String volume) {
        String prefix = keys.attachmentsOf(volume);
        return attachments.snapshot().entrySet().stream().filter(e -> e.getKey().startsWith(prefix))
                .map(e -> e.getValue().value().node()).sorted().toList();
    }

    public Optional<Attachment> attachment(String volume, String node) {
        return attachments.get(keys.attachment(volume, node)).map(Versioned::value);
    }

    public Optional<Ledger> ledger(String pool) {
        return ledgers.get(keys.ledger(pool)).map(Versioned::value);
    }

    public GlobalConfig globalConfig() {
        return config.get(keys.globalConfig()).map(v -> (GlobalConfig) v.value()).orElse(GlobalConfig.defaults());
    }

    public List<PoolConfig> poolConfigs() {
        return config.values().stream().map(Versioned::value).filter(PoolConfig.class::isInstance)
                .map(PoolConfig.class::cast).sorted(Comparator.comparing(PoolConfig::name)).toList();
    }

    /** This cluster's id, once the first controller (or ferry up) has written it. */
    public Optional<String> clusterId() {
        return config.get(keys.clusterIdentity()).map(v -> ((ClusterIdentity) v.value()).id());
    }

    public Optional<PoolConfig> poolConfig(String pool) {
        return config.get(keys.poolConfig(pool)).map(Versioned::value).filter(PoolConfig.class::isInstance)
                .map(PoolConfig.class::cast);
    }

    public Optional<NodeRegistration> registration(String node) {
        return nodes.get(keys.registration(node)).map(v -> (NodeRegistration) v.value());
    }

    public Optional<PoolStatus> poolStatus(String node, String pool) {
        return nodes.get(keys.nodePoolStatus(node, pool)).map(v -> (PoolStatus) v.value());
    }

    public Optional<VolumeStatus> volumeStatus(String node, String volume) {
        return nodes.get(keys.volumeStatus(node, volume)).map(v -> (VolumeStatus) v.value());
    }

    public Optional<SnapshotStatus> snapshotStatus(String node, String snapshot) {
        return nodes.get(keys.snapshotStatus(node, snapshot)).map(v -> (SnapshotStatus) v.value());
    }

    @Override
    public void close() {
        for (Informer<?> informer : all) {
            try {
                informer.close();
            } catch (RuntimeException e) {
                log.warn("closing informer {} failed", informer.prefix(), e);
            }
        }
        for (Waiter<?> waiter : waiters) {
            waiter.result.cancel(false);
        }
    }
}
