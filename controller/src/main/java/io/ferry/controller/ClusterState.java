package io.ferry.controller;

import io.ferry.placement.Candidate;
import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.FerryKeys.KeyRef;
import io.ferry.runtime.informer.Informer;
import io.ferry.runtime.informer.InformerHandler;
import io.ferry.runtime.informer.InformerOptions;
import io.ferry.etcd.store.Store;
import io.ferry.etcd.store.RawEntry;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.Attachment;
import io.ferry.model.GlobalConfig;
import io.ferry.model.Ledger;
import io.ferry.model.NodeRegistration;
import io.ferry.model.Placement;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolStatus;
import io.ferry.model.SnapshotIntent;
import io.ferry.model.SnapshotScheduling;
import io.ferry.model.SnapshotStatus;
import io.ferry.model.SnapshotWorkItem;
import io.ferry.model.ValidationException;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeScheduling;
import io.ferry.model.VolumePhase;
import io.ferry.model.VolumeStatus;
import io.ferry.model.WorkItem;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;

import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Consumer;
import java.util.function.BiConsumer;

/**
 * Everything the controller reads, kept current by informers, plus the indexes a decision needs
 * (one {@link Candidate} per pool, spread groups, volumes per node, remote volumes served per node).
 * Indexes are updated incrementally on each event, so a decision never scans all placements.
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
    private final Listener listener;

    final Informer<GlobalConfig> global;
    final Informer<PoolConfig> pools;
    final Informer<Object> nodes;
    /** The work items this controller gave, under {@link FerryKeys#work()}; typed and handled like node keys. */
    final Informer<Object> work;
    final Informer<VolumeIntent> volumes;
    final Informer<SnapshotIntent> snapshots;
    final Informer<Attachment> attachments;
    final Informer<Placement> placementInformer;
    final Informer<Ledger> ledgerInformer;
    final Informer<Object> scheduling;
    final Latest<Placement> placements;
    final Latest<Ledger> ledgers;
    final Latest<Object> schedulingLatest;
    final Latest<Object> nodesLatest;
    final Latest<Object> workLatest;

    private final Map<String, Candidate> candidates = new HashMap<>();
    /** The same candidates as a list, rebuilt lazily: iterating it is the inner loop of every decision. */
    private List<Candidate> candidateList;
    private final Map<String, Integer> candidateIndex = new HashMap<>();
    private final Map<String, Set<String>> poolsByNode = new HashMap<>();
    private final Map<String, Set<String>> volumesByNode = new HashMap<>();
    /** Nodes holding a work item or a status of each volume: where its data is if its placement goes. */
    private final Map<String, Set<String>> nodesHolding = new HashMap<>();
    private final Map<String, Integer> remoteServed = new HashMap<>();
    private final Map<String, Set<String>> spreadGroups = new HashMap<>();
    /** Attachments per volume: every converge asks for its volume's, so they must not be found by a scan. */
    private final Map<String, Map<String, Attachment>> attachmentsByVolume = new HashMap<>();
    /** The last registration this process saw of each node, kept while the node is not registered. */
    private final Map<String, NodeRegistration> lastRegistrations = new HashMap<>();
    private final Map<String, String> badIntents = new HashMap<>();
    private final Map<String, String> badSnapshots = new HashMap<>();

    ClusterState(Vertx vertx, Store store, InformerOptions options, MeterRegistry meters, Listener listener) {
        this.keys = store.keys();
        this.listener = listener;
        String globalKey = keys.globalConfig();
        global = new Informer<>(vertx, store, globalKey, key -> key.equals(globalKey) ? GlobalConfig.class : null,
                handler(v -> rebuildAllCandidates(), (k, v) -> rebuildAllCandidates()), options, meters);
        pools = new Informer<>(vertx, store, keys.poolConfigs(), PoolConfig.class,
                handler(v -> poolConfigChanged(v.value().name()), (k, v) -> poolConfigChanged(name(k))), options, meters);
        nodes = new Informer<>(vertx, store, keys.nodes(), this::nodeKeyType,
                observed(handler(v -> nodeKeyChanged(v.key()), (k, v) -> nodeKeyChanged(k))), options, meters);
        work = new Informer<>(vertx, store, keys.work(), this::nodeKeyType,
                handler(v -> nodeKeyChanged(v.key()), (k, v) -> nodeKeyChanged(k)), options, meters);
        volumes = new Informer<>(vertx, store, keys.volumes(), VolumeIntent.class, observed(new InformerHandler<>() {
            @Override
            public void onUpsert(Versioned<VolumeIntent> current, Versioned<VolumeIntent> previous) {
                badIntents.remove(current.value().name());
                indexSpreadGroup(current.value().name(), previous == null ? null : previous.value().spreadGroup(),
                        current.value().spreadGroup());
                listener.volumeChanged(current.value().name());
            }

            @Override
            public void onDelete(String key, Versioned<VolumeIntent> lastKnown) {
                String name = name(key);
                badIntents.remove(name);
                indexSpreadGroup(name, lastKnown == null ? null : lastKnown.value().spreadGroup(), null);
                listener.volumeChanged(name);
                if (lastKnown != null && lastKnown.value().sourceSnapshot() != null) {
                    // A snapshot waiting to be deleted was held back by this volume.
                    listener.snapshotChanged(lastKnown.value().sourceSnapshot());
                }
            }

            @Override
            public void onBadValue(RawEntry raw, ValidationException error) {
                String name = name(raw.key());
                if (name != null) {
                    badIntents.put(name, error.getMessage());
                    listener.volumeChanged(name);
                }
            }
        }), options, meters);
        snapshots = new Informer<>(vertx, store, keys.snapshots(), SnapshotIntent.class, observed(new InformerHandler<>() {
            @Override
            public void onUpsert(Versioned<SnapshotIntent> current, Versioned<SnapshotIntent> previous) {
                badSnapshots.remove(current.value().name());
                listener.snapshotChanged(current.value().name());
            }

            @Override
            public void onDelete(String key, Versioned<SnapshotIntent> lastKnown) {
                badSnapshots.remove(name(key));
                listener.snapshotChanged(name(key));
                if (lastKnown != null) {
                    // Its origin may be waiting for its snapshots to go before it can be deleted.
                    listener.volumeChanged(lastKnown.value().sourceVolume());
                }
            }

            @Override
            public void onBadValue(RawEntry raw, ValidationException error) {
                String name = name(raw.key());
                if (name != null) {
                    badSnapshots.put(name, error.getMessage());
                    listener.snapshotChanged(name);
                }
            }
        }), options, meters);
        attachments = new Informer<>(vertx, store, keys.attachments(), Attachment.class,
                observed(handler(v -> {
                    attachmentsByVolume.computeIfAbsent(v.value().volume(), k -> new TreeMap<>())
                            .put(v.value().node(), v.value());
                    listener.volumeChanged(v.value().volume());
                }, (k, v) -> keys.parse(k).ifPresent(ref -> {
                    String volume = ref.names().get(0);
                    Map<String, Attachment> byNode = attachmentsByVolume.get(volume);
                    if (byNode != null) {
                        byNode.remove(ref.names().get(1));
                        if (byNode.isEmpty()) {
                            attachmentsByVolume.remove(volume);
                        }
                    }
                    listener.volumeChanged(volume);
                }))), options, meters);
        placementInformer = new Informer<>(vertx, store, keys.placements(), Placement.class, observed(new InformerHandler<>() {
            @Override
            public void onUpsert(Versioned<Placement> current, Versioned<Placement> previous) {
                indexPlacement(previous == null ? null : previous.value(), current.value());
                listener.volumeChanged(current.value().volume());
                if (previous == null || !previous.value().pool().equals(current.value().pool())
                        || previous.value().sizeBytes() != current.value().sizeBytes()) {
                    // A placement rebuilt (or removed by hand) moves no ledger by itself: the audit
                    // counts its bytes once, now rather than at the next resync.
                    listener.ledgerChanged(current.value().pool());
                }
            }

            @Override
            public void onDelete(String key, Versioned<Placement> lastKnown) {
                if (lastKnown != null) {
                    indexPlacement(lastKnown.value(), null);
                    listener.ledgerChanged(lastKnown.value().pool());
                }
                listener.volumeChanged(name(key));
            }
        }), options, meters);
        ledgerInformer = new Informer<>(vertx, store, keys.ledgers(), Ledger.class,
                handler(v -> ledgerChanged(v.value().pool()), (k, v) -> ledgerChanged(name(k))), options, meters);
        String schedulingPrefix = keys.prefix() + "/controller/";
        scheduling = new Informer<>(vertx, store, schedulingPrefix, key -> {
            if (key.startsWith(keys.volumeSchedulings())) {
                return VolumeScheduling.class;
            }
            return key.startsWith(keys.snapshotSchedulings()) ? SnapshotScheduling.class : null;
        }, observed(new InformerHandler<>() {
            @Override
            public void onUpsert(Versioned<Object> current, Versioned<Object> previous) {
                // A snapshot's record is its allocation record: a change to where it is (by hand, say)
                // is an input. What it merely says (message, conditions: a failed pass's attempt
                // count) is not, or every failure recorded would rerun the snapshot past its backoff.
                if (current.value() instanceof SnapshotScheduling s && !(previous != null
                        && previous.value() instanceof SnapshotScheduling p && sameAllocation(p, s))) {
                    listener.snapshotChanged(s.snapshot());
                    volumesFromSnapshot(s.snapshot()).forEach(listener::volumeChanged);
                }
            }

            @Override
            public void onDelete(String key, Versioned<Object> lastKnown) {
            }
        }), options, meters);
        placements = new Latest<>(placementInformer);
        ledgers = new Latest<>(ledgerInformer);
        schedulingLatest = new Latest<>(scheduling);
        nodesLatest = new Latest<>(nodes);
        workLatest = new Latest<>(work);
    }

    /** Starts every informer; completes once each has delivered its first listing. */
    Future<Void> start() {
        // Ledgers and pools first so that candidates exist before placements index remote counts.
        return global.start()
                .compose(v -> ledgerInformer.start())
                .compose(v -> pools.start())
                .compose(v -> nodes.start())
                .compose(v -> work.start())
                .compose(v -> placementInformer.start())
                .compose(v -> scheduling.start())
                .compose(v -> snapshots.start())
                .compose(v -> attachments.start())
                .compose(v -> volumes.start());
    }

    /** Every informer the controller's decisions read from. */
    List<Informer<?>> informers() {
        return List.of(global, pools, nodes, work, volumes, snapshots, attachments, placementInformer, ledgerInformer, scheduling);
    }

    void close() {
        informers().forEach(Informer::close);
    }

    // ---- reads used by reconcilers and the API ----

    GlobalConfig globalConfig() {
        return global.get(keys.globalConfig()).map(Versioned::value).orElse(GlobalConfig.defaults());
    }

    Optional<Versioned<VolumeIntent>> intent(String volume) {
        return volumes.get(keys.volume(volume));
    }

    Optional<String> badIntent(String volume) {
        return Optional.ofNullable(badIntents.get(volume));
    }

    Optional<String> badSnapshot(String snapshot) {
        return Optional.ofNullable(badSnapshots.get(snapshot));
    }

    Optional<Versioned<Placement>> placement(String volume) {
        return placements.get(keys.placement(volume));
    }

    Optional<Versioned<Ledger>> ledger(String pool) {
        return ledgers.get(keys.ledger(pool));
    }

    Optional<Versioned<VolumeScheduling>> volumeScheduling(String volume) {
        return schedulingLatest.get(keys.volumeScheduling(volume)).map(ClusterState::cast);
    }

    Optional<Versioned<SnapshotScheduling>> snapshotScheduling(String snapshot) {
        return schedulingLatest.get(keys.snapshotScheduling(snapshot)).map(ClusterState::cast);
    }

    Optional<Versioned<SnapshotIntent>> snapshotIntent(String snapshot) {
        return snapshots.get(keys.snapshot(snapshot));
    }

    Optional<NodeRegistration> registration(String node) {
        return nodes.get(keys.registration(node)).map(v -> (NodeRegistration) v.value());
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
        for (Versioned<Object> entry : nodes.values()) {
            if (entry.value() instanceof VolumeStatus status && status.phase() != null) {
                counts.merge(status.phase(), 1, Integer::sum);
            }
        }
        return counts;
    }

    Optional<Versioned<WorkItem>> workItem(String node, String volume) {
        return workLatest.get(keys.workItem(node, volume)).map(ClusterState::cast);
    }

    Optional<Versioned<SnapshotWorkItem>> snapshotWorkItem(String node, String snapshot) {
        return workLatest.get(keys.snapshotWorkItem(node, snapshot)).map(ClusterState::cast);
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
        return nodesLatest.get(keys.volumeStatus(node, volume)).map(ClusterState::cast);
    }

    Optional<SnapshotStatus> snapshotStatus(String node, String snapshot) {
        return nodes.get(keys.snapshotStatus(node, snapshot)).map(v -> (SnapshotStatus) v.value());
    }

    Optional<PoolStatus> poolStatus(String node, String pool) {
        return nodes.get(keys.nodePoolStatus(node, pool)).map(v -> (PoolStatus) v.value());
    }

    /**
     * The node's registration, or while it has none (its agent restarting, its lease lapsed) the last
     * one this process saw; empty for a node never seen registered since this process started.
     */
    Optional<NodeRegistration> lastKnownRegistration(String node) {
        Optional<NodeRegistration> now = registration(node);
        return now.isPresent() ? now : Optional.ofNullable(lastRegistrations.get(node));
    }

    /**
     * Volumes attached to {@code node}: how it reaches them depends on its registration. A scan, but
     * only when a registration changes, which is rare.
     */
    Set<String> attachedTo(String node) {
        Set<String> volumes = new HashSet<>();
        attachmentsByVolume.forEach((volume, byNode) -> {
            if (byNode.containsKey(node)) {
                volumes.add(volume);
            }
        });
        return volumes;
    }

    List<Attachment> attachmentsOf(String volume) {
        Map<String, Attachment> byNode = attachmentsByVolume.get(volume);
        return byNode == null ? List.of() : List.copyOf(byNode.values());
    }

    Iterable<Candidate> candidates() {
        if (candidateList == null) {
            candidateList = new ArrayList<>(candidates.values());
            candidateIndex.clear();
            for (int i = 0; i < candidateList.size(); i++) {
                candidateIndex.put(candidateList.get(i).pool(), i);
            }
        }
        return candidateList;
    }

    /** Ledger and status updates replace one element in place; only pool removal rebuilds the list. */
    private void candidatePut(String pool, Candidate candidate) {
        candidates.put(pool, candidate);
        if (candidateList == null) {
            return;
        }
        Integer at = candidateIndex.get(pool);
        if (at != null) {
            candidateList.set(at, candidate);
        } else {
            candidateIndex.put(pool, candidateList.size());
            candidateList.add(candidate);
        }
    }

    Optional<Candidate> candidate(String pool) {
        return Optional.ofNullable(candidates.get(pool));
    }

    Set<String> spreadGroupMembers(String group) {
        return spreadGroups.getOrDefault(group, Set.of());
    }

    /** Nodes with a work item or a status of the volume, whatever the placement says. */
    Set<String> nodesHolding(String volume) {
        return Collections.unmodifiableSet(nodesHolding.getOrDefault(volume, Set.of()));
    }

    private void indexHolding(String node, String volume) {
        // An acknowledged deletion (status Deleted) holds nothing any more.
        if (workItem(node, volume).isPresent()
                || volumeStatus(node, volume).filter(st -> st.phase() != VolumePhase.DELETED).isPresent()) {
            nodesHolding.computeIfAbsent(volume, v -> new TreeSet<>()).add(node);
        } else {
            Set<String> holding = nodesHolding.get(volume);
            if (holding != null && holding.remove(node) && holding.isEmpty()) {
                nodesHolding.remove(volume);
            }
        }
    }

    Set<String> volumesOn(String node) {
        return volumesByNode.getOrDefault(node, Set.of());
    }

    List<String> snapshotsOf(String volume) {
        List<String> result = new ArrayList<>();
        for (Versioned<SnapshotIntent> s : snapshots.values()) {
            if (s.value().sourceVolume().equals(volume)) {
                result.add(s.value().name());
            }
        }
        return result;
    }

    List<String> volumesFromSnapshot(String snapshot) {
        List<String> result = new ArrayList<>();
        for (Versioned<VolumeIntent> v : volumes.values()) {
            if (snapshot.equals(v.value().sourceSnapshot())) {
                result.add(v.value().name());
            }
        }
        return result;
    }

    boolean synced() {
        return informers().stream().allMatch(Informer::synced);
    }

    // ---- own writes, visible before the watch delivers them ----

    void wrotePlacement(Placement placement, long revision) {
        Placement previous = placement(placement.volume()).map(Versioned::value).orElse(null);
        placements.wrote(keys.placement(placement.volume()), placement, revision);
        indexPlacement(previous, placement);
    }

    void removedPlacement(Placement placement, long revision) {
        placements.removed(keys.placement(placement.volume()), revision);
        indexPlacement(placement, null);
    }

    void wroteLedger(Ledger ledger, long revision) {
        ledgers.wrote(keys.ledger(ledger.pool()), ledger, revision);
        refreshCandidate(ledger.pool());
    }

    void wroteWorkItem(WorkItem work, long revision) {
        workLatest.wrote(keys.workItem(work.node(), work.volume()), work, revision);
        indexHolding(work.node(), work.volume());
    }

    void removedWorkItem(String node, String volume, long revision) {
        workLatest.removed(keys.workItem(node, volume), revision);
        indexHolding(node, volume);
    }

    void removedVolumeStatus(String node, String volume, long revision) {
        nodesLatest.removed(keys.volumeStatus(node, volume), revision);
        indexHolding(node, volume);
    }

    void wroteScheduling(String key, Object value, long revision) {
        schedulingLatest.wrote(key, value, revision);
    }

    void removedScheduling(String key, long revision) {
        schedulingLatest.removed(key, revision);
    }

    void forgetOwnWrites() {
        placements.reset();
        ledgers.reset();
        schedulingLatest.reset();
        nodesLatest.reset();
        workLatest.reset();
        rebuildAllCandidates();
    }

    // ---- index maintenance ----

    private Class<?> nodeKeyType(String key) {
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

    private void nodeKeyChanged(String key) {
        KeyRef ref = keys.parse(key).orElse(null);
        if (ref == null) {
            return;
        }
        String node = ref.names().get(0);
        switch (ref.kind()) {
            case NODE_REGISTRATION -> {
                registration(node).ifPresent(r -> lastRegistrations.put(node, r));
                poolsByNode.getOrDefault(node, Set.of()).forEach(this::refreshCandidate);
                volumesOn(node).forEach(listener::volumeChanged);
                attachedTo(node).forEach(listener::volumeChanged);
                listener.capacityChanged();
            }
            case NODE_POOL_STATUS -> {
                refreshCandidate(ref.name());
                listener.capacityChanged();
            }
            case NODE_WORK, NODE_VOLUME_STATUS -> {
                indexHolding(node, ref.name());
                listener.volumeChanged(ref.name());
            }
            case NODE_SNAPSHOT_WORK, NODE_SNAPSHOT_STATUS -> {
                listener.snapshotChanged(ref.name());
                volumesFromSnapshot(ref.name()).forEach(listener::volumeChanged);
            }
            default -> { }
        }
    }

    private void poolConfigChanged(String pool) {
        if (pool == null) {
            return;
        }
        candidates.values().stream().filter(c -> c.pool().equals(pool)).findFirst()
                .ifPresent(old -> poolsByNode.getOrDefault(old.node(), new HashSet<>()).remove(pool));
        refreshCandidate(pool);
        listener.capacityChanged();
    }

    private void ledgerChanged(String pool) {
        if (pool != null) {
            refreshCandidate(pool);
            listener.capacityChanged();
            listener.ledgerChanged(pool);
        }
    }

    private void rebuildAllCandidates() {
        candidates.clear();
        candidateList = null;
        poolsByNode.clear();
        for (Versioned<PoolConfig> pool : pools.values()) {
            refreshCandidate(pool.value().name());
        }
        listener.capacityChanged();
    }

    void refreshCandidate(String pool) {
        Optional<Versioned<PoolConfig>> config = pools.get(keys.poolConfig(pool));
        if (config.isEmpty()) {
            Candidate gone = candidates.remove(pool);
            candidateList = null;
            if (gone != null) {
                poolsByNode.getOrDefault(gone.node(), new HashSet<>()).remove(pool);
            }
            return;
        }
        PoolConfig c = config.get().value();
        Versioned<Ledger> ledger = ledger(pool).orElse(null);
        candidatePut(pool, Candidate.of(c, poolStatus(c.node(), pool).orElse(null), registration(c.node()).orElse(null),
                ledger == null ? null : ledger.value(), ledger == null ? 0 : ledger.modRevision(),
                remoteServed.getOrDefault(c.node(), 0), globalConfig()));
        poolsByNode.computeIfAbsent(c.node(), n -> new HashSet<>()).add(pool);
    }

    private void indexPlacement(Placement before, Placement after) {
        if (before != null) {
            Set<String> onNode = volumesByNode.get(before.node());
            if (onNode != null) {
                onNode.remove(before.volume());
            }
            if (before.servedRemotely()) {
                adjustRemote(before.node(), -1);
            }
        }
        if (after != null) {
            volumesByNode.computeIfAbsent(after.node(), n -> new HashSet<>()).add(after.volume());
            if (after.servedRemotely()) {
                adjustRemote(after.node(), +1);
            }
        }
    }

    private void adjustRemote(String node, int delta) {
        int value = Math.max(0, remoteServed.getOrDefault(node, 0) + delta);
        remoteServed.put(node, value);
        for (String pool : poolsByNode.getOrDefault(node, Set.of())) {
            Candidate c = candidates.get(pool);
            if (c != null) {
                candidatePut(pool, c.withRemoteServed(value));
            }
        }
    }

    private void indexSpreadGroup(String volume, String before, String after) {
        if (before != null && !before.equals(after)) {
            Set<String> members = spreadGroups.get(before);
            if (members != null) {
                members.remove(volume);
                if (members.isEmpty()) {
                    spreadGroups.remove(before);
                }
            }
        }
        if (after != null) {
            spreadGroups.computeIfAbsent(after, g -> new HashSet<>()).add(volume);
        }
    }

    private static boolean sameAllocation(SnapshotScheduling a, SnapshotScheduling b) {
        return a.phase() == b.phase() && Objects.equals(a.node(), b.node())
                && Objects.equals(a.pool(), b.pool()) && a.sizeBytes() == b.sizeBytes();
    }

    private String name(String key) {
        return keys.parse(key).map(KeyRef::name).orElse(null);
    }

    @SuppressWarnings("unchecked")
    private static <T> Versioned<T> cast(Versioned<?> v) {
        return (Versioned<T>) v;
    }

    /** Tells the listener every value's before and after, once {@code inner} has updated the indexes. */
    private <T> InformerHandler<T> observed(InformerHandler<T> inner) {
        return new InformerHandler<>() {
            @Override
            public void onUpsert(Versioned<T> current, Versioned<T> previous) {
                inner.onUpsert(current, previous);
                listener.valueChanged(previous == null ? null : previous.value(), current.value());
            }

            @Override
            public void onDelete(String key, Versioned<T> lastKnown) {
                inner.onDelete(key, lastKnown);
                if (lastKnown != null) {
                    listener.valueChanged(lastKnown.value(), null);
                }
            }

            @Override
            public void onBadValue(RawEntry raw, ValidationException error) {
                inner.onBadValue(raw, error);
            }

            @Override
            public void onSynced(long revision) {
                inner.onSynced(revision);
            }
        };
    }

    private static <T> InformerHandler<T> handler(Consumer<Versioned<T>> upsert,
                                                  BiConsumer<String, Versioned<T>> delete) {
        return new InformerHandler<>() {
            @Override
            public void onUpsert(Versioned<T> current, Versioned<T> previous) {
                upsert.accept(current);
            }

            @Override
            public void onDelete(String key, Versioned<T> lastKnown) {
                delete.accept(key, lastKnown);
            }
        };
    }
}
