package io.ferry.csi;

import io.ferry.etcd.ClusterIdentities;
import io.ferry.etcd.FerryKeys;
import io.ferry.runtime.informer.Informer;
import io.ferry.runtime.informer.InformerHandler;
import io.ferry.runtime.informer.InformerOptions;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.Engine;
import io.ferry.model.ExportInfo;
import io.ferry.model.GlobalConfig;
import io.ferry.model.NodeRegistration;
import io.ferry.model.Nqn;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolSource;
import io.ferry.model.PoolStatus;
import io.ferry.model.SnapshotStatus;
import io.ferry.model.SnapshotWorkItem;
import io.ferry.model.VolumePhase;
import io.ferry.model.VolumeStatus;
import io.ferry.model.WorkItem;
import io.vertx.core.Vertx;

import java.time.Instant;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import static io.ferry.etcd.testing.Await.result;

/**
 * Plays the agent of one REMOTE node in the CSI tests, writing only etcd keys. It exists because the
 * real agent cannot serve a remote consumer on the build machine: a remote volume must be exported
 * over NVMe/TCP through kernel nvmet, and this machine has no nvmet configfs. Everything local (the
 * consumer node's own volumes, loop devices, mkfs, mounts) runs on the real agent instead; the
 * remote path with a real target and a real {@code nvme connect} is proven in the QEMU testbed.
 *
 * <p>It registers the node (without a lease), reports a fixed-size file pool, and answers the
 * node's work items as the real agent would (Ready at the work item's generation, an export with
 * the NQN, serial and allowed hosts derived exactly as the agent derives them) and its snapshot
 * work (ready to use). No device, file or target is created; the device path it reports would
 * only mean something on that other machine.
 */
final class RemoteAgentStandIn implements AutoCloseable {

    private final EtcdStore store;
    private final FerryKeys keys;
    private final String node;
    private final String hostNqn;
    private Informer<WorkItem> work;
    private Informer<SnapshotWorkItem> snapshotWork;
    private volatile Map<String, WorkItem> held;
    private volatile String cluster;
    private volatile Map<String, String> labels;

    RemoteAgentStandIn(EtcdStore store, String node) {
        this.store = store;
        this.keys = store.keys();
        this.node = node;
        this.hostNqn = "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-"
                + String.format("%012d", Math.abs(node.hashCode()) % 1_000_000_000_000L);
    }

    /** Registers the node with its labels and a file pool of the given size, then answers its work. */
    void start(Vertx vertx, Map<String, String> labels, String pool, long capacityBytes, Map<String, String> poolLabels) {
        register(labels);
        cluster = result(ClusterIdentities.ensure(store, Instant.now())).id();
        result(store.put(keys.poolConfig(pool), PoolConfig.builder(pool, node, Engine.FILE,
                PoolSource.directory("/var/lib/ferry/" + pool)).labels(poolLabels).build()));
        result(store.put(keys.nodePoolStatus(node, pool), PoolStatus.of(node, pool, Engine.FILE, capacityBytes,
                capacityBytes, null, null, List.of(), true, Instant.now())));
        work = new Informer<>(vertx, store, keys.workItems(node), WorkItem.class, new InformerHandler<>() {
            @Override
            public void onUpsert(Versioned<WorkItem> current, Versioned<WorkItem> previous) {
                if (held != null) {
                    held.put(current.value().volume(), current.value());
                    return;
                }
                answer(current.value());
            }

            @Override
            public void onDelete(String key, Versioned<WorkItem> lastKnown) {
                if (lastKnown != null) {
                    store.delete(keys.volumeStatus(node, lastKnown.value().volume()));
                }
            }
        }, InformerOptions.defaults(), null);
        snapshotWork = new Informer<>(vertx, store, keys.snapshotWorkItems(node), SnapshotWorkItem.class,
                new InformerHandler<>() {
                    @Override
                    public void onUpsert(Versioned<SnapshotWorkItem> current, Versioned<SnapshotWorkItem> previous) {
                        SnapshotWorkItem item = current.value();
                        store.put(keys.snapshotStatus(node, item.snapshot()), SnapshotStatus.of(item.snapshot(),
                                item.sourceVolume(), node, item.pool(), item.sizeBytes(), !item.deletionRequested(),
                                item.deletionRequested() ? VolumePhase.DELETED : VolumePhase.READY,
                                null, item.generation(), Instant.now()));
                    }

                    @Override
                    public void onDelete(String key, Versioned<SnapshotWorkItem> lastKnown) {
                        if (lastKnown != null) {
                            store.delete(keys.snapshotStatus(node, lastKnown.value().snapshot()));
                        }
                    }
                }, InformerOptions.defaults(), null);
        result(work.start());
        result(snapshotWork.start());
    }

    private void answer(WorkItem item) {
        if (item.deletionRequested()) {
            // A real agent removes the volume and acknowledges the order with a Deleted status.
            store.put(keys.volumeStatus(node, item.volume()), VolumeStatus.of(item.volume(), node,
                    VolumePhase.DELETED, null, 0, null, item.generation(), null, Instant.now()));
            return;
        }
        ExportInfo export = item.export() == null ? null : ExportInfo.tcp(
                Nqn.forVolume(GlobalConfig.DEFAULT_NQN_PREFIX, cluster, item.volume()), "127.0.0.1", 4420,
                Nqn.serialForVolume(item.volume()), item.export().allowedHostNqns());
        store.put(keys.volumeStatus(node, item.volume()), VolumeStatus.of(item.volume(), node,
                VolumePhase.READY, "/dev/ferry-remote/" + item.volume(), item.sizeBytes(), export,
                item.generation(), null, Instant.now()));
    }

    /**
     * Stops answering work items, as an agent that is slow to act would: statuses stay as they were
     * until {@link #release}.
     */
    void hold() {
        held = new ConcurrentHashMap<>();
    }

    /** Answers the work items that came while held (the latest of each volume), and those that follow. */
    void release() {
        Map<String, WorkItem> pending = held;
        held = null;
        if (pending != null) {
            pending.values().forEach(this::answer);
        }
    }

    String hostNqn() {
        return hostNqn;
    }

    /** The node comes back, as a restarted agent registers again. */
    void reregister() {
        register(labels);
    }

    private void register(Map<String, String> labels) {
        this.labels = labels;
        result(store.put(keys.registration(node), NodeRegistration.of(node, "127.0.0.1", null, hostNqn,
                EnumSet.of(Engine.FILE), labels, "stand-in", Instant.now())));
    }

    /** The node goes away as a dead agent's lease would take its registration. */
    void unregister() {
        result(store.delete(keys.registration(node)));
    }

    @Override
    public void close() {
        if (work != null) {
            work.close();
        }
        if (snapshotWork != null) {
            snapshotWork.close();
        }
    }
}
