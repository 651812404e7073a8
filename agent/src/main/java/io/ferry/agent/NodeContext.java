package io.ferry.agent;

import io.ferry.agent.engine.VolumeEngine;
import io.ferry.agent.export.Exporter;
import io.ferry.etcd.FerryKeys;
import io.ferry.model.ClusterIdentity;
import io.ferry.model.Engine;
import io.ferry.runtime.informer.Informer;
import io.ferry.runtime.reconcile.ReconcileRuntime;
import io.ferry.etcd.store.Store;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.PoolConfig;
import io.ferry.model.SnapshotStatus;
import io.ferry.model.SnapshotWorkItem;
import io.ferry.model.VolumeStatus;
import io.ferry.model.WorkItem;
import io.vertx.core.Vertx;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What the agent's reconcilers share: the node's identity, etcd, the informers' caches, engines
 * and the exporters. Built by {@link Agent#start()} in the order its start-up needs: the runtimes
 * and informers first, the cluster's identity once it is read, the exporters after it. Each part
 * is bound once, through its own method (a second binding is a programming error), and only read
 * afterwards; everything here is safe to read from any thread. The decode errors of work items and
 * pool configs are written by the informer handlers through {@link BadValues} and read by the
 * reconcilers.
 */
final class NodeContext {
    final Vertx vertx;
    final Store store;
    final FerryKeys keys;
    final String node;
    final Map<Engine, VolumeEngine> engines;
    final AgentMetrics metrics;
    /** This cluster's identity; null until the agent has read it, and nothing is done before. */
    private volatile ClusterIdentity cluster;
    /** Kernel nvmet: exports volumes of every engine with a kernel block device. */
    private volatile Exporter exporter;
    /** The SPDK target's own NVMe-oF: exports volumes of {@code spdk} pools. */
    private volatile Exporter spdkExporter = Exporter.none("SPDK is not available on this node");

    private volatile Informer<PoolConfig> pools;
    private volatile WorkItems<WorkItem> work;
    private volatile WorkItems<SnapshotWorkItem> snapshotWork;
    private volatile Informer<VolumeStatus> volumeStatuses;
    private volatile Informer<SnapshotStatus> snapshotStatuses;

    private volatile ReconcileRuntime volumeRuntime;
    private volatile ReconcileRuntime snapshotRuntime;
    private volatile ReconcileRuntime poolRuntime;

    /** Decode errors of pool configs that name this node, by pool. */
    final BadValues badPoolConfigs = new BadValues();
    /** Decode errors of this node's work items, by volume, for the Failed status. */
    final BadValues badWork = new BadValues();
    /** Decode errors of this node's snapshot work items, by snapshot. */
    final BadValues badSnapshotWork = new BadValues();

    NodeContext(Vertx vertx, Store store, String node, Map<Engine, VolumeEngine> engines,
            AgentMetrics metrics) {
        this.vertx = vertx;
        this.store = store;
        this.keys = store.keys();
        this.node = node;
        this.engines = engines;
        this.metrics = metrics;
    }

    void bindRuntimes(ReconcileRuntime volumes, ReconcileRuntime snapshots, ReconcileRuntime poolsRuntime) {
        requireUnbound(volumeRuntime, "the reconcile runtimes");
        this.volumeRuntime = volumes;
        this.snapshotRuntime = snapshots;
        this.poolRuntime = poolsRuntime;
    }

    void bindInformers(Informer<PoolConfig> poolConfigs, WorkItems<WorkItem> workItems,
            WorkItems<SnapshotWorkItem> snapshotWorkItems, Informer<VolumeStatus> volumeStatusInformer,
            Informer<SnapshotStatus> snapshotStatusInformer) {
        requireUnbound(pools, "the informers");
        this.pools = poolConfigs;
        this.work = workItems;
        this.snapshotWork = snapshotWorkItems;
        this.volumeStatuses = volumeStatusInformer;
        this.snapshotStatuses = snapshotStatusInformer;
    }

    void bindCluster(ClusterIdentity identity) {
        requireUnbound(cluster, "the cluster identity");
        this.cluster = identity;
    }

    void bindExporters(Exporter nvmet, Exporter spdk) {
        requireUnbound(exporter, "the exporters");
        this.exporter = nvmet;
        this.spdkExporter = spdk;
    }

    private static void requireUnbound(Object current, String what) {
        if (current != null) {
            throw new IllegalStateException(what + " of this node are already bound");
        }
    }

    /** This cluster's identity, or null while the agent has not read it. */
    ClusterIdentity cluster() {
        return cluster;
    }

    /** Kernel nvmet, or null before the cluster's identity is known. */
    Exporter exporter() {
        return exporter;
    }

    Exporter spdkExporter() {
        return spdkExporter;
    }

    /** Null only during the agent's start-up, before its informers are built. */
    Informer<PoolConfig> pools() {
        return pools;
    }

    /** Null only during the agent's start-up, before its informers are built. */
    WorkItems<WorkItem> work() {
        return work;
    }

    WorkItems<SnapshotWorkItem> snapshotWork() {
        return snapshotWork;
    }

    Informer<VolumeStatus> volumeStatuses() {
        return volumeStatuses;
    }

    Informer<SnapshotStatus> snapshotStatuses() {
        return snapshotStatuses;
    }

    ReconcileRuntime volumeRuntime() {
        return volumeRuntime;
    }

    ReconcileRuntime snapshotRuntime() {
        return snapshotRuntime;
    }

    ReconcileRuntime poolRuntime() {
        return poolRuntime;
    }

    /** This node's pool config by name, if it is this node's and decodes. */
    Optional<PoolConfig> pool(String name) {
        return pools.get(keys.poolConfig(name)).map(Versioned::value).filter(p -> p.node().equals(node));
    }

    /** Every pool config that decodes, of every node: pools of other nodes may share this machine's disks. */
    List<PoolConfig> allPools() {
        List<PoolConfig> all = new ArrayList<>();
        for (Versioned<PoolConfig> v : pools.values()) {
            all.add(v.value());
        }
        return all;
    }

    List<PoolConfig> ownPools() {
        List<PoolConfig> own = new ArrayList<>();
        for (Versioned<PoolConfig> v : pools.values()) {
            if (v.value().node().equals(node)) {
                own.add(v.value());
            }
        }
        return own;
    }

    /** SPDK lvols live in the SPDK target, so the target exports them; everything else goes through nvmet. */
    Exporter exporterFor(Engine kind) {
        return kind == Engine.SPDK ? spdkExporter : exporter;
    }

    Optional<VolumeEngine> engine(Engine kind) {
        VolumeEngine e = engines.get(kind);
        return e != null && e.available() ? Optional.of(e) : Optional.empty();
    }

    Optional<WorkItem> workItem(String volume) {
        return work.get(volume).map(Versioned::value);
    }

    boolean workItemIsBad(String volume) {
        return work.isBad(volume);
    }

    Optional<SnapshotWorkItem> snapshotWorkItem(String snapshot) {
        return snapshotWork.get(snapshot).map(Versioned::value);
    }

    boolean snapshotWorkItemIsBad(String snapshot) {
        return snapshotWork.isBad(snapshot);
    }

    Optional<VolumeStatus> volumeStatus(String volume) {
        return volumeStatuses.get(keys.volumeStatus(node, volume)).map(Versioned::value);
    }

    Optional<SnapshotStatus> snapshotStatus(String snapshot) {
        return snapshotStatuses.get(keys.snapshotStatus(node, snapshot)).map(Versioned::value);
    }

    /** Last path segment of a key: the volume, snapshot or pool name. */
    static String lastSegment(String key) {
        return key.substring(key.lastIndexOf('/') + 1);
    }
}
