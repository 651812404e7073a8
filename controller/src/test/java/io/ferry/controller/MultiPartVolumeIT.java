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
import io.ferry.model.SchedulingPhase;
import io.ferry.model.SnapshotIntent;
import io.ferry.model.SnapshotScheduling;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeParts;
import io.ferry.model.VolumeScheduling;
import io.ferry.model.WorkItem;
import io.ferry.runtime.admin.AdminOptions;
import io.ferry.runtime.informer.InformerOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import static io.ferry.controller.SimulatedAgents.GI;
import static io.ferry.etcd.testing.Await.result;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Volumes of several parts (mirror, linear) against a real etcd, with simulated agents answering work items. */
class MultiPartVolumeIT {
    /** A 10 GiB mirror's leg: the volume and md's reserve before it. */
    private static final long LEG = VolumeParts.mirrorLegBytes(10 * GI);

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    @RegisterExtension
    final SimulatedCluster cluster = new SimulatedCluster(etcd);
    final EtcdStore store = cluster.store;
    final FerryKeys keys = cluster.keys;
    final SimulatedAgents agents = cluster.agents;

    RunningController controller(String id) {
        return cluster.start(SimulatedCluster.options(id));
    }

    void nodesWithAPoolEach(int n, long gib) {
        for (int i = 1; i <= n; i++) {
            agents.addNode("node-" + i, Map.of());
            agents.addPool("node-" + i, "pool-" + i, gib, Map.of());
        }
    }

    void create(String volume, Layout layout, int parts, long gib) {
        result(store.put(keys.volume(volume), VolumeIntent.builder(volume, gib * GI).layout(layout).parts(parts).build()));
    }

    VolumeParts awaitParts(String volume) {
        await().atMost(Duration.ofSeconds(15)).until(() -> result(store.get(keys.volumeParts(volume), VolumeParts.class))
                .isPresent());
        return result(store.get(keys.volumeParts(volume), VolumeParts.class)).orElseThrow().value();
    }

    Versioned<Placement> placement(String volume) {
        return result(store.get(keys.placement(volume), Placement.class)).orElseThrow();
    }

    Optional<VolumeScheduling> record(String volume) {
        return result(store.get(keys.volumeScheduling(volume), VolumeScheduling.class)).map(Versioned::value);
    }

    Optional<VolumeIntent> intent(String volume) {
        return result(store.get(keys.volume(volume), VolumeIntent.class)).map(Versioned::value);
    }

    long allocated() {
        return result(store.list(keys.ledgers(), Ledger.class)).items().stream()
                .mapToLong(l -> l.value().allocatedBytes()).sum();
    }

    @Test
    void placesBothLegsOfAMirrorOnDistinctNodesInOneRevision() {
        nodesWithAPoolEach(3, 100);
        controller("c1");
        create("db", Layout.MIRROR, 2, 10);

        VolumeParts parts = awaitParts("db");
        assertThat(parts.layout()).isEqualTo(Layout.MIRROR);
        assertThat(parts.arrayUuid()).isNotNull();
        assertThat(parts.partNames()).containsExactly("db--p0", "db--p1");
        assertThat(parts.assembledBytes()).isEqualTo(10 * GI);
        long revision = result(store.get(keys.volumeParts("db"), VolumeParts.class)).orElseThrow().modRevision();
        Set<String> nodes = new HashSet<>();
        for (String part : parts.partNames()) {
            Versioned<Placement> placement = placement(part);
            nodes.add(placement.value().node());
            assertThat(placement.createRevision()).isEqualTo(revision);
            assertThat(placement.value().sizeBytes()).isEqualTo(VolumeParts.mirrorLegBytes(10 * GI));
            Versioned<VolumeIntent> intent = result(store.get(keys.volume(part), VolumeIntent.class)).orElseThrow();
            assertThat(intent.createRevision()).isEqualTo(revision);
            assertThat(intent.value().partOf()).isEqualTo("db");
            assertThat(intent.value().layout()).isEqualTo(Layout.SINGLE);
            assertThat(intent.value().fsType()).isNull();
            assertThat(result(store.get(keys.workItem(placement.value().node(), part), WorkItem.class)).orElseThrow()
                    .createRevision()).isEqualTo(revision);
            assertThat(result(store.get(keys.ledger(placement.value().pool()), Ledger.class)).orElseThrow().modRevision())
                    .isEqualTo(revision);
        }
        assertThat(nodes).hasSize(2);
        assertThat(allocated()).isEqualTo(2 * LEG);
        // The volume itself has no placement; its record says where its parts are.
        assertThat(result(store.get(keys.placement("db"), Placement.class))).isEmpty();
        VolumeScheduling record = record("db").orElseThrow();
        assertThat(record.phase()).isEqualTo(SchedulingPhase.PLACED);
        assertThat(record.message()).contains("db--p0 on ").contains("db--p1 on ");
        assertThat(record.condition(Condition.SCHEDULED).orElseThrow().status()).isTrue();
    }

