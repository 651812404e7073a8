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
import io.ferry.model.MirrorReport;
import io.ferry.model.MirrorReport.LegState;
import io.ferry.model.Placement;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeParts;
import io.ferry.model.VolumeScheduling;
import io.ferry.model.WorkItem;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static io.ferry.controller.SimulatedAgents.GI;
import static io.ferry.etcd.testing.Await.result;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** A mirror's leg moved to another pool while attached, against a real etcd with simulated agents. */
class LegMigrationIT {
    private static final long LEG = VolumeParts.mirrorLegBytes(10 * GI);

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    @RegisterExtension
    final SimulatedCluster cluster = new SimulatedCluster(etcd);
    final EtcdStore store = cluster.store;
    final FerryKeys keys = cluster.keys;
    final SimulatedAgents agents = cluster.agents;

    void node(int i, long capacityGi) {
        agents.addNode("node-" + i, Map.of());
        agents.addPool("node-" + i, "pool-" + i, capacityGi, Map.of());
    }

    void node(int i) {
        node(i, 100);
    }

    Versioned<VolumeParts> parts(String volume) {
        return result(store.get(keys.volumeParts(volume), VolumeParts.class)).orElseThrow();
    }

    Optional<Versioned<Placement>> placement(String volume) {
        return result(store.get(keys.placement(volume), Placement.class));
    }

    Optional<Versioned<VolumeIntent>> maybeIntent(String volume) {
        return result(store.get(keys.volume(volume), VolumeIntent.class));
    }

    Versioned<VolumeIntent> intent(String volume) {
        return maybeIntent(volume).orElseThrow();
    }

    Optional<Condition> condition(String volume, String type) {
        return result(store.get(keys.volumeScheduling(volume), VolumeScheduling.class))
                .flatMap(r -> r.value().condition(type));
    }

    Optional<Condition> legMoved() {
        return condition("db", Condition.LEG_MOVED);
    }

    Optional<Versioned<Ledger>> ledger(String pool) {
        return result(store.get(keys.ledger(pool), Ledger.class));
    }

    long allocated(String pool) {
        return ledger(pool).map(l -> l.value().allocatedBytes()).orElse(0L);
    }

    long allocated() {
        return result(store.list(keys.ledgers(), Ledger.class)).items().stream()
                .mapToLong(l -> l.value().allocatedBytes()).sum();
    }

    /** A two-leg mirror placed on node-1 and node-2, attached to a consumer. */
    VolumeParts placedMirror() {
        result(store.put(keys.volume("db"), VolumeIntent.builder("db", 10 * GI).layout(Layout.MIRROR).parts(2).build()));
        await().atMost(Duration.ofSeconds(15)).until(() -> result(store.get(keys.volumeParts("db"), VolumeParts.class))
                .isPresent());
        result(store.put(keys.attachment("db", "consumer"),
                Attachment.of("db", "consumer", SimulatedAgents.hostNqn("consumer"), false, Instant.now())));
        return parts("db").value();
    }

    void move(String part, String toPool) {
        result(store.put(keys.volume("db"), intent("db").value().withPartMove(part, toPool)));
    }

    /** Waits for the joining leg and returns the parts record that placed it. */
    Versioned<VolumeParts> joined() {
        await().atMost(Duration.ofSeconds(15)).until(() -> parts("db").value().joining().isPresent());
        return parts("db");
    }

    /** md writes an array's UUID as four groups of eight hex digits. */
    static String mdUuid(String uuid) {
        String hex = uuid.replace("-", "").toUpperCase();
        return hex.substring(0, 8) + ":" + hex.substring(8, 16) + ":" + hex.substring(16, 24) + ":" + hex.substring(24);
    }

    /** What the node plugin on {@code node} writes of the mirror, with each leg's state as given. */
    void report(String node, String arrayUuid, String syncAction, double percent, Object... legsAndStates) {
        List<MirrorReport.Leg> legs = new ArrayList<>();
        for (int i = 0; i < legsAndStates.length; i += 2) {
            legs.add(new MirrorReport.Leg((String) legsAndStates[i], (LegState) legsAndStates[i + 1]));
        }
        result(store.put(keys.mirrorReport("db", node), MirrorReport.of("db", node, arrayUuid, legs, syncAction, percent,
                percent >= 0 ? 12_800 : 0, Instant.now())));
    }

