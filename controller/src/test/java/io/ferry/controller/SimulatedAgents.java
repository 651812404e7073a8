package io.ferry.controller;

import io.ferry.etcd.FerryKeys;
import io.ferry.runtime.informer.Informer;
import io.ferry.runtime.informer.InformerHandler;
import io.ferry.runtime.informer.InformerOptions;
import io.ferry.etcd.store.Store;
import io.ferry.runtime.lease.LeaseSession;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.Engine;
import io.ferry.model.NodeRegistration;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolSource;
import io.ferry.model.PoolStatus;
import io.ferry.model.SnapshotStatus;
import io.ferry.model.SnapshotWorkItem;
import io.ferry.model.VolumePhase;
import io.ferry.model.VolumeStatus;
import io.ferry.model.WorkItem;
import io.vertx.core.Vertx;

import java.time.Duration;
import java.time.Instant;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import static io.ferry.etcd.testing.Await.result;

/**
 * Stands in for agents in controller tests: registers nodes under real leases, reports pools, and
 * answers work items by writing volume and snapshot statuses (and, once withdrawn, deleting a snapshot's). The
 * real agent is tested against real devices in the agent module; here only the key protocol matters.
 */
final class SimulatedAgents implements AutoCloseable {

    static final long GI = 1L << 30;
    static final String HOST_NQN_PREFIX = "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-";

    private final Vertx vertx;
    private final Store store;
    private final FerryKeys keys;
    private final Map<String, LeaseSession> leases = new ConcurrentHashMap<>();
    private final Set<String> paused = ConcurrentHashMap.newKeySet();
    private Informer<Object> work;

    SimulatedAgents(Vertx vertx, Store store) {
        this.vertx = vertx;
        this.store = store;
        this.keys = store.keys();
    }

    void start() {
        work = new Informer<>(vertx, store, keys.work(), key -> {
            var ref = keys.parse(key).orElse(null);
            if (ref == null) {
                return null;
            }
            return switch (ref.kind()) {
                case NODE_WORK -> WorkItem.class;
                case NODE_SNAPSHOT_WORK -> SnapshotWorkItem.class;
                default -> null;
            };
        }, new InformerHandler<>() {
            @Override
            public void onUpsert(Versioned<Object> current, Versioned<Object> previous) {
                answer(current.value());
            }

            @Override
            public void onDelete(String key, Versioned<Object> lastKnown) {
                if (lastKnown != null) {
                    withdraw(lastKnown.value());
                }
            }
        }, InformerOptions.defaults(), null);
        result(work.start());
    }

    static String hostNqn(String node) {
        return HOST_NQN_PREFIX + String.format("%012d", Math.abs(node.hashCode()) % 1_000_000_000_000L);
    }

    void addNode(String node, Map<String, String> labels) {
        LeaseSession session = result(LeaseSession.open(vertx, store, Duration.ofSeconds(3),
                lease -> register(node, labels, lease), () -> { }));
        leases.put(node, session);
        register(node, labels, session.leaseId());
    }

    /** Registers the node again, on its lease, saying it runs on machine {@code machineId} (null: not saying). */
    void onMachine(String node, String machineId) {
        NodeRegistration current = result(store.get(keys.registration(node), NodeRegistration.class)).map(Versioned::value)
                .orElseGet(() -> NodeRegistration.of(node, "10.0.0.1", null, hostNqn(node),
                        EnumSet.of(Engine.FILE, Engine.LVM, Engine.LVM_THIN), Map.of(), "sim", Instant.now()));
        result(store.put(keys.registration(node), current.withMachineId(machineId), leases.get(node).leaseId()));
    }

    /** Withdraws the node's registration, as when its agent stops; {@link #onMachine} registers it again. */
    void unregister(String node) {
        result(store.delete(keys.registration(node)));
    }

    private void register(String node, Map<String, String> labels, long lease) {
        result(store.put(keys.registration(node), NodeRegistration.of(node, "10.0.0.1", null, hostNqn(node),
                EnumSet.of(Engine.FILE, Engine.LVM, Engine.LVM_THIN), labels, "sim", Instant.now()), lease));
    }

    void addPool(String node, String pool, long capacityGi, Map<String, String> labels) {
        result(store.put(keys.poolConfig(pool), PoolConfig.builder(pool, node, Engine.FILE, PoolSource.directory("/srv/" + pool))
                .labels(labels).build()));
        result(store.put(keys.nodePoolStatus(node, pool), PoolStatus.of(node, pool, Engine.FILE, capacityGi * GI,
                capacityGi * GI, null, null, List.of(), true, Instant.now())));
    }

    /** The node's agent dies: its lease is revoked, so its registration disappears at once. */
    void killNode(String node) {
        LeaseSession session = leases.remove(node);
        if (session != null) {
            result(session.revoke());
        }
    }

    /** The node's agent stops answering work (statuses stay as they are) until resumed. */
    void pause(String node) {
        paused.add(node);
    }

    /** Resumes and catches up on every work item and withdrawal it missed. */
    void resume(String node) {
        paused.remove(node);
        Map<String, Object> workNow = new HashMap<>();
        work.values().forEach(v -> workNow.put(v.key(), v.value()));
        workNow.values().forEach(this::answer);
    }

    private void answer(Object item) {
        // Like a real agent: a deletion order is carried out and acknowledged with a Deleted status.
        if (item instanceof WorkItem w && !paused.contains(w.node())) {
            store.put(keys.volumeStatus(w.node(), w.volume()), w.deletionRequested()
                    ? VolumeStatus.of(w.volume(), w.node(), VolumePhase.DELETED, null, 0, null, w.generation(), null, Instant.now())
                    : VolumeStatus.of(w.volume(), w.node(), VolumePhase.READY, "/dev/loop7", w.sizeBytes(), null,
                            w.generation(), null, Instant.now()));
        } else if (item instanceof SnapshotWorkItem s && !paused.contains(s.node())) {
            store.put(keys.snapshotStatus(s.node(), s.snapshot()), SnapshotStatus.of(s.snapshot(), s.sourceVolume(), s.node(),
                    s.pool(), s.sizeBytes(), !s.deletionRequested(),
                    s.deletionRequested() ? VolumePhase.DELETED : VolumePhase.READY, null, s.generation(), Instant.now()));
        }
    }

    /**
     * Like a real agent: a withdrawn snapshot order's Deleted status is dropped; any other status is
     * kept. A volume's Deleted status is left alone: the controller removes it with the order.
     */
    private void withdraw(Object item) {
        if (item instanceof SnapshotWorkItem s && !paused.contains(s.node())) {
            String key = keys.snapshotStatus(s.node(), s.snapshot());
            store.get(key, SnapshotStatus.class).onSuccess(st -> st.filter(v -> v.value().phase() == VolumePhase.DELETED)
                    .ifPresent(v -> store.delete(key)));
        }
    }

    @Override
    public void close() {
        if (work != null) {
            work.close();
        }
        leases.values().forEach(LeaseSession::revoke);
    }
}