    @Test
    void placesALinearVolumeLargerThanAnyPoolInSegmentsThatAddUpToItsSize() {
        nodesWithAPoolEach(2, 100);
        controller("c1");
        create("big", Layout.LINEAR, 3, 150);

        VolumeParts parts = awaitParts("big");
        assertThat(parts.arrayUuid()).isNull();
        assertThat(parts.parts()).hasSize(2);
        assertThat(parts.assembledBytes()).isEqualTo(150 * GI);
        assertThat(parts.parts().stream().map(p -> placement(p.name()).value().pool()).distinct()).hasSize(2);
        assertThat(allocated()).isEqualTo(150 * GI);
    }

    @Test
    void placesAStripedVolumeInEqualStripesOnDistinctPoolsOrNotAtAll() {
        nodesWithAPoolEach(3, 100);
        controller("c1");
        create("fast", Layout.STRIPED, 3, 30);

        VolumeParts parts = awaitParts("fast");
        assertThat(parts.layout()).isEqualTo(Layout.STRIPED);
        assertThat(parts.arrayUuid()).isNull();
        assertThat(parts.parts()).extracting(VolumeParts.Part::sizeBytes).containsExactly(10 * GI, 10 * GI, 10 * GI);
        assertThat(parts.assembledBytes()).isEqualTo(30 * GI);
        assertThat(parts.parts().stream().map(p -> placement(p.name()).value().pool()).distinct()).hasSize(3);
        assertThat(allocated()).isEqualTo(30 * GI);

        // Four stripes need four pools: none is placed, and the record says why.
        create("wide", Layout.STRIPED, 4, 8);
        await().atMost(Duration.ofSeconds(10)).until(() -> record("wide").map(r -> r.phase() == SchedulingPhase.NO_FIT)
                .orElse(false));
        assertThat(record("wide").orElseThrow().reasonCounts()).containsKey("fewer pools than stripes");
        assertThat(result(store.get(keys.volumeParts("wide"), VolumeParts.class))).isEmpty();
        assertThat(allocated()).isEqualTo(30 * GI);

        // A fourth pool makes room: the waiting volume is placed then, in four equal stripes.
        agents.addNode("node-4", Map.of());
        agents.addPool("node-4", "pool-4", 100, Map.of());
        assertThat(awaitParts("wide").parts()).extracting(VolumeParts.Part::sizeBytes).containsOnly(2 * GI);
        assertThat(allocated()).isEqualTo(38 * GI);
    }

    @Test
    void aMirrorWithMoreLegsThanNodesIsRefusedAndNothingIsWritten() {
        nodesWithAPoolEach(2, 100);
        controller("c1");
        create("db", Layout.MIRROR, 3, 10);

        await().atMost(Duration.ofSeconds(10)).until(() -> record("db").map(r -> r.phase() == SchedulingPhase.NO_FIT)
                .orElse(false));
        VolumeScheduling record = record("db").orElseThrow();
        assertThat(record.reasonCounts()).containsKey("fewer node domains than legs");
        assertThat(record.condition(Condition.SCHEDULED).orElseThrow().failureReason()).isEqualTo(FailureReason.NO_FIT);
        assertThat(result(store.count(keys.volumeParts()))).isZero();
        assertThat(result(store.count(keys.placements()))).isZero();
        assertThat(result(store.count(keys.work()))).isZero();
        assertThat(result(store.count(keys.volumes()))).isEqualTo(1);
        assertThat(allocated()).isZero();

        // A third node makes room: the volume waiting for room is placed then.
        agents.addNode("node-3", Map.of());
        agents.addPool("node-3", "pool-3", 100, Map.of());
        assertThat(awaitParts("db").parts()).hasSize(3);
    }