    void unchangedFor(Duration duration, long partsRevision) {
        await().during(duration).atMost(duration.plusSeconds(3)).until(() -> parts("db").modRevision() == partsRevision);
    }

    void awaitDeleted(String part) {
        await().atMost(Duration.ofSeconds(30)).until(() -> maybeIntent(part).isEmpty() && placement(part).isEmpty());
    }

    @Test
    void aLegMovesToTheNamedPoolAndIsRetiredOnlyOnceTheAttachedConsumerReportsTheNewLegInSync() {
        node(1);
        node(2);
        agents.addNode("consumer", Map.of());
        cluster.start(SimulatedCluster.options("c1"));
        VolumeParts placed = placedMirror();
        Versioned<Placement> leaving = placement("db--p1").orElseThrow();
        String leftPool = leaving.value().pool();
        node(3);
        node(4);

        move("db--p1", "pool-4");

        Versioned<VolumeParts> moving = joined();
        assertThat(moving.value().partNames()).containsExactly("db--p0", "db--p1", "db--p2");
        VolumeParts.Part joining = moving.value().member("db--p2").orElseThrow();
        assertThat(joining.movesFrom()).isEqualTo("db--p1");
        assertThat(joining.replaces()).isNull();
        assertThat(joining.sizeBytes()).isEqualTo(LEG);
        Versioned<Placement> placedLeg = placement("db--p2").orElseThrow();
        assertThat(placedLeg.value().pool()).as("the named pool, not the free pool-3").isEqualTo("pool-4");
        assertThat(placedLeg.createRevision()).as("placed with the parts record").isEqualTo(moving.modRevision());
        assertThat(ledger("pool-4").orElseThrow().modRevision()).isEqualTo(moving.modRevision());
        assertThat(allocated("pool-4")).isEqualTo(LEG);
        assertThat(intent("db--p2").value().partOf()).isEqualTo("db");
        // The leg it moves from is untouched.
        Versioned<Placement> left = placement("db--p1").orElseThrow();
        assertThat(left.modRevision()).isLessThan(moving.modRevision());
        assertThat(left.value().pool()).isEqualTo(leftPool);
        assertThat(left.value().node()).isEqualTo(leaving.value().node());
        assertThat(intent("db--p1").value().deletionRequested()).isFalse();
        assertThat(allocated(leftPool)).isEqualTo(LEG);
        // The joining leg is served to the consumer, which adds it to its array.
        await().atMost(Duration.ofSeconds(10)).until(() -> result(store.get(keys.workItem("node-4", "db--p2"),
                WorkItem.class)).map(w -> w.value().export() != null && w.value().export().allowedHostNqns()
                .contains(SimulatedAgents.hostNqn("consumer"))).orElse(false));
        await().atMost(Duration.ofSeconds(10)).until(() -> legMoved().map(c -> c.reason().equals(Condition.REASON_MOVING)
                && c.message().contains("waiting for the consumer consumer to rebuild db--p2")).orElse(false));
        assertThat(legMoved().orElseThrow().status()).isFalse();
        assertThat(condition("db", Condition.LEG_REPLACED)).isEmpty();

        // Without a report nothing finishes; nor with a report from a node the volume is not attached to,
        // one of another array, or one that shows the new leg still rebuilding.
        long revision = moving.modRevision();
        unchangedFor(Duration.ofSeconds(2), revision);
        agents.addNode("elsewhere", Map.of());
        report("elsewhere", placed.arrayUuid(), "idle", -1, "db--p0", LegState.IN_SYNC, "db--p1", LegState.IN_SYNC,
                "db--p2", LegState.IN_SYNC);
        report("consumer", "0badc0de-0000-4000-8000-000000000000", "idle", -1, "db--p0", LegState.IN_SYNC,
                "db--p1", LegState.IN_SYNC, "db--p2", LegState.IN_SYNC);
        unchangedFor(Duration.ofSeconds(2), revision);
        assertThat(legMoved().orElseThrow().message()).contains("reports another array");
        report("consumer", mdUuid(placed.arrayUuid()), "recover", 42.0, "db--p0", LegState.IN_SYNC,
                "db--p1", LegState.IN_SYNC, "db--p2", LegState.REBUILDING);
        await().atMost(Duration.ofSeconds(10)).until(() -> legMoved().map(c -> c.message().contains("db--p2 rebuilding")
                && c.message().contains("recover 42.0%")).orElse(false));
        unchangedFor(Duration.ofSeconds(1), revision);
        assertThat(intent("db--p1").value().deletionRequested()).isFalse();

        // In sync on the consumer: the new leg takes the old one's place, which is retired and deleted.
        report("consumer", mdUuid(placed.arrayUuid()), "idle", -1, "db--p0", LegState.IN_SYNC,
                "db--p1", LegState.IN_SYNC, "db--p2", LegState.IN_SYNC);
        await().atMost(Duration.ofSeconds(15)).until(() -> parts("db").value().isRetired("db--p1"));
        VolumeParts done = parts("db").value();
        assertThat(done.partNames()).containsExactly("db--p0", "db--p2");
        assertThat(done.joining()).isEmpty();
        assertThat(done.member("db--p2").orElseThrow()).isEqualTo(new VolumeParts.Part("db--p2", 2, LEG, "db--p1", null));
        awaitDeleted("db--p1");
        assertThat(allocated(leftPool)).isZero();
        assertThat(allocated()).isEqualTo(2 * LEG);
        await().atMost(Duration.ofSeconds(10)).until(() -> legMoved().map(Condition::status).orElse(false));
        assertThat(legMoved().orElseThrow().reason()).isEqualTo(Condition.REASON_MOVED);
        assertThat(legMoved().orElseThrow().message()).isEqualTo("moved db--p1 to db--p2 on pool pool-4");
        assertThat(condition("db", Condition.LEG_REPLACED)).as("a move is no lost leg's replacement").isEmpty();

        // The finished request left in the intent changes nothing.
        long finished = parts("db").modRevision();
        move("db--p1", "pool-4");
        unchangedFor(Duration.ofSeconds(2), finished);
    }

