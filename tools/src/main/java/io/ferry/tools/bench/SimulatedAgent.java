package io.ferry.tools.bench;

import io.ferry.etcd.FerryKeys;
import io.ferry.runtime.informer.Informer;
import io.ferry.runtime.informer.InformerHandler;
import io.ferry.runtime.informer.InformerOptions;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.runtime.lease.LeaseSession;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.Engine;
import io.ferry.model.NodeRegistration;
import io.ferry.model.PoolStatus;
import io.ferry.model.VolumePhase;
import io.ferry.model.VolumeStatus;
import io.ferry.model.WorkItem;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * An agent without an engine, for the scale run: it registers its node under a lease of its own,
 * reports one pool, watches only its own work items and statuses, and answers each work item with the
 * status the real agent would write once the volume exists (Ready at the item's generation) or is
 * gone (Deleted), through the same keys, records and codecs. Nothing is created on the machine.
 *
 * <p>Restarted, it does what the real agent does with volumes it finds: it lists its work and its
 * statuses and writes only where a status does not already say what the work asks (re-adoption),
 * so the cost measured is the protocol's, not a simulated device scan.
 */
final class SimulatedAgent {

    private final Vertx vertx;
    private final EtcdStore store;
    private final FerryKeys keys;
    private final String node;
    private final String pool;
    private final long capacityBytes;
    private final Duration leaseTtl;
    private final MeterRegistry meters;
    /**
     * A thousand simulated agents share one etcd client, where each real agent has its own. An
     * idle watch's probe (a progress request) goes to every watch stream of its client, so at the
     * default interval the agents' probes reached each other's two thousand watches and drowned etcd
     * in progress notifications: a cost of sharing the client that no real cluster pays. They probe
     * rarely instead.
     */
    private static final InformerOptions INFORMERS = InformerOptions.defaults().withWatchdogInterval(Duration.ofMinutes(30));
    private LeaseSession lease;
    private Informer<VolumeStatus> statuses;
    private Informer<WorkItem> work;
    /** Writes issued while the first listing of the work was delivered: what a (re)start waits for. */
    private List<Future<?>> startupWrites;
    private volatile long statusWrites;

    SimulatedAgent(Vertx vertx, EtcdStore store, String node, String pool, long capacityBytes, Duration leaseTtl,
                   MeterRegistry meters) {
        this.vertx = vertx;
        this.store = store;
        this.keys = store.keys();
        this.node = node;
        this.pool = pool;
        this.capacityBytes = capacityBytes;
        this.leaseTtl = leaseTtl;
        this.meters = meters;
    }

    String node() {
        return node;
    }

    String pool() {
        return pool;
    }

    /** Status writes since this agent was created (answers and re-adoptions). */
    long statusWrites() {
        return statusWrites;
    }

    /**
     * Registers, reports the pool, loads the statuses, then the work, answering every item that
     * needs it; completes once those answers are written.
     */
    Future<Void> start() {
        startupWrites = new ArrayList<>();
        statuses = new Informer<>(vertx, store, keys.volumeStatuses(node), VolumeStatus.class, new InformerHandler<>() {
            @Override
            public void onUpsert(Versioned<VolumeStatus> current, Versioned<VolumeStatus> previous) {
            }

            @Override
            public void onDelete(String key, Versioned<VolumeStatus> lastKnown) {
            }
        }, INFORMERS, meters);
        work = new Informer<>(vertx, store, keys.workItems(node), WorkItem.class, new InformerHandler<>() {
            @Override
            public void onUpsert(Versioned<WorkItem> current, Versioned<WorkItem> previous) {
                Future<?> written = answer(current.value());
                List<Future<?>> starting = startupWrites;
                if (starting != null && written != null) {
                    synchronized (starting) {
                        starting.add(written);
                    }
                }
            }

            @Override
            public void onDelete(String key, Versioned<WorkItem> lastKnown) {
                // The controller withdraws an order once it has taken the Deleted acknowledgement
                // along with the release: nothing is left for the agent to do.
            }
        }, INFORMERS, meters);
        return LeaseSession.open(vertx, store, leaseTtl, this::register, () -> { })
                .compose(session -> {
                    lease = session;
                    return register(session.leaseId());
                })
                .compose(v -> store.put(keys.nodePoolStatus(node, pool), PoolStatus.of(node, pool, Engine.FILE,
                        capacityBytes, capacityBytes, null, null, List.of(), true, Instant.now())))
                .compose(v -> statuses.start())
                .compose(v -> work.start())
                .compose(v -> {
                    List<Future<?>> writes;
                    synchronized (startupWrites) {
                        writes = new ArrayList<>(startupWrites);
                    }
                    startupWrites = null;
                    return Future.all(writes);
                })
                .mapEmpty();
    }

    private Future<Long> register(long leaseId) {
        return store.put(keys.registration(node), NodeRegistration.of(node, "127.0.0.1", null,
                BenchCluster.hostNqn(node), EnumSet.of(Engine.FILE), Map.of("zone", "z" + Math.abs(node.hashCode() % 3)),
                "sim", Instant.now()), leaseId);
    }

    /** The status the work asks for, written unless the stored one already says it; null when nothing is written. */
    private Future<Long> answer(WorkItem item) {
        String key = keys.volumeStatus(node, item.volume());
        Optional<VolumeStatus> stored = statuses.get(key).map(Versioned::value);
        VolumePhase wanted = item.deletionRequested() ? VolumePhase.DELETED : VolumePhase.READY;
        if (stored.isPresent() && stored.get().phase() == wanted && stored.get().observedGeneration() >= item.generation()) {
            return null;
        }
        VolumeStatus status = item.deletionRequested()
                ? VolumeStatus.of(item.volume(), node, item.pool(), VolumePhase.DELETED, null, 0, null, item.generation(),
                        null, Instant.now())
                : VolumeStatus.of(item.volume(), node, item.pool(), VolumePhase.READY, "/dev/sim/" + item.volume(),
                        item.sizeBytes(), null, item.generation(), null, Instant.now());
        statusWrites++;
        return store.put(key, status);
    }

    /** Stops as an agent shut down: watches closed, lease revoked (its registration goes at once). */
    Future<Void> stop() {
        if (work != null) {
            work.close();
        }
        if (statuses != null) {
            statuses.close();
        }
        LeaseSession session = lease;
        lease = null;
        return session == null ? Future.succeededFuture() : session.revoke();
    }
}