    @Test
    void thePartsAreExportedWhereverTheVolumeIsAttached() {
        nodesWithAPoolEach(2, 100);
        agents.addNode("consumer", Map.of());
        controller("c1");
        create("db", Layout.MIRROR, 2, 10);
        VolumeParts parts = awaitParts("db");

        result(store.put(keys.attachment("db", "consumer"),
                Attachment.of("db", "consumer", SimulatedAgents.hostNqn("consumer"), false, Instant.now())));
        for (String part : parts.partNames()) {
            String node = placement(part).value().node();
            await().atMost(Duration.ofSeconds(10)).until(() -> result(store.get(keys.workItem(node, part), WorkItem.class))
                    .map(w -> w.value().export() != null
                            && w.value().export().allowedHostNqns().contains(SimulatedAgents.hostNqn("consumer")))
                    .orElse(false));
        }

        result(store.delete(keys.attachment("db", "consumer")));
        for (String part : parts.partNames()) {
            String node = placement(part).value().node();
            await().atMost(Duration.ofSeconds(10)).until(() -> result(store.get(keys.workItem(node, part), WorkItem.class))
                    .map(w -> w.value().export() == null).orElse(false));
        }
    }

    @Test
    void deletingTheVolumeRemovesEveryKeyAndReleasesEveryLedger() {
        nodesWithAPoolEach(3, 100);
        controller("c1");
        create("db", Layout.MIRROR, 3, 10);
        create("big", Layout.LINEAR, 2, 150);
        awaitParts("db");
        awaitParts("big");
        assertThat(allocated()).isEqualTo(3 * LEG + 150 * GI);

        result(store.put(keys.volume("db"), VolumeIntent.builder("db", 10 * GI).layout(Layout.MIRROR).parts(3)
                .deletionRequested(true).build()));
        result(store.put(keys.volume("big"), VolumeIntent.builder("big", 150 * GI).layout(Layout.LINEAR).parts(2)
                .deletionRequested(true).build()));

        await().atMost(Duration.ofSeconds(30)).until(() -> result(store.count(keys.volumes())) == 0);
        assertThat(result(store.count(keys.volumeParts()))).isZero();
        assertThat(result(store.count(keys.placements()))).isZero();
        assertThat(result(store.count(keys.work()))).isZero();
        assertThat(result(store.count(keys.volumeSchedulings()))).isZero();
        assertThat(allocated()).isZero();
    }

    @Test
    void anAttachedVolumeIsDeletedOnlyOnceDetached() {
        nodesWithAPoolEach(2, 100);
        controller("c1");
        create("db", Layout.MIRROR, 2, 10);
        awaitParts("db");
        result(store.put(keys.attachment("db", "node-1"),
                Attachment.of("db", "node-1", SimulatedAgents.hostNqn("node-1"), false, Instant.now())));
        result(store.put(keys.volume("db"), VolumeIntent.builder("db", 10 * GI).layout(Layout.MIRROR)
                .deletionRequested(true).build()));

        await().atMost(Duration.ofSeconds(10)).until(() -> record("db").map(r -> r.phase() == SchedulingPhase.DELETING
                && r.message().contains("detached")).orElse(false));
        assertThat(intent("db--p0").orElseThrow().deletionRequested()).isFalse();

        result(store.delete(keys.attachment("db", "node-1")));
        await().atMost(Duration.ofSeconds(30)).until(() -> result(store.count(keys.volumes())) == 0);
        assertThat(allocated()).isZero();
    }