    @Test
    void aMoveSentElsewhereStartsAgainThereAndTakenOutOfTheIntentRetiresTheJoiningLegAndKeepsTheOld() {
        node(1);
        node(2);
        agents.addNode("consumer", Map.of());
        cluster.start(SimulatedCluster.options("c1"));
        placedMirror();
        String keptPool = placement("db--p1").orElseThrow().value().pool();
        Versioned<VolumeIntent> kept = intent("db--p1");
        node(3);
        node(4);

        move("db--p1", "pool-3");
        joined();
        assertThat(placement("db--p2").orElseThrow().value().pool()).isEqualTo("pool-3");
        assertThat(allocated()).isEqualTo(3 * LEG);

        // Sent to another pool mid-move: the joining leg is given up and another joins on the new pool.
        move("db--p1", "pool-4");
        await().atMost(Duration.ofSeconds(15)).until(() -> parts("db").value().member("db--p3")
                .map(p -> "db--p1".equals(p.movesFrom())).orElse(false));
        assertThat(parts("db").value().isRetired("db--p2")).isTrue();
        assertThat(placement("db--p3").orElseThrow().value().pool()).isEqualTo("pool-4");
        awaitDeleted("db--p2");
        assertThat(allocated("pool-3")).isZero();

        result(store.put(keys.volume("db"), intent("db").value().withoutPartMove("db--p1")));

        await().atMost(Duration.ofSeconds(15)).until(() -> parts("db").value().isRetired("db--p3"));
        assertThat(parts("db").value().partNames()).containsExactly("db--p0", "db--p1");
        assertThat(parts("db").value().joining()).isEmpty();
        awaitDeleted("db--p3");
        assertThat(allocated("pool-4")).isZero();
        assertThat(allocated(keptPool)).isEqualTo(LEG);
        assertThat(allocated()).isEqualTo(2 * LEG);
        assertThat(intent("db--p1").modRevision()).as("the leg it moved from is untouched").isEqualTo(kept.modRevision());
        await().atMost(Duration.ofSeconds(10)).until(() -> legMoved().isEmpty());
    }

