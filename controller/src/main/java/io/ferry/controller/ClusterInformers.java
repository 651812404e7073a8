package io.ferry.controller;

import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.FerryKeys.KeyRef;
import io.ferry.etcd.store.Store;
import io.ferry.model.Attachment;
import io.ferry.model.GlobalConfig;
import io.ferry.model.Ledger;
import io.ferry.model.MirrorReport;
import io.ferry.model.NodeDrain;
import io.ferry.model.NodeRegistration;
import io.ferry.model.Placement;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolStatus;
import io.ferry.model.SnapshotIntent;
import io.ferry.model.SnapshotScheduling;
import io.ferry.model.SnapshotStatus;
import io.ferry.model.SnapshotWorkItem;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeParts;
import io.ferry.model.VolumeScheduling;
import io.ferry.model.VolumeStatus;
import io.ferry.model.WorkItem;
import io.ferry.runtime.informer.Informer;
import io.ferry.runtime.informer.InformerOptions;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;

import java.util.List;
import java.util.Optional;

/**
 * The informers over every prefix the controller reads, each key typed, and the views through which
 * the leader's own writes are seen before their watch events. Only {@link ClusterState} reads them;
 * what each event means is {@link ClusterEvents}'.
 */
final class ClusterInformers {

    final Informer<GlobalConfig> global;
    final Informer<PoolConfig> pools;
    final Informer<Object> nodes;
    /** The work items this controller gave, under {@link FerryKeys#work()}; typed and handled like node keys. */
    final Informer<Object> work;
    final Informer<VolumeIntent> volumes;
    final Informer<SnapshotIntent> snapshots;
    final Informer<Attachment> attachments;
    final Informer<Placement> placements;
    /** What each multi-part volume is assembled from ({@code parts/<vol>}), written only by the leader. */
    final Informer<VolumeParts> parts;
    /** What the consumers' node plugins report of the mirrors assembled there: a move finishes on it. */
    final Informer<MirrorReport> mirrorReports;
    final Informer<NodeDrain> drains;
    final Informer<Ledger> ledgers;
    /** The controller's own records of volumes and snapshots, under {@code controller/}. */
    final Informer<Object> scheduling;
    final Latest<Placement> latestPlacements;
    final Latest<VolumeParts> latestParts;
    /** The intents of parts, the only intents the leader writes (and the ones it removes). */
    final Latest<VolumeIntent> latestIntents;
    final Latest<Ledger> latestLedgers;
    final Latest<Object> latestScheduling;
    final Latest<Object> latestNodes;
    final Latest<Object> latestWork;

    ClusterInformers(Vertx vertx, Store store, InformerOptions options, MeterRegistry meters, ClusterEvents events) {
        FerryKeys keys = store.keys();
        String globalKey = keys.globalConfig();
        global = new Informer<>(vertx, store, globalKey, key -> key.equals(globalKey) ? GlobalConfig.class : null,
                events.globalConfig(), options, meters);
        pools = new Informer<>(vertx, store, keys.poolConfigs(), PoolConfig.class, events.poolConfigs(), options, meters);
        nodes = new Informer<>(vertx, store, keys.nodes(), key -> nodeKeyType(keys, key), events.nodeKeys(), options, meters);
        work = new Informer<>(vertx, store, keys.work(), key -> nodeKeyType(keys, key), events.workItems(), options, meters);
        volumes = new Informer<>(vertx, store, keys.volumes(), VolumeIntent.class, events.volumeIntents(), options, meters);
        snapshots = new Informer<>(vertx, store, keys.snapshots(), SnapshotIntent.class, events.snapshotIntents(), options,
                meters);
        attachments = new Informer<>(vertx, store, keys.attachments(), Attachment.class, events.attachments(), options, meters);
        placements = new Informer<>(vertx, store, keys.placements(), Placement.class, events.placements(), options, meters);
        parts = new Informer<>(vertx, store, keys.volumeParts(), VolumeParts.class, events.volumeParts(), options, meters);
        mirrorReports = new Informer<>(vertx, store, keys.mirrorReports(), MirrorReport.class, events.mirrorReports(),
                options, meters);
        drains = new Informer<>(vertx, store, keys.nodeDrains(), NodeDrain.class, events.nodeDrains(), options, meters);
        ledgers = new Informer<>(vertx, store, keys.ledgers(), Ledger.class, events.ledgers(), options, meters);
        scheduling = new Informer<>(vertx, store, keys.prefix() + "/controller/", key -> {
            if (key.startsWith(keys.volumeSchedulings())) {
                return VolumeScheduling.class;
            }
            return key.startsWith(keys.snapshotSchedulings()) ? SnapshotScheduling.class : null;
        }, events.records(), options, meters);
        latestPlacements = new Latest<>(placements);
        latestParts = new Latest<>(parts);
        latestIntents = new Latest<>(volumes);
        latestLedgers = new Latest<>(ledgers);
        latestScheduling = new Latest<>(scheduling);
        latestNodes = new Latest<>(nodes);
        latestWork = new Latest<>(work);
    }

    /** Starts every informer; completes once each has delivered its first listing. */
    Future<Void> start() {
        // Ledgers and pools first so that candidates exist before placements index remote counts.
        return global.start()
                .compose(v -> ledgers.start())
                .compose(v -> pools.start())
                .compose(v -> drains.start())
                .compose(v -> nodes.start())
                .compose(v -> work.start())
                .compose(v -> placements.start())
                .compose(v -> parts.start())
                .compose(v -> mirrorReports.start())
                .compose(v -> scheduling.start())
                .compose(v -> snapshots.start())
                .compose(v -> attachments.start())
                .compose(v -> volumes.start());
    }

    List<Informer<?>> all() {
        return List.of(global, pools, drains, nodes, work, volumes, snapshots, attachments, placements, parts, mirrorReports,
                ledgers, scheduling);
    }

    /** Forgets the leader's own writes: the watches' view is the one to trust again. */
    void forgetOwnWrites() {
        latestPlacements.reset();
        latestParts.reset();
        latestIntents.reset();
        latestLedgers.reset();
        latestScheduling.reset();
        latestNodes.reset();
        latestWork.reset();
    }

    private static Class<?> nodeKeyType(FerryKeys keys, String key) {
        Optional<KeyRef> ref = keys.parse(key);
        if (ref.isEmpty()) {
            return null;
        }
        return switch (ref.get().kind()) {
            case NODE_REGISTRATION -> NodeRegistration.class;
            case NODE_POOL_STATUS -> PoolStatus.class;
            case NODE_WORK -> WorkItem.class;
            case NODE_SNAPSHOT_WORK -> SnapshotWorkItem.class;
            case NODE_VOLUME_STATUS -> VolumeStatus.class;
            case NODE_SNAPSHOT_STATUS -> SnapshotStatus.class;
            default -> null;
        };
    }
}
