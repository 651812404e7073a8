package io.ferry.controller;

import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.store.Versioned;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.model.Attachment;
import io.ferry.model.Condition;
import io.ferry.model.FailureReason;
import io.ferry.model.Layout;
import io.ferry.model.Ledger;
import io.ferry.model.Placement;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeParts;
import io.ferry.model.VolumeScheduling;
import io.ferry.model.WorkItem;
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

/** A mirror's leg declared lost and replaced, against a real etcd with simulated agents. */
class LegReplacementIT {
    private static final long LEG = VolumeParts.mirrorLegBytes(10 * GI);

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

    Versioned<VolumeParts> parts(String volume) {
        return result(store.get(keys.volumeParts(volume), VolumeParts.class)).orElseThrow();
    }

    Optional<Versioned<Placement>> placement(String volume) {
        return result(store.get(keys.placement(volume), Placement.class));
    }

    Versioned<VolumeIntent> intent(String volume) {
        return result(store.get(keys.volume(volume), VolumeIntent.class)).orElseThrow();
    }

    Optional<Condition> legReplaced(String volume) {
        return result(store.get(keys.volumeScheduling(volume), VolumeScheduling.class))
                .flatMap(r -> r.value().condition(Condition.LEG_REPLACED));
    }

    long allocated(String pool) {
        return result(store.get(keys.ledger(pool), Ledger.class)).map(l -> l.value().allocatedBytes()).orElse(0L);
    }

    long allocated() {
        return result(store.list(keys.ledgers(), Ledger.class)).items().stream()
                .mapToLong(l -> l.value().allocatedBytes()).sum();
    }

    /** A two-leg mirror placed on two of the nodes, attached to a consumer. */
    VolumeParts placedMirror() {
        result(store.put(keys.volume("db"), VolumeIntent.builder("db", 10 * GI).layout(Layout.MIRROR).parts(2).build()));
        await().atMost(Duration.ofSeconds(15)).until(() -> result(store.get(keys.volumeParts("db"), VolumeParts.class))
                .isPresent());
        result(store.put(keys.attachment("db", "consumer"),
                Attachment.of("db", "consumer", SimulatedAgents.hostNqn("consumer"), false, Instant.now())));
        return parts("db").value();
    }

    void declareLost(String part) {
        Versioned<VolumeIntent> current = intent("db");
        result(store.put(keys.volume("db"), current.value().withLostPart(part)));
    }

    @Test
    void aLostLegIsReplacedElsewhereInOneTransactionAndDeletedWhileTheVolumeStaysAttached() {
        node(1);
        node(2);
        agents.addNode("consumer", Map.of());
        cluster.start(SimulatedCluster.options("c1"));
        placedMirror();
        String survivorNode = placement("db--p0").orElseThrow().value().node();
        String lostPool = placement("db--p1").orElseThrow().value().pool();
        node(3);

        declareLost("db--p1");

        await().atMost(Duration.ofSeconds(15)).until(() -> parts("db").value().isRetired("db--p1"));
        Versioned<VolumeParts> parts = parts("db");
        assertThat(parts.value().partNames()).containsExactly("db--p0", "db--p2");
        assertThat(parts.value().member("db--p2").orElseThrow().replaces()).isEqualTo("db--p1");
        assertThat(parts.value().member("db--p2").orElseThrow().sizeBytes()).isEqualTo(LEG);
        Versioned<Placement> replacement = placement("db--p2").orElseThrow();
        assertThat(replacement.createRevision()).as("placed with the parts record").isEqualTo(parts.modRevision());
        assertThat(replacement.value().node()).isNotEqualTo(survivorNode);
        assertThat(replacement.value().pool()).isNotEqualTo(lostPool).isEqualTo("pool-3");
        assertThat(intent("db--p2").value().partOf()).isEqualTo("db");
        // The replacement is served to the consumer the volume is attached to.
        await().atMost(Duration.ofSeconds(10)).until(() -> result(store.get(keys.workItem("node-3", "db--p2"),
                WorkItem.class)).map(w -> w.value().export() != null && w.value().export().allowedHostNqns()
                .contains(SimulatedAgents.hostNqn("consumer"))).orElse(false));

        // The lost leg is deleted although the volume is still attached: it is served to no one.
        await().atMost(Duration.ofSeconds(30)).until(() -> result(store.get(keys.volume("db--p1"), VolumeIntent.class))
                .isEmpty() && placement("db--p1").isEmpty());
        assertThat(allocated(lostPool)).isZero();
        assertThat(allocated()).isEqualTo(2 * LEG);
        await().atMost(Duration.ofSeconds(10)).until(() -> legReplaced("db").map(Condition::status).orElse(false));
        assertThat(legReplaced("db").orElseThrow().message()).contains("db--p1 by db--p2");

        // Declaring it lost again changes nothing.
        long before = parts("db").modRevision();
        declareLost("db--p1");
        await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(5))
                .until(() -> parts("db").modRevision() == before);