    @Test
    void aJoiningLegDeclaredLostGivesTheMoveUpAndALeavingLegDeclaredLostFinishesIt() {
        node(1);
        node(2);
        agents.addNode("consumer", Map.of());
        cluster.start(SimulatedCluster.options("c1"));
        placedMirror();
        node(3);

        // The joining leg lost: the move is given up, and started again with another new leg while asked.
        move("db--p1", "pool-3");
        joined();
        result(store.put(keys.volume("db"), intent("db").value().withLostPart("db--p2")));
        await().atMost(Duration.ofSeconds(15)).until(() -> parts("db").value().isRetired("db--p2"));
        awaitDeleted("db--p2");
        await().atMost(Duration.ofSeconds(15)).until(() -> parts("db").value().member("db--p3")
                .map(p -> "db--p1".equals(p.movesFrom())).orElse(false));
        assertThat(placement("db--p3").orElseThrow().value().pool()).isEqualTo("pool-3");

        // The leaving leg lost: the joining leg takes its place at once and is rebuilt as its replacement.
        result(store.put(keys.volume("db"), intent("db").value().withLostPart("db--p1")));
        await().atMost(Duration.ofSeconds(15)).until(() -> parts("db").value().isRetired("db--p1"));
        assertThat(parts("db").value().partNames()).containsExactly("db--p0", "db--p3");
        assertThat(parts("db").value().member("db--p3").orElseThrow().replaces()).isEqualTo("db--p1");
        awaitDeleted("db--p1");
        assertThat(allocated()).isEqualTo(2 * LEG);
        await().atMost(Duration.ofSeconds(10)).until(() -> condition("db", Condition.LEG_REPLACED)
                .map(c -> c.status() && c.message().contains("db--p1 by db--p3")).orElse(false));
    }

    @Test
    void aLostLegIsReplacedBeforeAMoveAskedForAtTheSameTimeStarts() {
        node(1);
        node(2);
        agents.addNode("consumer", Map.of());
        cluster.start(SimulatedCluster.options("c1"));
        placedMirror();
        node(3);
        node(4);

        result(store.put(keys.volume("db"), intent("db").value().withLostPart("db--p0").withPartMove("db--p1", null)));

        await().atMost(Duration.ofSeconds(15)).until(() -> parts("db").value().member("db--p3")
                .map(p -> "db--p1".equals(p.movesFrom())).orElse(false));
        VolumeParts moving = parts("db").value();
        assertThat(moving.isRetired("db--p0")).isTrue();
        assertThat(moving.member("db--p2").orElseThrow().replaces()).isEqualTo("db--p0");
        assertThat(placement("db--p2").orElseThrow().createRevision()).as("the replacement first")
                .isLessThan(placement("db--p3").orElseThrow().createRevision());
        assertThat(moving.partNames()).containsExactly("db--p2", "db--p1", "db--p3");
    }

    @Test
    void aPoolWithoutRoomIsNoFitAndTheLegsOwnPoolIsRefusedWithNothingWritten() {
        node(1);
        node(2);
        agents.addNode("consumer", Map.of());
        cluster.start(SimulatedCluster.options("c1"));
        placedMirror();
        long placedAt = parts("db").modRevision();
        node(3, 5);

        move("db--p1", "pool-3");
        await().atMost(Duration.ofSeconds(15)).until(() -> legMoved().map(c -> !c.status()).orElse(false));
        Condition refused = legMoved().orElseThrow();
        assertThat(refused.reason()).isEqualTo(FailureReason.NO_FIT.value());
        assertThat(refused.message()).contains("db--p1").contains("pool pool-3 cannot hold");
        assertThat(parts("db").modRevision()).isEqualTo(placedAt);
        assertThat(maybeIntent("db--p2")).isEmpty();
        assertThat(allocated()).isEqualTo(2 * LEG);

        String own = placement("db--p1").orElseThrow().value().pool();
        move("db--p1", own);
        await().atMost(Duration.ofSeconds(15)).until(() -> legMoved()
                .map(c -> c.reason().equals(FailureReason.INPUT_INVALID.value())).orElse(false));
        assertThat(legMoved().orElseThrow().message()).contains("already on pool " + own);
        assertThat(parts("db").modRevision()).isEqualTo(placedAt);
        assertThat(allocated()).isEqualTo(2 * LEG);
    }

