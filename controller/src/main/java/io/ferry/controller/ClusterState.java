package io.ferry.controller;

import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.Store;
import io.ferry.etcd.store.Versioned;
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
import io.ferry.model.PartNames;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeParts;
import io.ferry.model.VolumePhase;
import io.ferry.model.VolumeScheduling;
import io.ferry.model.VolumeStatus;
import io.ferry.model.WorkItem;
import io.ferry.placement.Candidate;
import io.ferry.runtime.informer.Informer;
import io.ferry.runtime.informer.InformerOptions;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;

import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Everything the controller reads, kept current by informers ({@link ClusterInformers}), plus the
 * indexes a decision needs: one {@link Candidate} per pool ({@link CandidateIndex}) and where volumes
 * are and who uses them ({@link VolumeIndex}), updated incrementally on each event
 * ({@link ClusterEvents}), so a decision never scans all placements. This class is the one way in:
 * the reads below, and the leader's own writes, visible before the watch delivers them.
 *
 * <p>Confined to the controller's Vert.x context: informers, reconcilers and the admin API all run
 * there, so nothing here needs a lock.
 */
final class ClusterState {

    /** What changed, in terms the reconcilers act on. */
    interface Listener {
        void volumeChanged(String volume);

        void snapshotChanged(String snapshot);

        /** Free capacity, pools or nodes changed: volumes waiting for room may now fit. */
        void capacityChanged();

        /** A ledger key changed or went away (possibly by hand): it may no longer match the placements. */
        default void ledgerChanged(String pool) {
        }

        /**
         * A value of a volume's or snapshot's life changed ({@code before} or {@code after} null when
         * the key was absent): what lifecycle events are recorded from. Called after the indexes are
         * updated.
         */
        default void valueChanged(Object before, Object after) {
        }
    }

    private final FerryKeys keys;
    private final CandidateIndex candidates;
    private final VolumeIndex volumes = new VolumeIndex();
    private final ClusterEvents events;
    private final ClusterInformers informers;

    ClusterState(Vertx vertx, Store store, InformerOptions options, MeterRegistry meters, Listener listener) {
        this.keys = store.keys();
        this.candidates = new CandidateIndex(new CandidateIndex.Inputs() {
            @Override
            public Optional<PoolConfig> poolConfig(String pool) {
                return ClusterState.this.poolConfig(pool);
            }

            @Override
            public Iterable<String> poolNames() {
                return informers.pools.values().stream().map(v -> v.value().name()).toList();
            }

            @Override
            public Optional<Versioned<Ledger>> ledger(String pool) {
                return ClusterState.this.ledger(pool);
            }

            @Override
            public Optional<PoolStatus> poolStatus(String node, String pool) {
                return ClusterState.this.poolStatus(node, pool);
            }

            @Override
            public Optional<NodeRegistration> registration(String node) {
                return ClusterState.this.registration(node);
            }

            @Override
            public GlobalConfig globalConfig() {
                return ClusterState.this.globalConfig();
            }
        });
        this.events = new ClusterEvents(keys, this, candidates, volumes, listener);
        this.informers = new ClusterInformers(vertx, store, options, meters, events);
    }

    /** Starts every informer; completes once each has delivered its first listing. */
    Future<Void> start() {
        return informers.start();
    }

    /** Every informer the controller's decisions read from. */
    List<Informer<?>> informers() {
        return informers.all();
    }

    void close() {
        informers().forEach(Informer::close);
    }

    boolean synced() {
        return informers().stream().allMatch(Informer::synced);
    }

    // ---- reads used by reconcilers and the API ----

    GlobalConfig globalConfig() {
        return informers.global.get(keys.globalConfig()).map(Versioned::value).orElse(GlobalConfig.defaults());
    }

    Optional<PoolConfig> poolConfig(String pool) {
        return informers.pools.get(keys.poolConfig(pool)).map(Versioned::value);
    }

    Optional<Versioned<VolumeIntent>> intent(String volume) {
        return informers.latestIntents.get(keys.volume(volume));
    }

    /** What a multi-part volume is assembled from, once its parts are placed. */
    Optional<Versioned<VolumeParts>> volumeParts(String volume) {
        return informers.latestParts.get(keys.volumeParts(volume));
    }

    /** What the node plugin on {@code node} last reported of the mirror {@code volume} assembled there. */
    Optional<Versioned<MirrorReport>> mirrorReport(String volume, String node) {
        return informers.mirrorReports.get(keys.mirrorReport(volume, node));
    }

    /** The operator's request to empty {@code node}, if it is draining. */
    Optional<NodeDrain> drain(String node) {
        return informers.drains.get(keys.nodeDrain(node)).map(Versioned::value);
    }