        // Deleting the volume once detached removes every key, the retired leg's included.
        result(store.delete(keys.attachment("db", "consumer")));
        result(store.put(keys.volume("db"), intent("db").value().withDeletionRequested()));
        await().atMost(Duration.ofSeconds(30)).until(() -> result(store.count(keys.volumes())) == 0);
        assertThat(result(store.count(keys.volumeParts()))).isZero();
        assertThat(allocated()).isZero();
    }

    @Test
    void withNoPoolForTheReplacementNothingChangesUntilOneJoins() {
        node(1);
        node(2);
        agents.addNode("consumer", Map.of());
        cluster.start(SimulatedCluster.options("c1"));
        placedMirror();
        long placedAt = parts("db").modRevision();

        declareLost("db--p1");

        await().atMost(Duration.ofSeconds(15)).until(() -> legReplaced("db").map(c -> !c.status()).orElse(false));
        Condition waiting = legReplaced("db").orElseThrow();
        assertThat(waiting.reason()).isEqualTo(FailureReason.NO_FIT.value());
        assertThat(waiting.message()).contains("db--p1").contains("lost leg's pool");
        assertThat(parts("db").modRevision()).as("nothing retired without a replacement").isEqualTo(placedAt);
        assertThat(intent("db--p1").value().deletionRequested()).isFalse();
        assertThat(allocated()).isEqualTo(2 * LEG);

        node(3);
        await().atMost(Duration.ofSeconds(20)).until(() -> parts("db").value().isRetired("db--p1"));
        assertThat(placement("db--p2").orElseThrow().value().pool()).isEqualTo("pool-3");
    }

    @Test
    void everyLegDeclaredLostByHandReplacesNoneAndAStaleNameNeverMatchesTheNewLeg() {
        node(1);
        node(2);
        node(3);
        agents.addNode("consumer", Map.of());
        cluster.start(SimulatedCluster.options("c1"));
        placedMirror();
        long placedAt = parts("db").modRevision();

        // What ferryctl refuses, written with etcdctl: both legs lost. Replacing them one by one would
        // delete both copies.
        result(store.put(keys.volume("db"), intent("db").value().toBuilder()
                .lostParts(List.of("db--p0", "db--p1")).build()));
        await().atMost(Duration.ofSeconds(15)).until(() -> legReplaced("db").map(c -> !c.status()).orElse(false));
        assertThat(legReplaced("db").orElseThrow().reason()).isEqualTo(FailureReason.INPUT_INVALID.value());
        assertThat(legReplaced("db").orElseThrow().message()).contains("declares every leg of the mirror lost");
        assertThat(parts("db").modRevision()).isEqualTo(placedAt);
        assertThat(intent("db--p0").value().deletionRequested()).isFalse();
        assertThat(intent("db--p1").value().deletionRequested()).isFalse();

        // One leg lost, plus a name no leg has yet (a typo, or left from another volume): the replacement
        // takes an index past it, so the stale name never retires the leg just placed.
        result(store.put(keys.volume("db"), intent("db").value().toBuilder()
                .lostParts(List.of("db--p1", "db--p2")).build()));
        await().atMost(Duration.ofSeconds(15)).until(() -> parts("db").value().isRetired("db--p1"));
        assertThat(parts("db").value().partNames()).containsExactly("db--p0", "db--p3");
        await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(5))
                .until(() -> parts("db").value().partNames().equals(List.of("db--p0", "db--p3")));
        assertThat(legReplaced("db").orElseThrow().message()).contains("db--p1 by db--p3")
                .contains("lostParts also names db--p2");
    }
}