    @Test
    void removingTheVolumesIntentByHandDestroysNothing() throws Exception {
        nodesWithAPoolEach(2, 100);
        controller("c1");
        create("db", Layout.MIRROR, 2, 10);
        VolumeParts parts = awaitParts("db");

        result(store.delete(keys.volume("db")));
        await().atMost(Duration.ofSeconds(10)).until(() -> record("db")
                .map(r -> r.message().contains("removed without deletionRequested")).orElse(false));
        Thread.sleep(500);
        assertThat(result(store.get(keys.volumeParts("db"), VolumeParts.class))).isPresent();
        for (String part : parts.partNames()) {
            assertThat(intent(part).orElseThrow().deletionRequested()).isFalse();
            Placement placement = placement(part).value();
            assertThat(result(store.get(keys.workItem(placement.node(), part), WorkItem.class)).orElseThrow().value()
                    .deletionRequested()).isFalse();
        }
        assertThat(allocated()).isEqualTo(2 * LEG);

        // Marking a part for deletion while its volume's intent is missing destroys nothing either.
        VolumeIntent p0 = intent("db--p0").orElseThrow();
        result(store.put(keys.volume("db--p0"), p0.withDeletionRequested()));
        await().atMost(Duration.ofSeconds(10)).until(() -> record("db--p0")
                .map(r -> r.message() != null && r.message().contains("deletion of this part is refused")).orElse(false));
        Placement placement = placement("db--p0").value();
        assertThat(result(store.get(keys.workItem(placement.node(), "db--p0"), WorkItem.class)).orElseThrow().value()
                .deletionRequested()).isFalse();
    }

    @Test
    void aPartMarkedOrRemovedByHandWhileItsVolumeLivesIsKept() throws Exception {
        nodesWithAPoolEach(2, 100);
        controller("c1");
        create("db", Layout.MIRROR, 2, 10);
        awaitParts("db");

        VolumeIntent p0 = intent("db--p0").orElseThrow();
        result(store.put(keys.volume("db--p0"), p0.withDeletionRequested()));
        await().atMost(Duration.ofSeconds(10)).until(() -> record("db--p0")
                .map(r -> r.message() != null && r.message().contains("does not ask for deletion")).orElse(false));
        Placement placement = placement("db--p0").value();
        assertThat(result(store.get(keys.workItem(placement.node(), "db--p0"), WorkItem.class)).orElseThrow().value()
                .deletionRequested()).isFalse();

        result(store.delete(keys.volume("db--p1")));
        await().atMost(Duration.ofSeconds(10)).until(() -> intent("db--p1").isPresent());
        assertThat(intent("db--p1").orElseThrow().partOf()).isEqualTo("db");
        assertThat(intent("db--p1").orElseThrow().deletionRequested()).isFalse();
        Thread.sleep(500);
        assertThat(result(store.count(keys.placements()))).isEqualTo(2);
        assertThat(allocated()).isEqualTo(2 * LEG);

        // The volume's own deletion takes the part marked by hand with it.
        result(store.put(keys.volume("db"), VolumeIntent.builder("db", 10 * GI).layout(Layout.MIRROR)
                .deletionRequested(true).build()));
        await().atMost(Duration.ofSeconds(30)).until(() -> result(store.count(keys.volumes())) == 0);
        assertThat(allocated()).isZero();
    }

    @Test
    void removingThePartsRecordByHandPlacesNothingAgainAndDeletesNothing() throws Exception {
        nodesWithAPoolEach(3, 100);
        controller("c1");
        create("db", Layout.MIRROR, 2, 10);
        awaitParts("db");

        result(store.delete(keys.volumeParts("db")));
        await().atMost(Duration.ofSeconds(10)).until(() -> record("db").map(r -> r.message().contains("is missing while"
                + " parts of it exist: db--p0, db--p1")).orElse(false));
        assertThat(record("db").orElseThrow().condition(Condition.SCHEDULED).orElseThrow().failureReason())
                .isEqualTo(FailureReason.PLACEMENT_LOST);
        Thread.sleep(500);
        assertThat(result(store.count(keys.placements()))).isEqualTo(2);
        assertThat(allocated()).isEqualTo(2 * LEG);

        result(store.put(keys.volume("db"), VolumeIntent.builder("db", 10 * GI).layout(Layout.MIRROR)
                .deletionRequested(true).build()));
        await().atMost(Duration.ofSeconds(10)).until(() -> record("db").map(r -> r.phase() == SchedulingPhase.DELETING
                && r.message().contains("they are not deleted without it")).orElse(false));
        assertThat(intent("db--p0").orElseThrow().deletionRequested()).isFalse();
        assertThat(allocated()).isEqualTo(2 * LEG);
    }

