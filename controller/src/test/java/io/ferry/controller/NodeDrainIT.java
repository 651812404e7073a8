package io.ferry.controller;

import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.store.Versioned;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.model.Attachment;
import io.ferry.model.Condition;
import io.ferry.model.Layout;
import io.ferry.model.MirrorReport;
import io.ferry.model.MirrorReport.LegState;
import io.ferry.model.NodeDrain;
import io.ferry.model.PartMove;
import io.ferry.model.Placement;
import io.ferry.model.PoolConfig;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeParts;
import io.ferry.model.VolumeScheduling;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static io.ferry.controller.SimulatedAgents.GI;
import static io.ferry.etcd.testing.Await.result;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A node drained of its mirror legs, against a real etcd with simulated agents: the controller asks each
 * leg on the node to move (moveParts), never more at once than the drain allows, the next one as soon as
 * one is done, and the legs land off the node; once undrained nothing more is asked.
 */
class NodeDrainIT {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    @RegisterExtension
    final SimulatedCluster cluster = new SimulatedCluster(etcd);
    final EtcdStore store = cluster.store;
    final FerryKeys keys = cluster.keys;
    final SimulatedAgents agents = cluster.agents;

    void node(int i) {
        agents.addNode("node-" + i, Map.of());
        agents.addPool("node-" + i, "pool-" + i, 100, Map.of());
    }

    VolumeParts parts(String volume) {
        return result(store.get(keys.volumeParts(volume), VolumeParts.class)).orElseThrow().value();
    }

    VolumeIntent intent(String volume) {
        return result(store.get(keys.volume(volume), VolumeIntent.class)).orElseThrow().value();
    }

    Optional<Placement> placement(String volume) {
        return result(store.get(keys.placement(volume), Placement.class)).map(Versioned::value);
    }

    Optional<Condition> legMoved(String volume) {
        return result(store.get(keys.volumeScheduling(volume), VolumeScheduling.class))
                .flatMap(r -> r.value().condition(Condition.LEG_MOVED));
    }

    void mirror(String volume) {
        result(store.put(keys.volume(volume), VolumeIntent.builder(volume, 10 * GI).layout(Layout.MIRROR).parts(2).build()));
        await().atMost(Duration.ofSeconds(15)).until(() -> result(store.get(keys.volumeParts(volume), VolumeParts.class))
                .isPresent());
        result(store.put(keys.attachment(volume, "consumer"),
                Attachment.of(volume, "consumer", SimulatedAgents.hostNqn("consumer"), false, Instant.now())));
    }

    /** The consumer's report of {@code volume} with every member in sync. */
    void allInSync(String volume) {
        VolumeParts parts = parts(volume);
        List<MirrorReport.Leg> legs = parts.partNames().stream().map(p -> new MirrorReport.Leg(p, LegState.IN_SYNC)).toList();
        result(store.put(keys.mirrorReport(volume, "consumer"), MirrorReport.of(volume, "consumer", parts.arrayUuid(),
                legs, "idle", -1, 0, Instant.now())));
    }

    boolean onNode(String volume, String node) {
        return parts(volume).partNames().stream().anyMatch(p -> placement(p).map(pl -> pl.node().equals(node)).orElse(false));
    }

    boolean moving(String volume) {
        return parts(volume).joining().isPresent();
    }

    @Test
    void aDrainMovesTheNodesLegsAwayOneAtATimeAndUndrainAsksForNoMore() {
        node(1);
        node(2);
        agents.addNode("consumer", Map.of());
        cluster.start(SimulatedCluster.options("c1"));
        mirror("db");
        mirror("db2");
        assertThat(onNode("db", "node-2")).isTrue();
        assertThat(onNode("db2", "node-2")).isTrue();
        node(3);

        // As `ferryctl node drain node-2 --max-parallel 1` writes it.
        PoolConfig pool2 = result(store.get(keys.poolConfig("pool-2"), PoolConfig.class)).orElseThrow().value();
        result(store.put(keys.poolConfig("pool-2"), pool2.toBuilder().schedulable(false).build()));
        result(store.put(keys.nodeDrain("node-2"), NodeDrain.of("node-2", List.of("pool-2"), 1, Instant.now())));

        await().atMost(Duration.ofSeconds(15)).until(() -> moving("db") || moving("db2"));
        String first = moving("db") ? "db" : "db2";
        String second = first.equals("db") ? "db2" : "db";
        VolumeParts.Part joining = parts(first).joining().orElseThrow();
        assertThat(placement(joining.name()).orElseThrow().node()).isEqualTo("node-3");
        assertThat(placement(joining.movesFrom()).orElseThrow().node()).isEqualTo("node-2");
        assertThat(intent(first).moveParts()).containsExactly(new PartMove(joining.movesFrom(), null));
        // One at a time: the other leg waits for its turn, and says so.
        await().atMost(Duration.ofSeconds(10)).until(() -> legMoved(second).map(c -> c.message()
                .contains("leaves draining node node-2 once fewer than 1 legs are moving away from it")).orElse(false));
        await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(5)).until(() -> !moving(second)
                && intent(second).moveParts().isEmpty());

        allInSync(first);
        await().atMost(Duration.ofSeconds(15)).until(() -> !onNode(first, "node-2"));
        await().atMost(Duration.ofSeconds(15)).until(() -> moving(second));
        assertThat(placement(parts(second).joining().orElseThrow().name()).orElseThrow().node()).isEqualTo("node-3");
        allInSync(second);
        await().atMost(Duration.ofSeconds(15)).until(() -> !onNode(second, "node-2"));
        await().atMost(Duration.ofSeconds(30)).until(() -> result(store.list(keys.placements(), Placement.class)).items()
                .stream().noneMatch(p -> p.value().node().equals("node-2")));

        // Undrained, with a new mirror whose leg could go there: nothing is asked to move.
        result(store.delete(keys.nodeDrain("node-2")));
        result(store.put(keys.poolConfig("pool-2"), pool2));
        agents.addPool("node-1", "pool-1b", 100, Map.of());
        mirror("db3");
        await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(5)).until(() -> !moving("db3")
                && intent("db3").moveParts().isEmpty());
    }
}