    /** Every node being drained. */
    List<NodeDrain> drains() {
        return informers.drains.values().stream().map(Versioned::value).toList();
    }

    /** Every multi-part volume's parts record as watched: for gauges, which may lag a write. */
    List<VolumeParts> allParts() {
        return informers.parts.values().stream().map(Versioned::value).toList();
    }

    /** The volume {@code name} is a part of, or empty when it is no part (the names of parts are reserved). */
    static Optional<String> partOf(String name) {
        return PartNames.parse(name).map(PartNames.Part::volume);
    }

    Optional<String> badIntent(String volume) {
        return events.badIntent(volume);
    }

    Optional<String> badSnapshot(String snapshot) {
        return events.badSnapshot(snapshot);
    }

    Optional<Versioned<Placement>> placement(String volume) {
        return informers.latestPlacements.get(keys.placement(volume));
    }

    Optional<Versioned<Ledger>> ledger(String pool) {
        return informers.latestLedgers.get(keys.ledger(pool));
    }

    Optional<Versioned<VolumeScheduling>> volumeScheduling(String volume) {
        return informers.latestScheduling.get(keys.volumeScheduling(volume)).map(ClusterState::cast);
    }

    Optional<Versioned<SnapshotScheduling>> snapshotScheduling(String snapshot) {
        return informers.latestScheduling.get(keys.snapshotScheduling(snapshot)).map(ClusterState::cast);
    }

    Optional<Versioned<SnapshotIntent>> snapshotIntent(String snapshot) {
        return informers.snapshots.get(keys.snapshot(snapshot));
    }

    Optional<NodeRegistration> registration(String node) {
        return informers.nodes.get(keys.registration(node)).map(v -> (NodeRegistration) v.value());
    }

    boolean nodeAlive(String node) {
        return registration(node).isPresent();
    }

    /** The volume statuses the agents report, counted by phase; every phase is there, zeros included. */
    Map<VolumePhase, Integer> volumePhases() {
        Map<VolumePhase, Integer> counts = new EnumMap<>(VolumePhase.class);
        for (VolumePhase phase : VolumePhase.values()) {
            counts.put(phase, 0);
        }
        for (Versioned<Object> entry : informers.nodes.values()) {
            if (entry.value() instanceof VolumeStatus status && status.phase() != null) {
                counts.merge(status.phase(), 1, Integer::sum);
            }
        }
        return counts;
    }

    Optional<Versioned<WorkItem>> workItem(String node, String volume) {
        return informers.latestWork.get(keys.workItem(node, volume)).map(ClusterState::cast);
    }

    Optional<Versioned<SnapshotWorkItem>> snapshotWorkItem(String node, String snapshot) {
        return informers.latestWork.get(keys.snapshotWorkItem(node, snapshot)).map(ClusterState::cast);
    }

    Optional<VolumeStatus> volumeStatus(String node, String volume) {
        return volumeStatusEntry(node, volume).map(Versioned::value);
    }

    /**
     * The node's status of the volume with its revision. Read through the leader's own writes: the
     * acknowledgement of a deletion order is removed by the leader in the release, and must be gone
     * for the next decision before the watch says so.
     */
    Optional<Versioned<VolumeStatus>> volumeStatusEntry(String node, String volume) {
        return informers.latestNodes.get(keys.volumeStatus(node, volume)).map(ClusterState::cast);
    }

    Optional<SnapshotStatus> snapshotStatus(String node, String snapshot) {
        return informers.nodes.get(keys.snapshotStatus(node, snapshot)).map(v -> (SnapshotStatus) v.value());
    }

    Optional<PoolStatus> poolStatus(String node, String pool) {
        return informers.nodes.get(keys.nodePoolStatus(node, pool)).map(v -> (PoolStatus) v.value());
    }

    /**
     * The node's registration, or while it has none (its agent restarting, its lease lapsed) the last
     * one this process saw; empty for a node never seen registered since this process started.
     */
    Optional<NodeRegistration> lastKnownRegistration(String node) {
        Optional<NodeRegistration> now = registration(node);
        return now.isPresent() ? now : events.lastRegistration(node);
    }

    /** Volumes attached to {@code node}: how it reaches them depends on its registration. */
    Set<String> attachedTo(String node) {
        return volumes.attachedTo(node);
    }

    /**
     * The attachments a volume is served by. A part has none of its own: it is served wherever its
     * volume is attached, since the consumer assembles the volume from every part; except a mirror's
     * retired leg, which is no longer assembled anywhere and is served to no one.
     */
    List<Attachment> attachmentsOf(String volume) {
        Optional<String> owner = partOf(volume);
        if (owner.isPresent() && volumeParts(owner.get()).map(p -> p.value().isRetired(volume)).orElse(false)) {
            return List.of();
        }
        return volumes.attachmentsOf(owner.orElse(volume));
    }

