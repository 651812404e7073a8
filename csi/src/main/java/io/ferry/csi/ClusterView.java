package io.ferry.csi;

import io.ferry.etcd.FerryKeys;
import io.ferry.model.Names;
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
import io.ferry.model.VolumeParts;
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
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
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
 *
 * <p>A view of the whole cluster ({@link #ClusterView}) serves the controller service. A node plugin
 * takes a view scoped to its node ({@link #forNode}): watching every volume, placement and agent
 * status of a thousand-node cluster from every node would send each node every change of every
 * other. The scoped view watches the configuration, the controllers' election and the node's own
 * registration, and, per volume the node plugin is asked about ({@link #follow}), that volume's
 * intent, placement and scheduling record and, on the node serving it, its status and that node's
 * registration. The key layout puts attachments under the volume ({@code attachments/<vol>/<node>})
 * and statuses under the serving node, so no single key range holds "what concerns this node":
 * the scope is a set of small per-volume watches instead.
 */
public final class ClusterView implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(ClusterView.class);

    private final FerryKeys keys;
    private final Vertx vertx;
    private final EtcdStore store;
    private final InformerOptions options;
    /** The node this view is scoped to, or null for the whole cluster. */
    private final String scopeNode;
    /** Whole-cluster informers; null in a node-scoped view. */
    private final Informer<VolumeIntent> volumes;
    private final Informer<SnapshotIntent> snapshots;
    private final Informer<Attachment> attachments;
    private final Informer<Placement> placements;
    private final Informer<VolumeParts> parts;
    private final Informer<Ledger> ledgers;
    private final Informer<VolumeScheduling> volumeSchedulings;
    private final Informer<SnapshotScheduling> snapshotSchedulings;
    private final Informer<Object> config;
    private final Informer<Object> nodes;
    /** Candidates of the controllers' election: one key per running controller, bound to its lease. */
    private final Informer<ControllerLeader> controllers;
    /** The scoped node's own registration; null in a whole-cluster view (it is in {@link #nodes}). */
    private final Informer<NodeRegistration> ownRegistration;
    private final Map<String, FollowedVolume> followed = new ConcurrentHashMap<>();
    private final List<Informer<?>> all = new ArrayList<>();
    private final ViewWaits waits = new ViewWaits();

    /** A view of the whole cluster, for the controller service (and a plugin serving both). */
    public ClusterView(Vertx vertx, EtcdStore store, InformerOptions options, MeterRegistry registry) {
        this(vertx, store, options, registry, null);
    }

    /**
     * A view for a node plugin serving only {@code node}: see the class comment. Reads of a volume
     * return empty until {@link #follow} has loaded it.
     */
    public static ClusterView forNode(Vertx vertx, EtcdStore store, InformerOptions options, MeterRegistry registry,
                                      String node) {
        return new ClusterView(vertx, store, options, registry, Names.nodeName(node));
    }

    private ClusterView(Vertx vertx, EtcdStore store, InformerOptions options, MeterRegistry registry, String scopeNode) {
        this.keys = store.keys();
        this.vertx = vertx;
        this.store = store;
        this.options = options;
        this.scopeNode = scopeNode;
        Function<String, Class<?>> configType = key -> keys.parse(key).map(ref -> switch (ref.kind()) {
            case GLOBAL_CONFIG -> GlobalConfig.class;
            case CLUSTER_IDENTITY -> ClusterIdentity.class;
            case POOL_CONFIG -> PoolConfig.class;
            default -> null;
        }).orElse(null);
        config = add(new Informer<Object>(vertx, store, keys.prefix() + "/config/", typed(configType), wake(), options,
                registry));
        controllers = add(new Informer<>(vertx, store, keys.controllerLeader() + "/", ControllerLeader.class, wake(),
                options, registry));
        if (scopeNode != null) {
            ownRegistration = add(new Informer<>(vertx, store, keys.registration(scopeNode), NodeRegistration.class,
                    wake(), options, registry));
            volumes = null;
            snapshots = null;
            attachments = null;
            placements = null;
            parts = null;
            ledgers = null;
            volumeSchedulings = null;
            snapshotSchedulings = null;
            nodes = null;
            return;
        }
        ownRegistration = null;
        volumes = add(new Informer<>(vertx, store, keys.volumes(), VolumeIntent.class, wake(), options, registry));
        snapshots = add(new Informer<>(vertx, store, keys.snapshots(), SnapshotIntent.class, wake(), options, registry));
        attachments = add(new Informer<>(vertx, store, keys.attachments(), Attachment.class, wake(), options, registry));
        placements = add(new Informer<>(vertx, store, keys.placements(), Placement.class, wake(), options, registry));
        parts = add(new Informer<>(vertx, store, keys.volumeParts(), VolumeParts.class, wake(), options, registry));
        ledgers = add(new Informer<>(vertx, store, keys.ledgers(), Ledger.class, wake(), options, registry));
        volumeSchedulings = add(new Informer<>(vertx, store, keys.volumeSchedulings(), VolumeScheduling.class, wake(),
                options, registry));
        snapshotSchedulings = add(new Informer<>(vertx, store, keys.snapshotSchedulings(), SnapshotScheduling.class,
                wake(), options, registry));
        Function<String, Class<?>> nodeType = key -> keys.parse(key).map(ref -> switch (ref.kind()) {
            case NODE_REGISTRATION -> NodeRegistration.class;
            case NODE_POOL_STATUS -> PoolStatus.class;
            case NODE_VOLUME_STATUS -> VolumeStatus.class;
            case NODE_SNAPSHOT_STATUS -> SnapshotStatus.class;
            default -> null;
        }).orElse(null);
        nodes = add(new Informer<Object>(vertx, store, keys.nodes(), typed(nodeType), wake(), options, registry));
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
        return waits.wake();
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

    /** How many changes this view's informers have delivered so far (what its watches cost the plugin). */
    public long changesReceived() {
        return waits.changesReceived();
    }

    /** The node this view is scoped to; empty for a whole-cluster view. */
    public Optional<String> scope() {
        return Optional.ofNullable(scopeNode);
    }

    // ---- the node scope: volumes followed one by one ----

    /**
     * Starts watching what the node plugin needs of one volume, if this view is scoped to a node and
     * does not follow it yet; completes once the volume's keys (and those of its serving node, when
     * placed) are loaded. A whole-cluster view already has everything.
     */
    public Future<Void> follow(String volume) {
        if (scopeNode == null) {
            return Future.succeededFuture();
        }
        String name = Names.volumeName(volume);
        return followed.computeIfAbsent(name, v -> new FollowedVolume(vertx, store, options, waits, v)).loaded;
    }

    /** Stops watching a volume followed with {@link #follow} (the node no longer stages it). */
    public void unfollow(String volume) {
        FollowedVolume gone = scopeNode == null ? null : followed.remove(volume);
        if (gone != null) {
            gone.close();
        }
    }

    /** A whole-cluster informer, refused in a node-scoped view, which does not watch it. */
    private <T> Informer<T> whole(Informer<T> informer, String what) {
        if (informer == null) {
            throw new IllegalStateException("the view of node " + scopeNode + " does not watch " + what
                    + "; only a whole-cluster view (controller mode) does");
        }
        return informer;
    }

    // ---- waiting ----

    /**
     * Waits until {@code condition} returns a value, re-evaluating it after every change the
     * watches deliver; see {@link ViewWaits#await}.
     */
    public <T> CompletableFuture<T> await(Supplier<Optional<T>> condition, Duration timeout) {
        return waits.await(condition, timeout);
    }

    // ---- reads from the cache ----

    public Optional<VolumeIntent> volume(String name) {
        if (scopeNode != null) {
            return Optional.ofNullable(followed.get(name)).flatMap(f -> f.intent.get(keys.volume(name)))
                    .map(Versioned::value);
        }
        return volumes.get(keys.volume(name)).map(Versioned::value);
    }

    public Optional<Versioned<VolumeIntent>> volumeVersioned(String name) {
        return whole(volumes, "volume intents").get(keys.volume(name));
    }

    /** The etcd revision up to which the view has every change of the volume intents. */
    public long volumesRevision() {
        return whole(volumes, "volume intents").revision();
    }

    /** All volume intents, sorted by name. */
    public List<VolumeIntent> volumes() {
        return whole(volumes, "volume intents").values().stream().map(Versioned::value).sorted(Comparator.comparing(VolumeIntent::name)).toList();
    }

    public Optional<SnapshotIntent> snapshot(String name) {
        return whole(snapshots, "snapshot intents").get(keys.snapshot(name)).map(Versioned::value);
    }

    public List<SnapshotIntent> snapshots() {
        return whole(snapshots, "snapshot intents").values().stream().map(Versioned::value).sorted(Comparator.comparing(SnapshotIntent::name)).toList();
    }

    public Optional<Placement> placement(String volume) {
        if (scopeNode != null) {
            return Optional.ofNullable(followed.get(volume)).flatMap(FollowedVolume::currentPlacement);
        }
        return placements.get(keys.placement(volume)).map(Versioned::value);
    }

    /** What a multi-part volume is assembled from, once the controller placed its parts. */
    public Optional<VolumeParts> volumeParts(String volume) {
        if (scopeNode != null) {
            return Optional.ofNullable(followed.get(volume)).flatMap(f -> f.parts.get(keys.volumeParts(volume)))
                    .map(Versioned::value);
        }
        return parts.get(keys.volumeParts(volume)).map(Versioned::value);
    }

    /** Every placement, in no particular order. */
    public List<Placement> placements() {
        return whole(placements, "placements").values().stream().map(Versioned::value).toList();
    }

    public Optional<VolumeScheduling> volumeScheduling(String volume) {
        if (scopeNode != null) {
            return Optional.ofNullable(followed.get(volume))
                    .flatMap(f -> f.scheduling.get(keys.volumeScheduling(volume))).map(Versioned::value);
        }
        return volumeSchedulings.get(keys.volumeScheduling(volume)).map(Versioned::value);
    }

    public Optional<SnapshotScheduling> snapshotScheduling(String snapshot) {
        return whole(snapshotSchedulings, "snapshot scheduling records").get(keys.snapshotScheduling(snapshot)).map(Versioned::value);
    }

    /** Nodes the volume is attached to (published on), sorted. */
    public List<String> attachedNodes(String volume) {
        String prefix = keys.attachmentsOf(volume);
        return whole(attachments, "attachments").snapshot().entrySet().stream().filter(e -> e.getKey().startsWith(prefix))
                .map(e -> e.getValue().value().node()).sorted().toList();
    }

    public Optional<Attachment> attachment(String volume, String node) {
        return whole(attachments, "attachments").get(keys.attachment(volume, node)).map(Versioned::value);
    }

    public Optional<Ledger> ledger(String pool) {
        return whole(ledgers, "ledgers").get(keys.ledger(pool)).map(Versioned::value);
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

    /**
     * A node's registration. A node-scoped view knows its own and those of the nodes serving the
     * volumes it follows; any other is empty there.
     */
    public Optional<NodeRegistration> registration(String node) {
        if (scopeNode != null) {
            if (node.equals(scopeNode)) {
                return ownRegistration.get(keys.registration(node)).map(Versioned::value);
            }
            for (FollowedVolume f : followed.values()) {
                FollowedVolume.Served served = f.served();
                if (served != null && served.node().equals(node)) {
                    return served.registration().get(keys.registration(node)).map(Versioned::value);
                }
            }
            return Optional.empty();
        }
        return nodes.get(keys.registration(node)).map(v -> (NodeRegistration) v.value());
    }

    public Optional<PoolStatus> poolStatus(String node, String pool) {
        return whole(nodes, "pool statuses").get(keys.nodePoolStatus(node, pool)).map(v -> (PoolStatus) v.value());
    }

    /** The status {@code node} reports for the volume; a node-scoped view knows it on the node the volume is placed on. */
    public Optional<VolumeStatus> volumeStatus(String node, String volume) {
        if (scopeNode != null) {
            FollowedVolume.Served served = Optional.ofNullable(followed.get(volume)).map(FollowedVolume::served).orElse(null);
            return served == null || !served.node().equals(node) ? Optional.empty()
                    : served.status().get(keys.volumeStatus(node, volume)).map(Versioned::value);
        }
        return nodes.get(keys.volumeStatus(node, volume)).map(v -> (VolumeStatus) v.value());
    }

    public Optional<SnapshotStatus> snapshotStatus(String node, String snapshot) {
        return whole(nodes, "snapshot statuses").get(keys.snapshotStatus(node, snapshot)).map(v -> (SnapshotStatus) v.value());
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
        followed.values().forEach(FollowedVolume::close);
        followed.clear();
        waits.cancelAll();
    }
}