    @Test
    void aDeletionInterruptedByAControllerRestartIsResumedByTheNextLeader() {
        nodesWithAPoolEach(2, 100);
        RunningController first = controller("c1");
        create("db", Layout.MIRROR, 2, 10);
        VolumeParts parts = awaitParts("db");
        parts.partNames().forEach(part -> agents.pause(placement(part).value().node()));

        result(store.put(keys.volume("db"), VolumeIntent.builder("db", 10 * GI).layout(Layout.MIRROR)
                .deletionRequested(true).build()));
        for (String part : parts.partNames()) {
            String node = placement(part).value().node();
            await().atMost(Duration.ofSeconds(10)).until(() -> result(store.get(keys.workItem(node, part), WorkItem.class))
                    .map(w -> w.value().deletionRequested()).orElse(false));
        }
        first.kill();
        controller("c2");
        List.of("node-1", "node-2").forEach(agents::resume);

        await().atMost(Duration.ofSeconds(30)).until(() -> result(store.count(keys.volumes())) == 0);
        assertThat(result(store.count(keys.volumeParts()))).isZero();
        assertThat(result(store.count(keys.placements()))).isZero();
        assertThat(allocated()).isZero();
    }

    @Test
    void growingAMirrorGrowsEveryLegWithItsLedgerOrNoneAndItNeverShrinks() {
        nodesWithAPoolEach(2, 100);
        controller("c1");
        create("db", Layout.MIRROR, 2, 10);
        awaitParts("db");
        long leg20 = VolumeParts.mirrorLegBytes(20 * GI);

        result(store.put(keys.volume("db"), VolumeIntent.builder("db", 20 * GI).layout(Layout.MIRROR).build()));
        await().atMost(Duration.ofSeconds(15)).until(() -> placement("db--p0").value().sizeBytes() == leg20
                && placement("db--p1").value().sizeBytes() == leg20);
        VolumeParts grown = awaitParts("db");
        assertThat(grown.parts()).extracting(VolumeParts.Part::sizeBytes).containsOnly(leg20);
        assertThat(grown.assembledBytes()).isEqualTo(20 * GI);
        assertThat(intent("db--p0").orElseThrow().sizeBytes()).isEqualTo(leg20);
        await().atMost(Duration.ofSeconds(10)).until(() -> allocated() == 2 * leg20);

        // No pool has 80 GiB more: no leg grows, and the record says which pool lacks room.
        result(store.put(keys.volume("db"), VolumeIntent.builder("db", 100 * GI).layout(Layout.MIRROR).build()));
        await().atMost(Duration.ofSeconds(10)).until(() -> record("db").flatMap(r -> r.condition(Condition.RESIZED))
                .map(c -> c.failureReason() == FailureReason.NO_SPACE).orElse(false));
        assertThat(record("db").orElseThrow().message()).contains("no part is grown until every part has room");
        assertThat(record("db").orElseThrow().growRefusedBytes()).isEqualTo(100 * GI);
        assertThat(awaitParts("db").assembledBytes()).isEqualTo(20 * GI);
        assertThat(intent("db--p1").orElseThrow().sizeBytes()).isEqualTo(leg20);
        assertThat(allocated()).isEqualTo(2 * leg20);

        // Shrinking is refused with a typed reason, and nothing changes.
        result(store.put(keys.volume("db"), VolumeIntent.builder("db", 12 * GI).layout(Layout.MIRROR).build()));
        await().atMost(Duration.ofSeconds(10)).until(() -> record("db").flatMap(r -> r.condition(Condition.RESIZED))
                .map(c -> c.failureReason() == FailureReason.LAYOUT_UNSUPPORTED).orElse(false));
        assertThat(record("db").orElseThrow().message()).contains("cannot shrink");
        assertThat(placement("db--p0").value().sizeBytes()).isEqualTo(leg20);
    }