    @Test
    void aMirrorGrownDuringAMoveGrowsTheJoiningLegWithTheOthers() {
        node(1);
        node(2);
        agents.addNode("consumer", Map.of());
        cluster.start(SimulatedCluster.options("c1"));
        placedMirror();
        node(3);
        move("db--p1", "pool-3");
        joined();

        result(store.put(keys.volume("db"), intent("db").value().withSizeBytes(20 * GI)));

        long grown = VolumeParts.mirrorLegBytes(20 * GI);
        await().atMost(Duration.ofSeconds(15)).until(() -> parts("db").value().assembledBytes() == 20 * GI);
        VolumeParts parts = parts("db").value();
        assertThat(parts.parts()).extracting(VolumeParts.Part::sizeBytes).containsOnly(grown);
        assertThat(parts.joining().orElseThrow().name()).isEqualTo("db--p2");
        await().atMost(Duration.ofSeconds(15)).until(() -> placement("db--p2").map(p -> p.value().sizeBytes() == grown)
                .orElse(false) && allocated("pool-3") == grown);
        assertThat(result(store.get(keys.volumeScheduling("db"), VolumeScheduling.class)).orElseThrow().value().message())
                .as("a leg more while one moves is no change of layout").doesNotContain("cannot be changed")
                .contains("db--p2 on node-3/pool-3 (joining, moves from db--p1)");
    }

    @Test
    void deletingTheVolumeDuringAMoveDeletesEveryLegTheJoiningOneIncluded() {
        node(1);
        node(2);
        agents.addNode("consumer", Map.of());
        cluster.start(SimulatedCluster.options("c1"));
        placedMirror();
        node(3);
        move("db--p1", null);
        joined();
        assertThat(placement("db--p2").orElseThrow().value().pool()).as("the scheduler's choice").isEqualTo("pool-3");
        assertThat(allocated()).isEqualTo(3 * LEG);

        result(store.delete(keys.attachment("db", "consumer")));
        result(store.put(keys.volume("db"), intent("db").value().withDeletionRequested()));

        await().atMost(Duration.ofSeconds(30)).until(() -> result(store.count(keys.volumes())) == 0);
        assertThat(result(store.count(keys.volumeParts()))).isZero();
        assertThat(result(store.count(keys.placements()))).isZero();
        assertThat(allocated()).isZero();
    }

    @Test
    void aControllerRestartedDuringAMoveFinishesItFromEtcd() {
        node(1);
        node(2);
        agents.addNode("consumer", Map.of());
        RunningController first = cluster.start(SimulatedCluster.options("c1"));
        VolumeParts placed = placedMirror();
        String leftPool = placement("db--p1").orElseThrow().value().pool();
        node(3);
        move("db--p1", "pool-3");
        joined();
        first.stop();

        report("consumer", placed.arrayUuid(), "idle", -1, "db--p0", LegState.IN_SYNC, "db--p1", LegState.IN_SYNC,
                "db--p2", LegState.IN_SYNC);
        cluster.start(SimulatedCluster.options("c2"));

        await().atMost(Duration.ofSeconds(20)).until(() -> parts("db").value().isRetired("db--p1"));
        assertThat(parts("db").value().partNames()).containsExactly("db--p0", "db--p2");
        awaitDeleted("db--p1");
        assertThat(allocated(leftPool)).isZero();
        assertThat(allocated()).isEqualTo(2 * LEG);
    }
}
