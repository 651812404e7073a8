package io.ferry.controller;

import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.Leadership;
import io.ferry.etcd.store.Versioned;
import io.ferry.etcd.testing.MemoryStore;
import io.ferry.model.Engine;
import io.ferry.model.Ledger;
import io.ferry.model.NodeRegistration;
import io.ferry.model.Placement;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolSource;
import io.ferry.model.PoolStatus;
import io.ferry.model.VolumeIntent;
import io.ferry.model.WorkItem;
import io.ferry.runtime.informer.InformerOptions;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.function.Supplier;

import static io.ferry.etcd.testing.Await.result;
import static org.awaitility.Awaitility.await;

/**
 * One volume step's surroundings on the in-memory store, without a {@link Controller}: the cluster
 * state (its informers on one context, as in the controller), a leadership won in the store's
 * election, and the shared pieces every step is built from. Keys are written straight to the store,
 * as the agents and the CSI driver would, and a step is run alone on the state's context.
 */
final class VolumeSteps implements AutoCloseable {

    static final long GI = 1L << 30;

    final Vertx vertx = Vertx.vertx();
    final MemoryStore store = new MemoryStore(new FerryKeys("/ferry"));
    final FerryKeys keys = store.keys();
    final SerialLane lane = new SerialLane();
    final WaitingForRoom waitingForRoom = new WaitingForRoom();
    final ClusterState state;
    final DecisionContext ctx;
    final VolumeWork work;
    final VolumeRecord record;
    final Leadership leader;
    private final Context context = vertx.getOrCreateContext();
    private final long lease;

    VolumeSteps() {
        lease = result(store.grantLease(Duration.ofSeconds(30)));
        leader = result(store.campaign(keys.controllerLeader(), lease, "test"));
        SimpleMeterRegistry meters = new SimpleMeterRegistry();
        state = onContext(() -> new ClusterState(vertx, store, InformerOptions.defaults(), meters, new ClusterState.Listener() {
            @Override
            public void volumeChanged(String volume) {
            }

            @Override
            public void snapshotChanged(String snapshot) {
            }

            @Override
            public void capacityChanged() {
            }
        }));
        run(state::start);
        ctx = new DecisionContext(store, state, new ControllerMetrics(meters), () -> Optional.of(leader), Clock.systemUTC());
        work = new VolumeWork(state);
        record = new VolumeRecord(ctx, work, volume -> 0);
    }

    /** A registered node with one file pool of {@code capacityGi}. */
    void pool(String node, String pool, long capacityGi) {
        result(store.put(keys.registration(node), NodeRegistration.of(node, "10.0.0.1", null, SimulatedAgents.hostNqn(node),
                EnumSet.of(Engine.FILE), Map.of(), "test", Instant.now()), lease));
        result(store.put(keys.poolConfig(pool), PoolConfig.builder(pool, node, Engine.FILE, PoolSource.directory("/srv/" + pool))
                .build()));
        result(store.put(keys.nodePoolStatus(node, pool), PoolStatus.of(node, pool, Engine.FILE, capacityGi * GI,
                capacityGi * GI, null, null, List.of(), true, Instant.now())));
        seen(() -> state.candidate(pool).filter(c -> c.status() != null).isPresent());
    }

    /**
     * A volume as the place step leaves it: its intent, placement and work item at generation 1 and
     * its bytes in the pool's ledger. Returns the placement.
     */
    Placement placed(VolumeIntent intent, String node, String pool) {
        Placement placement = Placement.of(intent.name(), pool, node, Engine.FILE, intent.sizeBytes(), intent.thin(), 1,
                null, null, null, Instant.now());
        Ledger ledger = onContext(() -> state.ledger(pool).map(Versioned::value).orElse(Ledger.empty(pool)))
                .add(intent.sizeBytes());
        result(store.put(keys.volume(intent.name()), intent));
        result(store.put(keys.placement(intent.name()), placement));
        result(store.put(keys.workItem(node, intent.name()), work.workFor(placement)));
        result(store.put(keys.ledger(pool), ledger));
        seen(() -> state.placement(intent.name()).isPresent() && state.workItem(node, intent.name()).isPresent()
                && state.ledger(pool).map(l -> l.value().equals(ledger)).orElse(false));
        return placement;
    }

    /** Puts a key and waits until the cluster state has it. */
    void put(String key, Object value, Callable<Boolean> seenBy) {
        result(store.put(key, value));
        seen(seenBy);
    }

    /** Waits until a read of the cluster state, made on its context, holds. */
    void seen(Callable<Boolean> read) {
        await().atMost(Duration.ofSeconds(5)).until(() -> onContext(read));
    }

    <T> T get(String key, Class<T> type) {
        return result(store.get(key, type)).map(Versioned::value).orElse(null);
    }

    <T> Versioned<T> entry(String key, Class<T> type) {
        return result(store.get(key, type)).orElse(null);
    }

    Versioned<WorkItem> workItem(String node, String volume) {
        return entry(keys.workItem(node, volume), WorkItem.class);
    }

    /** Runs a step on the cluster state's context and waits for it. */
    <T> T run(Supplier<Future<T>> step) {
        Promise<T> done = Promise.promise();
        context.runOnContext(v -> step.get().onComplete(done));
        return result(done.future());
    }

    <T> T onContext(Callable<T> read) {
        return run(() -> {
            try {
                return Future.succeededFuture(read.call());
            } catch (Exception e) {
                return Future.failedFuture(e);
            }
        });
    }

    @Override
    public void close() {
        onContext(() -> {
            state.close();
            return null;
        });
        result(vertx.close());
    }
}