    /** True if {@code part} is a leg its mirror retired: it is deleted, whatever its volume asks. */
    boolean retiredLeg(String part) {
        return partOf(part).flatMap(this::volumeParts).map(p -> p.value().isRetired(part)).orElse(false);
    }

    Iterable<Candidate> candidates() {
        return candidates.all();
    }

    Optional<Candidate> candidate(String pool) {
        return candidates.get(pool);
    }

    Set<String> spreadGroupMembers(String group) {
        return volumes.spreadGroupMembers(group);
    }

    /** Nodes with a work item or a status of the volume, whatever the placement says. */
    Set<String> nodesHolding(String volume) {
        return volumes.nodesHolding(volume);
    }

    Set<String> volumesOn(String node) {
        return volumes.volumesOn(node);
    }

    List<String> snapshotsOf(String volume) {
        List<String> result = new ArrayList<>();
        for (Versioned<SnapshotIntent> s : informers.snapshots.values()) {
            if (s.value().sourceVolume().equals(volume)) {
                result.add(s.value().name());
            }
        }
        return result;
    }

    List<String> volumesFromSnapshot(String snapshot) {
        List<String> result = new ArrayList<>();
        for (Versioned<VolumeIntent> v : informers.volumes.values()) {
            if (snapshot.equals(v.value().sourceSnapshot())) {
                result.add(v.value().name());
            }
        }
        return result;
    }

    // ---- what the watches delivered, without the leader's own writes: for listings and audits ----

    Collection<Versioned<VolumeIntent>> watchedIntents() {
        return informers.volumes.values();
    }

    Collection<Versioned<SnapshotIntent>> watchedSnapshotIntents() {
        return informers.snapshots.values();
    }

    Collection<Versioned<Placement>> watchedPlacements() {
        return informers.placements.values();
    }

    Collection<Versioned<Ledger>> watchedLedgers() {
        return informers.ledgers.values();
    }

    /** The controller's records of volumes ({@link VolumeScheduling}) and snapshots ({@link SnapshotScheduling}). */
    Collection<Versioned<Object>> watchedRecords() {
        return informers.scheduling.values();
    }

    /** Every key under {@code nodes/}: registrations, pool, volume and snapshot statuses. */
    Collection<Versioned<Object>> watchedNodeKeys() {
        return informers.nodes.values();
    }

    // ---- own writes, visible before the watch delivers them ----

    void wrotePlacement(Placement placement, long revision) {
        Placement previous = placement(placement.volume()).map(Versioned::value).orElse(null);
        informers.latestPlacements.wrote(keys.placement(placement.volume()), placement, revision);
        events.placementChanged(previous, placement);
    }

    void removedPlacement(Placement placement, long revision) {
        informers.latestPlacements.removed(keys.placement(placement.volume()), revision);
        events.placementChanged(placement, null);
    }

    void wroteParts(VolumeParts parts, long revision) {
        informers.latestParts.wrote(keys.volumeParts(parts.volume()), parts, revision);
    }

    void removedParts(String volume, long revision) {
        informers.latestParts.removed(keys.volumeParts(volume), revision);
    }

    /** An intent the leader wrote: only ever a part's. */
    void wroteIntent(VolumeIntent intent, long revision) {
        informers.latestIntents.wrote(keys.volume(intent.name()), intent, revision);
    }

    void removedIntent(String volume, long revision) {
        informers.latestIntents.removed(keys.volume(volume), revision);
    }

    void wroteLedger(Ledger ledger, long revision) {
        informers.latestLedgers.wrote(keys.ledger(ledger.pool()), ledger, revision);
        candidates.refresh(ledger.pool());
    }

    void wroteWorkItem(WorkItem work, long revision) {
        informers.latestWork.wrote(keys.workItem(work.node(), work.volume()), work, revision);
        events.holdingChanged(work.node(), work.volume());
    }

    void removedWorkItem(String node, String volume, long revision) {
        informers.latestWork.removed(keys.workItem(node, volume), revision);
        events.holdingChanged(node, volume);
    }

    void removedVolumeStatus(String node, String volume, long revision) {
        informers.latestNodes.removed(keys.volumeStatus(node, volume), revision);
        events.holdingChanged(node, volume);
    }

    void wroteScheduling(String key, Object value, long revision) {
        informers.latestScheduling.wrote(key, value, revision);
    }

    void removedScheduling(String key, long revision) {
        informers.latestScheduling.removed(key, revision);
    }

    void forgetOwnWrites() {
        informers.forgetOwnWrites();
        events.rebuildAllCandidates();
    }

    @SuppressWarnings("unchecked")
    private static <T> Versioned<T> cast(Versioned<?> v) {
        return (Versioned<T>) v;
    }
}
