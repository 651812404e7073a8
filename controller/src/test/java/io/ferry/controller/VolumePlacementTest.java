package io.ferry.controller;

import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.Versioned;
import io.ferry.etcd.testing.MemoryStore;
import io.ferry.model.Ledger;
import io.ferry.model.Placement;
import io.ferry.model.SchedulingPhase;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeScheduling;
import io.ferry.model.WorkItem;
import io.ferry.runtime.informer.InformerOptions;
import io.ferry.runtime.reconcile.RuntimeOptions;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Vertx;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Map;

import static io.ferry.controller.SimulatedAgents.GI;
import static io.ferry.etcd.testing.Await.result;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The controller's volume reconciler on the in-memory store: placing a volume and refusing one
 * that fits nowhere, in a second and without etcd. The cross-process behaviour (two controllers,
 * a leader killed mid-stream) stays in {@code ControllerIT}.
 */
class VolumePlacementTest {

    Vertx vertx;
    MemoryStore store;
    FerryKeys keys;
    SimulatedAgents agents;
    Controller controller;

    @BeforeEach
    void setUp() {
        vertx = Vertx.vertx();
        store = new MemoryStore(new FerryKeys("/ferry"));
        keys = store.keys();
        agents = new SimulatedAgents(vertx, store);
        agents.start();
        agents.addNode("node-1", Map.of());
        agents.addPool("node-1", "pool-1", 10, Map.of());
        ControllerOptions options = new ControllerOptions("c1", Duration.ofSeconds(3), null,
                InformerOptions.defaults(),
                RuntimeOptions.defaults().withDelays(Duration.ofMillis(50), Duration.ofSeconds(1)),
                Duration.ofMinutes(5));
        controller = new Controller(vertx, store, options, new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
        result(controller.start());
        await().atMost(Duration.ofSeconds(10)).until(controller::isLeader);
    }

    @AfterEach
    void tearDown() {
        result(controller.stop());
        agents.close();
        result(vertx.close());
    }

    @Test
    void aVolumeIsPlacedWithItsWorkItemAndItsPoolsLedgerInOneTransaction() {
        result(store.put(keys.volume("vol-a"), VolumeIntent.builder("vol-a", 4 * GI).build()));

        await().atMost(Duration.ofSeconds(10)).until(() -> result(store.get(keys.placement("vol-a"), Placement.class)).isPresent());
        Versioned<Placement> placement = result(store.get(keys.placement("vol-a"), Placement.class)).orElseThrow();
        assertThat(placement.value().pool()).isEqualTo("pool-1");
        Versioned<WorkItem> work = result(store.get(keys.workItem("node-1", "vol-a"), WorkItem.class)).orElseThrow();
        Versioned<Ledger> ledger = result(store.get(keys.ledger("pool-1"), Ledger.class)).orElseThrow();
        assertThat(ledger.value().allocatedBytes()).isEqualTo(4 * GI);
        assertThat(ledger.value().volumeCount()).isEqualTo(1);
        assertThat(work.createRevision()).as("work item written with the placement").isEqualTo(placement.createRevision());
        assertThat(ledger.modRevision()).as("ledger written with the placement").isEqualTo(placement.createRevision());
        VolumeScheduling scheduling = result(store.get(keys.volumeScheduling("vol-a"), VolumeScheduling.class))
                .orElseThrow().value();
        assertThat(scheduling.phase()).isEqualTo(SchedulingPhase.PLACED);
    }

    @Test
    void aVolumeThatFitsNowhereIsRefusedWithTheReasonAndReservesNothing() {
        result(store.put(keys.volume("vol-big"), VolumeIntent.builder("vol-big", 40 * GI).build()));

        await().atMost(Duration.ofSeconds(10))
                .until(() -> result(store.get(keys.volumeScheduling("vol-big"), VolumeScheduling.class)).isPresent());
        VolumeScheduling scheduling = result(store.get(keys.volumeScheduling("vol-big"), VolumeScheduling.class))
                .orElseThrow().value();
        assertThat(scheduling.phase()).isEqualTo(SchedulingPhase.NO_FIT);
        assertThat(scheduling.reasonCounts()).isEqualTo(Map.of("free space", 1));
        assertThat(result(store.get(keys.placement("vol-big"), Placement.class))).isEmpty();
        assertThat(result(store.get(keys.workItem("node-1", "vol-big"), WorkItem.class))).isEmpty();
        assertThat(result(store.get(keys.ledger("pool-1"), Ledger.class)).map(v -> v.value().allocatedBytes()).orElse(0L))
                .isZero();
    }
}