    @Test
    void snapshotAndCloneOfAMirrorAreRefusedWithATypedReason() {
        nodesWithAPoolEach(2, 100);
        controller("c1");
        create("db", Layout.MIRROR, 2, 10);
        awaitParts("db");

        result(store.put(keys.snapshot("snap"), SnapshotIntent.of("snap", "db", "test", Instant.now())));
        await().atMost(Duration.ofSeconds(10)).until(() -> result(store.get(keys.snapshotScheduling("snap"),
                SnapshotScheduling.class)).flatMap(s -> s.value().condition(Condition.SCHEDULED))
                .map(c -> c.failureReason() == FailureReason.LAYOUT_UNSUPPORTED).orElse(false));

        result(store.put(keys.volume("copy"), VolumeIntent.builder("copy", 10 * GI).sourceVolume("db").build()));
        await().atMost(Duration.ofSeconds(10)).until(() -> record("copy").flatMap(r -> r.condition(Condition.SCHEDULED))
                .map(c -> c.failureReason() == FailureReason.LAYOUT_UNSUPPORTED).orElse(false));
        result(store.put(keys.volume("leg"), VolumeIntent.builder("leg", 10 * GI).sourceVolume("db--p0").build()));
        await().atMost(Duration.ofSeconds(10)).until(() -> record("leg").flatMap(r -> r.condition(Condition.SCHEDULED))
                .map(c -> c.failureReason() == FailureReason.LAYOUT_UNSUPPORTED).orElse(false));
    }

    @Test
    void theVolumesRecordAndTheGaugeSayWhenAPartsNodeIsDown() throws Exception {
        nodesWithAPoolEach(2, 100);
        ControllerOptions defaults = SimulatedCluster.options("c1");
        RunningController c = cluster.start(new ControllerOptions("c1", defaults.leaseTtl(), AdminOptions.loopback(0),
                InformerOptions.defaults(), defaults.runtime(), defaults.resyncInterval()));
        await().atMost(Duration.ofSeconds(10)).until(c.controller::isLeader);
        create("db", Layout.MIRROR, 2, 10);
        awaitParts("db");
        String node = placement("db--p1").value().node();
        await().atMost(Duration.ofSeconds(15)).until(() -> metrics(c)
                .contains("ferry_volumes_multipart{layout=\"mirror\",state=\"healthy\"} 1.0"));

        agents.killNode(node);
        await().atMost(Duration.ofSeconds(10)).until(() -> record("db").flatMap(r -> r.condition(Condition.REACHABLE))
                .map(cond -> !cond.status() && cond.failureReason() == FailureReason.NODE_UNREACHABLE
                        && cond.message().contains("db--p1 on " + node) && cond.message().contains("degraded"))
                .orElse(false));
        await().atMost(Duration.ofSeconds(15)).until(() -> metrics(c)
                .contains("ferry_volumes_multipart{layout=\"mirror\",state=\"degraded\"} 1.0"));
        assertThat(metrics(c)).contains("ferry_volumes_multipart{layout=\"mirror\",state=\"healthy\"} 0.0")
                .contains("ferry_volumes_multipart{layout=\"linear\",state=\"unreachable\"} 0.0");
    }

    static String metrics(RunningController c) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(c.controller.adminUrl() + "/metrics"))
                .build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8)).body();
    }

    @Test
    void explainShowsTheDecisionForEveryLeg() throws Exception {
        nodesWithAPoolEach(2, 100);
        ControllerOptions defaults = SimulatedCluster.options("c1");
        RunningController c = cluster.start(new ControllerOptions("c1", defaults.leaseTtl(), AdminOptions.loopback(0),
                InformerOptions.defaults(), defaults.runtime(), defaults.resyncInterval()));
        await().atMost(Duration.ofSeconds(10)).until(c.controller::isLeader);
        create("db", Layout.MIRROR, 3, 10);
        await().atMost(Duration.ofSeconds(10)).until(() -> record("db").isPresent());

        String explain = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(c.controller.adminUrl()
                + "/api/v1/volumes/db/explain")).build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8)).body();
        assertThat(explain).contains("\"layout\":\"mirror\"")
                .contains("\"summary\":\"no pool fits: spread node 2, fewer node domains than legs 1\"")
                .contains("\"part\":\"db--p0\"").contains("\"part\":\"db--p1\"").contains("\"part\":\"db--p2\"")
                .contains("\"failed\":\"spread node\"")
                .contains("\"recorded\":{\"type\":\"Scheduled\",\"status\":false,");
    }
}
