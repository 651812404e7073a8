package io.ferry.controller;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Watch;
import io.etcd.jetcd.options.WatchOption;
import io.ferry.etcd.FerryKeys;
import io.ferry.model.VolumeProgress;
import io.ferry.runtime.informer.InformerOptions;
import io.ferry.runtime.reconcile.RuntimeOptions;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.store.Listing;
import io.ferry.etcd.store.Versioned;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.model.Attachment;
import io.ferry.model.Condition;
import io.ferry.model.FailureReason;
import io.ferry.model.FailureDomainLevel;
import io.ferry.model.Ledger;
import io.ferry.model.Placement;
import io.ferry.model.SchedulingPhase;
import io.ferry.model.SnapshotIntent;
import io.ferry.model.SnapshotScheduling;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeScheduling;
import io.ferry.model.VolumePhase;
import io.ferry.model.VolumeStatus;
import io.ferry.model.WorkItem;
import io.ferry.runtime.admin.AdminOptions;
import io.vertx.core.Future;
import java.util.function.Function;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;

import static io.ferry.controller.SimulatedAgents.GI;
import static io.ferry.etcd.testing.Await.result;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The controller against a real etcd, with simulated agents answering work items. */
class ControllerIT {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    @RegisterExtension
    final SimulatedCluster cluster = new SimulatedCluster(etcd);
    final String prefix = cluster.prefix;
    final EtcdStore store = cluster.store;
    final FerryKeys keys = cluster.keys;
    final SimulatedAgents agents = cluster.agents;

    RunningController controller(String id) {
        return controller(id, false);
    }

    /** A controller as these tests run it: 64 reconciles at once, the informers' watchdog every 2 s. */
    RunningController controller(String id, boolean admin) {
        return cluster.start(new ControllerOptions(id, Duration.ofSeconds(3), admin ? AdminOptions.loopback(0) : null,
                InformerOptions.defaults().withWatchdogInterval(Duration.ofSeconds(2)),
                RuntimeOptions.defaults().withConcurrency(64).withDelays(Duration.ofMillis(100), Duration.ofSeconds(2)),
                Duration.ofMinutes(5)));
    }

    void sixPoolsOfHundredGi() {
        for (int i = 1; i <= 6; i++) {
            String node = "node-" + i;
            agents.addNode(node, Map.of("rack", "r" + ((i + 1) / 2), "zone", "z1"));
            agents.addPool(node, "pool-" + i, 100, Map.of());
        }
    }

    void oneNodeWithAPoolOfHundredGi() {
        agents.addNode("node-1", Map.of());
        agents.addPool("node-1", "pool-1", 100, Map.of());
    }

    /** Sets the volume's deletion flag, as ferryctl volume rm or the CSI DeleteVolume does. */
    void requestDeletion(String volume, long gib) {
        result(store.put(keys.volume(volume), VolumeIntent.builder(volume, gib * GI).deletionRequested(true).build()));
    }

    void awaitEveryVolumeGone() {
        await().atMost(Duration.ofSeconds(30)).until(() -> result(store.count(keys.volumes())) == 0);
    }

    /** Waits until the controller's order to delete the volume stands in the node's work item. */
    void awaitDeletionOrder(String node, String volume) {
        await().atMost(Duration.ofSeconds(10)).until(() -> result(store.get(keys.workItem(node, volume), WorkItem.class))
                .filter(w -> w.value().deletionRequested()).isPresent());
    }

    /** Waits until the (simulated) agent reported a status for the volume. */
    void awaitStatus(String node, String volume) {
        await().atMost(Duration.ofSeconds(10)).until(() -> result(store.get(keys.volumeStatus(node, volume),
                VolumeStatus.class)).isPresent());
    }

    void createVolumes(int n, long gib) {
        List<Future<Long>> puts = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String name = String.format("vol-%04d", i);
            puts.add(store.put(keys.volume(name), VolumeIntent.builder(name, gib * GI).build()));
        }
        result(Future.all(puts));
    }

    Map<String, VolumeScheduling> schedulings() {
        Listing<VolumeScheduling> l = result(store.list(keys.volumeSchedulings(), VolumeScheduling.class));
        assertThat(l.badValues()).isEmpty();
        return l.items().stream().collect(Collectors.toMap(v -> v.value().volume(), Versioned::value));
    }

    List<Placement> placements() {
        return result(store.list(keys.placements(), Placement.class)).items().stream().map(Versioned::value).toList();
    }

    Map<String, Ledger> ledgers() {
        return result(store.list(keys.ledgers(), Ledger.class)).items().stream()
                .collect(Collectors.toMap(v -> v.value().pool(), Versioned::value));
    }

    /**
     * The etcd revisions at which keys of this test's prefix changed after {@code after}, up to now:
     * one per write (a transaction is one), whoever made it. Counted under the prefix so that other
     * tests' leases expiring in the same etcd do not count. Lifecycle events are left out: they are a
     * record for people, written apart in one transaction per burst (LifecycleEventsIT counts them),
     * not a step of the protocol these counts hold to.
     */
    Set<Long> writesUnderPrefixSince(long after) {
        Set<Long> seen = ConcurrentHashMap.newKeySet();
        long marker = result(store.put(prefix + "/test-marker", Map.of("marker", true)));
        try (Watch.Watcher watcher = store.client().getWatchClient().watch(
                ByteSequence.from(prefix + "/", StandardCharsets.UTF_8),
                WatchOption.builder().isPrefix(true).withRevision(after + 1).build(),
                response -> response.getEvents().stream()
                        .filter(e -> !e.getKeyValue().getKey().toString(StandardCharsets.UTF_8).startsWith(keys.events()))
                        .forEach(e -> seen.add(e.getKeyValue().getModRevision())))) {
            await().atMost(Duration.ofSeconds(10)).until(() -> seen.contains(marker));
        }
        result(store.delete(prefix + "/test-marker"));
        seen.remove(marker);
        return seen;
    }

    void awaitAllDecided(int n) {
        await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(500)).until(() -> {
            Map<String, VolumeScheduling> s = schedulings();
            return s.size() == n && s.values().stream()
                    .allMatch(v -> v.phase() == SchedulingPhase.PLACED || v.phase() == SchedulingPhase.NO_FIT);
        });
    }

    /** Every pool's ledger equals the sum of its placements and never exceeds its capacity. */
    void assertLedgersMatchPlacements(long capacityGi) {
        Map<String, Long> placed = new HashMap<>();
        for (Placement p : placements()) {
            placed.merge(p.pool(), p.sizeBytes(), Long::sum);
        }
        Map<String, Ledger> ledgers = ledgers();
        placed.forEach((pool, bytes) -> {
            assertThat(ledgers.get(pool).allocatedBytes()).as("ledger of " + pool).isEqualTo(bytes);
            assertThat(bytes).as("allocated on " + pool).isLessThanOrEqualTo(capacityGi * GI);
        });
    }

    void assertThousandIntentsEndAsSixHundredPlacementsAndFourHundredPreciseRefusals() {
        awaitAllDecided(1000);
        Map<String, VolumeScheduling> s = schedulings();
        List<Placement> placements = placements();
        assertThat(placements).hasSize(600);
        assertThat(placements.stream().map(Placement::volume).distinct().count()).isEqualTo(600);
        assertLedgersMatchPlacements(100);
        List<VolumeScheduling> refused = s.values().stream().filter(v -> v.phase() == SchedulingPhase.NO_FIT).toList();
        assertThat(refused).hasSize(400);
        assertThat(refused).allSatisfy(v -> {
            assertThat(v.reasonCounts()).isEqualTo(Map.of("free space", 6));
            assertThat(v.message()).isEqualTo("no pool fits: free space 6");
        });
        Listing<WorkItem> work = result(store.list(keys.work(), WorkItem.class));
        assertThat(work.items().stream().filter(w -> w.key().contains("/volumes/")).count()).isEqualTo(600);
    }

    @Test
    void aThousandConcurrentIntentsFillExactlyTheRoomThereIsAndTheRestSayWhy() {
        sixPoolsOfHundredGi();
        var c1 = controller("c1");
        createVolumes(1000, 1);
        assertThousandIntentsEndAsSixHundredPlacementsAndFourHundredPreciseRefusals();
        // Decisions committed together must have counted each other's bytes: the ledgers check above.
        var batches = c1.registry.find("ferry.controller.placement.batch.size").summary();
        assertThat(batches).isNotNull();
        assertThat(batches.max()).as("largest placement batch").isGreaterThan(1);
    }

    @Test
    void twoControllersRunningNeverPlaceTwiceOrOvercommit() {
        sixPoolsOfHundredGi();
        controller("c1");
        controller("c2");
        createVolumes(1000, 1);
        assertThousandIntentsEndAsSixHundredPlacementsAndFourHundredPreciseRefusals();
    }

    @Test
    void whenTheLeaderIsKilledMidStreamTheStandbyFinishesWithoutDoublePlacement() {
        sixPoolsOfHundredGi();
        RunningController first = controller("c1");
        await().atMost(Duration.ofSeconds(10)).until(first.controller::isLeader);
        RunningController second = controller("c2");
        createVolumes(1000, 1);
        await().atMost(Duration.ofSeconds(60)).until(() -> placements().size() >= 150);
        first.kill();
        await().atMost(Duration.ofSeconds(20)).until(second.controller::isLeader);
        assertThousandIntentsEndAsSixHundredPlacementsAndFourHundredPreciseRefusals();
    }

    @Test
    void freedCapacityIsGivenToWaitingVolumesWithoutATimerLoop() {
        agents.addNode("node-1", Map.of());
        agents.addPool("node-1", "pool-1", 10, Map.of());
        controller("c1");
        createVolumes(3, 5);
        awaitAllDecided(3);
        String waiting = schedulings().entrySet().stream().filter(e -> e.getValue().phase() == SchedulingPhase.NO_FIT)
                .map(Map.Entry::getKey).findFirst().orElseThrow();
        agents.addPool("node-1", "pool-2", 10, Map.of());
        await().atMost(Duration.ofSeconds(20)).until(() -> schedulings().get(waiting).phase() == SchedulingPhase.PLACED);
    }

    @Test
    void volumesDeletedTogetherAreReleasedInBatchesAndLeaveEmptyLedgers() {
        sixPoolsOfHundredGi();
        var c1 = controller("c1");
        createVolumes(120, 1);
        awaitAllDecided(120);
        await().atMost(Duration.ofSeconds(60)).until(() -> result(store.list(keys.nodes(), VolumeStatus.class))
                .items().stream().filter(v -> v.key().contains("/volumes/")).count() == 120);
        await().atMost(Duration.ofSeconds(60)).until(() -> placements().stream().allMatch(p -> p.createdAt() != null));
        long before = result(store.currentRevision());
        List<Future<Long>> puts = new ArrayList<>();
        for (int i = 0; i < 120; i++) {
            String name = String.format("vol-%04d", i);
            puts.add(store.put(keys.volume(name), VolumeIntent.builder(name, GI).deletionRequested(true).build()));
        }
        result(Future.all(puts));
        await().atMost(Duration.ofSeconds(120)).until(() -> result(store.count(keys.volumes())) == 0);
        // Per volume: the caller's flag and the node's acknowledgement, one write each; the orders
        // and the releases are shared by many volumes (2.1 per volume here; 4.1 before).
        assertThat(writesUnderPrefixSince(before).size()).as("etcd writes for 120 deletions").isLessThanOrEqualTo(5 * 120 / 2);
        for (int i = 1; i <= 6; i++) {
            assertThat(result(store.count(keys.volumeStatuses("node-" + i)))).as("acknowledgements left on node-" + i).isZero();
        }
        var orders = c1.registry.find("ferry.controller.deletion.order.batch.size").summary();
        assertThat(orders).isNotNull();
        assertThat(orders.max()).as("largest batch of deletion orders").isGreaterThan(1)
                .isLessThanOrEqualTo(DeleteStep.MAX_ORDER_BATCH);
        assertThat(placements()).isEmpty();
        assertThat(ledgers()).isNotEmpty().allSatisfy((pool, ledger) -> {
            assertThat(ledger.allocatedBytes()).as("bytes in " + pool).isZero();
            assertThat(ledger.volumeCount()).as("volumes in " + pool).isZero();
        });
        assertThat(result(store.count(keys.volumeSchedulings()))).isZero();
        var batches = c1.registry.find("ferry.controller.release.batch.size").summary();
        assertThat(batches).isNotNull();
        assertThat(batches.max()).as("largest release batch").isGreaterThan(1)
                .isLessThanOrEqualTo(ReleaseStep.MAX_RELEASE_BATCH);
    }

    @Test
    void aDeletionIsTheFlagOneOrderOneAcknowledgementAndOneReleaseWhichTakesTheAcknowledgementAlong() {
        oneNodeWithAPoolOfHundredGi();
        controller("c1");
        createVolumes(1, 10);
        awaitAllDecided(1);
        await().atMost(Duration.ofSeconds(10)).until(() -> placements().get(0).createdAt() != null);
        long before = result(store.currentRevision());

        requestDeletion("vol-0000", 10);
        awaitEveryVolumeGone();

        // The flag; the order (work item, placement and record together); the node's Deleted; the
        // release (ledger, placement, work item, record, intent and the Deleted status together).
        assertThat(writesUnderPrefixSince(before)).as("etcd writes of one deletion").hasSize(4);
        assertThat(result(store.count(keys.volumeStatuses("node-1")))).as("the acknowledgement went with the order").isZero();
        assertThat(result(store.count(keys.workItems("node-1")))).isZero();
        assertThat(result(store.count(keys.volumeSchedulings()))).isZero();
        assertThat(ledgers().get("pool-1").allocatedBytes()).isZero();
    }

    @Test
    void aCrashBetweenTheNodesRemovalAndItsAcknowledgementReleasesNothingEarlyAndLeaksNothing() {
        oneNodeWithAPoolOfHundredGi();
        RunningController first = controller("c1");
        createVolumes(1, 10);
        awaitAllDecided(1);
        awaitStatus("node-1", "vol-0000");

        // The node takes the order and removes the volume but has not acknowledged yet (its agent
        // crashed in between, or is slow): the order stands and the status still says Ready.
        agents.pause("node-1");
        requestDeletion("vol-0000", 10);
        awaitDeletionOrder("node-1", "vol-0000");
        assertNothingReleasedFor(Duration.ofSeconds(2));
        first.kill();
        controller("c2");
        assertNothingReleasedFor(Duration.ofSeconds(2));
        VolumeScheduling waiting = schedulings().get("vol-0000");
        assertThat(waiting.phase()).isEqualTo(SchedulingPhase.DELETING);
        assertThat(waiting.message()).isEqualTo("waiting for node-1 to remove the volume");

        // The acknowledgement arrives: released once, and nothing is left, the acknowledgement included.
        agents.resume("node-1");
        awaitEveryVolumeGone();
        assertThat(placements()).isEmpty();
        assertThat(ledgers().get("pool-1").allocatedBytes()).isZero();
        assertThat(ledgers().get("pool-1").volumeCount()).isZero();
        assertThat(result(store.count(keys.workItems("node-1")))).isZero();
        assertThat(result(store.count(keys.volumeStatuses("node-1")))).isZero();
        assertThat(result(store.count(keys.volumeSchedulings()))).isZero();
    }

    /** Over the whole period, vol-0000 keeps its placement, its order, its intent and its ledger charge. */
    void assertNothingReleasedFor(Duration period) {
        long end = System.nanoTime() + period.toNanos();
        while (System.nanoTime() < end) {
            assertThat(placements()).hasSize(1);
            assertThat(ledgers().get("pool-1").allocatedBytes()).isEqualTo(10 * GI);
            assertThat(result(store.get(keys.workItem("node-1", "vol-0000"), WorkItem.class))).isPresent();
            assertThat(result(store.count(keys.volumes()))).isOne();
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
    }

    @Test
    void deletionFinishesAfterAControllerCrashAtAnyStepAndLeaksNothing() {
        oneNodeWithAPoolOfHundredGi();
        RunningController first = controller("c1");
        createVolumes(2, 10);
        awaitAllDecided(2);
        awaitStatus("node-1", "vol-0000");

        // Crash after the deletion order was written, before the agent removed the volume.
        agents.pause("node-1");
        requestDeletion("vol-0000", 10);
        awaitDeletionOrder("node-1", "vol-0000");
        first.kill();
        // The agent finishes its part while no controller runs.
        agents.resume("node-1");
        // Crash before anything happened: the flag is set while no controller runs at all.
        requestDeletion("vol-0001", 10);

        controller("c2");
        awaitEveryVolumeGone();
        assertThat(placements()).isEmpty();
        assertThat(ledgers().get("pool-1").allocatedBytes()).isZero();
        assertThat(ledgers().get("pool-1").volumeCount()).isZero();
        assertThat(result(store.count(keys.volumeSchedulings()))).isZero();
        assertThat(result(store.count(keys.workItems("node-1")))).isZero();
        assertThat(result(store.count(keys.volumeStatuses("node-1")))).isZero();
    }

    /** Two nodes with a pool each, a controller, and vol-0000 (10 GiB) placed and reported by its agent. */
    Placement oneVolumeServedOnOneOfTwoNodes() {
        oneNodeWithAPoolOfHundredGi();
        agents.addNode("node-2", Map.of());
        agents.addPool("node-2", "pool-2", 100, Map.of());
        controller("c1");
        createVolumes(1, 10);
        awaitAllDecided(1);
        Placement before = placements().get(0);
        await().atMost(Duration.ofSeconds(10)).until(() -> result(store.get(keys.volumeStatus(before.node(), "vol-0000"),
                VolumeStatus.class)).isPresent());
        return before;
    }

    @Test
    void aPlacementDeletedByHandIsRebuiltFromTheWorkItemAndTheVolumeIsNeverPlacedTwice() {
        Placement before = oneVolumeServedOnOneOfTwoNodes();

        // The slip of the issue: `etcdctl del /ferry/placements/vol-0000`.
        etcd.etcdctl("del", keys.placement("vol-0000"));

        await().atMost(Duration.ofSeconds(15)).until(() -> placements().size() == 1);
        Placement after = placements().get(0);
        assertThat(after.node()).isEqualTo(before.node());
        assertThat(after.pool()).isEqualTo(before.pool());
        Listing<WorkItem> work = result(store.list(keys.work(), WorkItem.class));
        assertThat(work.items().stream().filter(w -> w.key().contains("/volumes/")).map(w -> w.value().node()))
                .as("exactly one copy, where it always was").containsExactly(before.node());
        assertLedgersMatchPlacements(100);
        assertThat(ledgers().values().stream().mapToLong(Ledger::allocatedBytes).sum()).isEqualTo(10 * GI);

        // Deleted properly, nothing is left anywhere.
        requestDeletion("vol-0000", 10);
        awaitEveryVolumeGone();
        assertThat(placements()).isEmpty();
        assertThat(ledgers().values()).allSatisfy(l -> assertThat(l.allocatedBytes()).isZero());
        assertThat(result(store.count(keys.workItems(before.node())))).isZero();
    }

    @Test
    void aVolumeWhosePlacementAndWorkItemAreBothGoneIsHeldNotPlacedAgainEmpty() {
        Placement before = oneVolumeServedOnOneOfTwoNodes();

        // Both in one transaction, as an etcd restored from a backup taken before the volume existed
        // would have neither, while the node still has the volume and its status.
        result(store.txn().delete(keys.placement("vol-0000")).delete(keys.workItem(before.node(), "vol-0000")).commit());

        await().atMost(Duration.ofSeconds(15)).until(() -> schedulings().get("vol-0000").message() != null
                && schedulings().get("vol-0000").message().contains("not placed again"));
        assertThat(schedulings().get("vol-0000").message()).contains(before.node());
        assertThat(placements()).isEmpty();
        Listing<WorkItem> work = result(store.list(keys.work(), WorkItem.class));
        assertThat(work.items().stream().filter(w -> w.key().contains("/volumes/"))).as("no second, empty copy").isEmpty();
    }

    @Test
    void aPlacementRecordsTheFirstCreationOnceReportedReadyAndOnePlacedBeforeTheRecordExistedIsBackfilled() {
        Placement before = oneVolumeServedOnOneOfTwoNodes();
        await().atMost(Duration.ofSeconds(15)).until(() -> placements().get(0).createdAt() != null
                && result(store.get(keys.workItem(before.node(), "vol-0000"), WorkItem.class)).orElseThrow().value().mustExist());
        assertThat(placements().get(0).generation()).as("recording the creation asks the agent for nothing new")
                .isEqualTo(before.generation());

        // A placement as an older controller wrote it: no record. The next look at the volume adds it.
        Placement old = placements().get(0);
        result(store.put(keys.placement("vol-0000"), Placement.of(old.volume(), old.pool(), old.node(), old.engine(),
                old.sizeBytes(), old.thin(), old.generation(), old.consumerNode(), null, null, old.placedAt())));
        await().atMost(Duration.ofSeconds(15)).until(() -> placements().get(0).createdAt() != null);
    }

    @Test
    void aPlacementAndWorkItemDeletedUnderAVolumeWhoseStatusNamesItsPoolAreRebuiltThereWithoutASecondCharge() {
        Placement before = oneVolumeServedOnOneOfTwoNodes();
        await().atMost(Duration.ofSeconds(15)).until(() -> placements().get(0).createdAt() != null);
        VolumeStatus reported = result(store.get(keys.volumeStatus(before.node(), "vol-0000"), VolumeStatus.class))
                .orElseThrow().value();
        // What a current agent reports: the pool with the size.
        result(store.put(keys.volumeStatus(before.node(), "vol-0000"), VolumeStatus.of("vol-0000", before.node(), before.pool(),
                reported.phase(), reported.devicePath(), reported.sizeBytes(), null, reported.observedGeneration(), null,
                Instant.now())));
        Map<String, Ledger> ledgersBefore = ledgers();

        result(store.txn().delete(keys.placement("vol-0000")).delete(keys.workItem(before.node(), "vol-0000")).commit());

        await().atMost(Duration.ofSeconds(15)).until(() -> placements().size() == 1
                && result(store.get(keys.workItem(before.node(), "vol-0000"), WorkItem.class)).isPresent());
        Placement after = placements().get(0);
        assertThat(after.node()).isEqualTo(before.node());
        assertThat(after.pool()).isEqualTo(before.pool());
        assertThat(after.sizeBytes()).isEqualTo(before.sizeBytes());
        assertThat(after.createdAt()).as("a status with a size proves the volume was created").isNotNull();
        assertThat(result(store.get(keys.workItem(before.node(), "vol-0000"), WorkItem.class)).orElseThrow().value().mustExist())
                .isTrue();
        Listing<WorkItem> work = result(store.list(keys.work(), WorkItem.class));
        assertThat(work.items().stream().filter(w -> w.key().contains("/volumes/")).map(w -> w.value().node()))
                .as("exactly one copy, where it always was").containsExactly(before.node());
        assertThat(ledgers()).as("no second charge").isEqualTo(ledgersBefore);
        assertLedgersMatchPlacements(100);
    }

    @Test
    void anAdoptedVolumeIsNeverPlacedAsANewOneItWaitsForItsNodesStatusAndIsRebuiltThereWithOneCharge() throws Exception {
        oneNodeWithAPoolOfHundredGi();
        agents.addNode("node-2", Map.of());
        agents.addPool("node-2", "pool-2", 100, Map.of());
        controller("c1");
        // The intent arrives before the node's status (they come through different watches, and an
        // operator may write it by hand first): it must wait, not be placed anywhere empty.
        result(store.put(keys.volume("adopted"), VolumeIntent.builder("adopted", 10 * GI).adoptFromNode("node-2").build()));
        result(store.put(keys.volume("elsewhere"), VolumeIntent.builder("elsewhere", 10 * GI).adoptFromNode("node-1")
                .build()));
        await().atMost(Duration.ofSeconds(15)).until(() -> schedulings().containsKey("adopted")
                && schedulings().containsKey("elsewhere"));
        assertThat(schedulings().get("adopted").phase()).isEqualTo(SchedulingPhase.PENDING);
        assertThat(schedulings().get("adopted").message()).contains("adopted from node node-2")
                .contains("never placed as a new volume");
        Thread.sleep(2000);
        assertThat(placements()).as("nothing placed while the node's status is missing").isEmpty();
        assertThat(result(store.list(keys.work(), WorkItem.class)).items().stream()
                .filter(w -> w.key().contains("/volumes/"))).isEmpty();

        // The statuses the agents write when they carry out the adoption orders: one where the intent
        // says, one on another node than the intent says.
        result(store.put(keys.volumeStatus("node-2", "adopted"), VolumeStatus.of("adopted", "node-2", "pool-2",
                VolumePhase.PENDING, null, 10 * GI, null, 0, "adopted on order adopt-1", Instant.now())));
        result(store.put(keys.volumeStatus("node-2", "elsewhere"), VolumeStatus.of("elsewhere", "node-2", "pool-2",
                VolumePhase.PENDING, null, 10 * GI, null, 0, "adopted on order adopt-2", Instant.now())));

        await().atMost(Duration.ofSeconds(15)).until(() -> placements().size() == 1);
        Placement placed = placements().get(0);
        assertThat(placed.volume()).isEqualTo("adopted");
        assertThat(placed.node()).isEqualTo("node-2");
        assertThat(placed.pool()).isEqualTo("pool-2");
        assertThat(placed.createdAt()).as("the adopted volume exists: never created again").isNotNull();
        assertThat(result(store.get(keys.workItem("node-2", "adopted"), WorkItem.class)).orElseThrow().value().mustExist())
                .isTrue();
        await().atMost(Duration.ofSeconds(15)).until(() -> ledgers().containsKey("pool-2")
                && ledgers().get("pool-2").allocatedBytes() == 10 * GI);
        assertThat(ledgers().get("pool-2").volumeCount()).as("charged once").isEqualTo(1);
        assertThat(ledgers().getOrDefault("pool-1", new Ledger(1, "pool-1", 0, 0)).allocatedBytes()).isZero();

        await().atMost(Duration.ofSeconds(15)).until(() -> schedulings().get("elsewhere").message().contains("node-2 hold(s)"));
        Thread.sleep(1000);
        assertThat(placements()).extracting(Placement::volume).containsExactly("adopted");
        assertLedgersMatchPlacements(100);
    }

    @Test
    void aLedgerDeletedOrTamperedByHandIsRecomputedFromThePlacementsAndTheDifferenceIsReported() throws Exception {
        oneNodeWithAPoolOfHundredGi();
        RunningController c = controller("c1", true);
        createVolumes(3, 10);
        awaitAllDecided(3);
        await().atMost(Duration.ofSeconds(10)).until(() -> ledgers().get("pool-1").allocatedBytes() == 30 * GI);

        etcd.etcdctl("del", keys.ledger("pool-1"));
        await().atMost(Duration.ofSeconds(15)).until(() -> ledgers().containsKey("pool-1"));
        assertThat(ledgers().get("pool-1").allocatedBytes()).isEqualTo(30 * GI);
        assertThat(ledgers().get("pool-1").volumeCount()).isEqualTo(3);

        result(store.put(keys.ledger("pool-1"), new Ledger(1, "pool-1", 2 * GI, 7)));
        await().atMost(Duration.ofSeconds(15)).until(() -> ledgers().get("pool-1").allocatedBytes() == 30 * GI
                && ledgers().get("pool-1").volumeCount() == 3);

        HttpClient http = HttpClient.newHttpClient();
        String pools = http.send(HttpRequest.newBuilder(URI.create(c.controller.adminUrl() + "/api/v1/pools")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        assertThat(pools).contains("\"ledgerCorrection\"").contains("\"reason\":\"inconsistent\"")
                .contains("\"fromBytes\":" + 2 * GI).contains("\"toBytes\":" + 30 * GI);
        String metrics = http.send(HttpRequest.newBuilder(URI.create(c.controller.adminUrl() + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        assertThat(metrics).contains("ferry_controller_ledger_corrections_total{pool=\"pool-1\"} 2.0");

        // A correct ledger is left alone, and placing still charges it exactly once.
        createVolumes(4, 10);
        awaitAllDecided(4);
        await().atMost(Duration.ofSeconds(10)).until(() -> ledgers().get("pool-1").allocatedBytes() == 40 * GI);
        assertLedgersMatchPlacements(100);
    }

    @Test
    void anAttachedVolumeIsNotDeletedUntilItIsDetached() {
        oneNodeWithAPoolOfHundredGi();
        agents.addNode("node-2", Map.of());
        controller("c1");
        createVolumes(1, 10);
        awaitAllDecided(1);
        result(store.put(keys.attachment("vol-0000", "node-2"),
                Attachment.of("vol-0000", "node-2", SimulatedAgents.hostNqn("node-2"), false, Instant.now())));

        requestDeletion("vol-0000", 10);
        await().atMost(Duration.ofSeconds(10)).until(() -> schedulings().get("vol-0000").phase() == SchedulingPhase.DELETING
                && schedulings().get("vol-0000").message().contains("attached to node-2"));
        assertThat(result(store.get(keys.workItem("node-1", "vol-0000"), WorkItem.class)).orElseThrow().value()
                .deletionRequested()).as("no deletion order while attached").isFalse();
        assertThat(placements()).hasSize(1);

        result(store.delete(keys.attachment("vol-0000", "node-2")));
        awaitEveryVolumeGone();
        assertThat(placements()).isEmpty();
    }

    @Test
    void anAttachmentClaimingAHostNqnItsNodeDidNotRegisterIsRefusedAndNothingIsExportedToIt() {
        oneNodeWithAPoolOfHundredGi();
        agents.addNode("node-2", Map.of());
        controller("c1");
        createVolumes(1, 10);
        awaitAllDecided(1);
        // Whoever can write an attachment names the NQN an attacker's initiator will claim.
        String forged = "nqn.2014-08.org.nvmexpress:uuid:0bad0bad-0000-4000-8000-000000000666";
        result(store.put(keys.attachment("vol-0000", "node-2"), Attachment.of("vol-0000", "node-2", forged, false, Instant.now())));
        await().atMost(Duration.ofSeconds(10)).until(() -> schedulings().get("vol-0000").condition(Condition.ATTACHED)
                .map(c -> c.failureReason() == FailureReason.ATTACHMENT_REFUSED).orElse(false));
        assertThat(schedulings().get("vol-0000").condition(Condition.ATTACHED).orElseThrow().message())
                .contains("names host NQN " + forged, "node node-2 registered " + SimulatedAgents.hostNqn("node-2"));
        assertThat(result(store.get(keys.workItem("node-1", "vol-0000"), WorkItem.class)).orElseThrow().value().export())
                .as("nothing exported to a host its node did not register").isNull();

        // The attachment as the node registered it: exported to that host, and the refusal is gone.
        result(store.put(keys.attachment("vol-0000", "node-2"),
                Attachment.of("vol-0000", "node-2", SimulatedAgents.hostNqn("node-2"), false, Instant.now())));
        await().atMost(Duration.ofSeconds(10)).until(() -> result(store.get(keys.workItem("node-1", "vol-0000"), WorkItem.class))
                .map(v -> v.value().export() != null).orElse(false));
        assertThat(result(store.get(keys.workItem("node-1", "vol-0000"), WorkItem.class)).orElseThrow().value().export()
                .allowedHostNqns()).containsExactly(SimulatedAgents.hostNqn("node-2"));
        await().atMost(Duration.ofSeconds(10)).until(() -> schedulings().get("vol-0000").condition(Condition.ATTACHED).isEmpty());
    }

    @Test
    void aDeadNodesVolumesShowUnreachableItsPoolsTakeNothingAndNothingMovesWhenItReturns() {
        oneNodeWithAPoolOfHundredGi();
        controller("c1");
        createVolumes(1, 10);
        awaitAllDecided(1);
        agents.killNode("node-1");
        await().atMost(Duration.ofSeconds(10)).until(() -> !schedulings().get("vol-0000").reachable());
        assertThat(schedulings().get("vol-0000").message()).contains("node-1 is down");
        Condition reachable = schedulings().get("vol-0000").condition(Condition.REACHABLE).orElseThrow();
        assertThat(reachable.failureReason()).isEqualTo(FailureReason.NODE_UNREACHABLE);
        assertThat(schedulings().get("vol-0000").condition(Condition.SCHEDULED).orElseThrow().status())
                .as("still placed: nothing moves").isTrue();

        result(store.put(keys.volume("late"), VolumeIntent.builder("late", GI).build()));
        await().atMost(Duration.ofSeconds(10)).until(() -> schedulings().containsKey("late"));
        assertThat(schedulings().get("late").reasonCounts()).isEqualTo(Map.of("node down", 1));

        agents.addNode("node-1", Map.of());
        await().atMost(Duration.ofSeconds(10)).until(() -> schedulings().get("vol-0000").reachable());
        assertThat(schedulings().get("vol-0000").condition(Condition.REACHABLE).orElseThrow().status()).isTrue();
        assertThat(placements()).filteredOn(p -> p.volume().equals("vol-0000")).extracting(Placement::pool).containsExactly("pool-1");
        await().atMost(Duration.ofSeconds(10)).until(() -> schedulings().get("late").phase() == SchedulingPhase.PLACED);
    }

    @Test
    void expansionGrowsInPlaceWhenThePoolHasRoomAndSaysWhyWhenItDoesNot() {
        agents.addNode("node-1", Map.of());
        agents.addPool("node-1", "pool-1", 50, Map.of());
        controller("c1");
        createVolumes(1, 10);
        awaitAllDecided(1);
        result(store.put(keys.volume("vol-0000"), VolumeIntent.builder("vol-0000", 30 * GI).build()));
        await().atMost(Duration.ofSeconds(10)).until(() ->
                result(store.get(keys.workItem("node-1", "vol-0000"), WorkItem.class)).map(w -> w.value().sizeBytes()).orElse(0L) == 30 * GI);
        assertThat(ledgers().get("pool-1").allocatedBytes()).isEqualTo(30 * GI);
        assertThat(ledgers().get("pool-1").volumeCount()).as("a grown volume is still one volume").isEqualTo(1);
        assertThat(placements().get(0).generation()).isEqualTo(2);

        result(store.put(keys.volume("vol-0000"), VolumeIntent.builder("vol-0000", 60 * GI).build()));
        await().atMost(Duration.ofSeconds(10)).until(() -> String.valueOf(schedulings().get("vol-0000").message()).contains("cannot grow"));
        assertThat(schedulings().get("vol-0000").message()).contains("pool pool-1 has " + 20 * GI + " bytes free");
        assertThat(ledgers().get("pool-1").allocatedBytes()).isEqualTo(30 * GI);
        VolumeScheduling refused = schedulings().get("vol-0000");
        Condition resized = refused.condition(Condition.RESIZED).orElseThrow();
        assertThat(resized.status()).isFalse();
        assertThat(resized.failureReason()).isEqualTo(FailureReason.NO_SPACE);
        assertThat(resized.observedGeneration()).as("the intent revision it answers")
                .isEqualTo(result(store.get(keys.volume("vol-0000"), VolumeIntent.class)).orElseThrow().modRevision());
        assertThat(refused.growRefusedBytes()).isEqualTo(60 * GI);
        assertThat(refused.condition(Condition.SCHEDULED).orElseThrow().status()).isTrue();

        // The refused growth waits for room, not for a timer: a larger pool takes it at once.
        agents.addPool("node-1", "pool-1", 100, Map.of());
        await("grown once the pool has room").atMost(Duration.ofSeconds(10)).until(() ->
                result(store.get(keys.workItem("node-1", "vol-0000"), WorkItem.class)).map(w -> w.value().sizeBytes()).orElse(0L) == 60 * GI);
        await().atMost(Duration.ofSeconds(10)).until(() -> schedulings().get("vol-0000").condition(Condition.RESIZED).isEmpty());
        assertThat(schedulings().get("vol-0000").growRefusedBytes()).isZero();

        // Deleting the grown volume empties the ledger (the VM testbed's scenario 4 once left volumeCount 1).
        requestDeletion("vol-0000", 60);
        awaitEveryVolumeGone();
        assertThat(ledgers().get("pool-1")).isEqualTo(Ledger.empty("pool-1"));
    }

    @Test
    void aShrinkIsRefusedWithATypedReason() {
        agents.addNode("node-1", Map.of());
        agents.addPool("node-1", "pool-1", 50, Map.of());
        controller("c1");
        createVolumes(1, 10);
        awaitAllDecided(1);
        result(store.put(keys.volume("vol-0000"), VolumeIntent.builder("vol-0000", 4 * GI).build()));
        await().atMost(Duration.ofSeconds(10)).until(() -> schedulings().get("vol-0000").condition(Condition.RESIZED)
                .map(c -> c.failureReason() == FailureReason.SHRINK_REFUSED).orElse(false));
        assertThat(placements().get(0).sizeBytes()).isEqualTo(10 * GI);
    }

    @Test
    void anInvalidIntentIsReportedAndPlacedOnceFixed() {
        agents.addNode("node-1", Map.of());
        agents.addPool("node-1", "pool-1", 50, Map.of());
        controller("c1");
        etcd.etcdctl("put", keys.volume("broken"), "{\"name\":\"broken\",\"sizeBytes\":\"-3Gi\"}");
        await().atMost(Duration.ofSeconds(10)).until(() -> schedulings().containsKey("broken"));
        assertThat(schedulings().get("broken").phase()).isEqualTo(SchedulingPhase.INVALID);
        assertThat(schedulings().get("broken").message()).startsWith("invalid volume intent:").contains("sizeBytes");
        assertThat(schedulings().get("broken").terminalRefusal().orElseThrow().failureReason())
                .isEqualTo(FailureReason.INVALID_INTENT);

        etcd.etcdctl("put", keys.volume("broken"), "{\"name\":\"broken\",\"sizeBytes\":\"3Gi\"}");
        await().atMost(Duration.ofSeconds(10)).until(() -> schedulings().get("broken").phase() == SchedulingPhase.PLACED);
    }

    @Test
    void anIntentWithMkfsOptionsOffTheAllowListIsInvalidAndNeverPlaced() {
        // Written by hand, past the CSI plugin: "-d /etc" would have mkfs copy the node's /etc into
        // the volume, as root, on whichever node stages it.
        agents.addNode("node-1", Map.of());
        agents.addPool("node-1", "pool-1", 50, Map.of());
        controller("c1");
        etcd.etcdctl("put", keys.volume("hostile"), "{\"name\":\"hostile\",\"sizeBytes\":\"1Gi\",\"fsType\":\"ext4\","
                + "\"mkfsOptions\":[\"-L\",\"data\",\"-d\",\"/etc\"]}");
        await().atMost(Duration.ofSeconds(10)).until(() -> schedulings().containsKey("hostile"));
        assertThat(schedulings().get("hostile").phase()).isEqualTo(SchedulingPhase.INVALID);
        assertThat(schedulings().get("hostile").message()).startsWith("invalid volume intent:")
                .contains("\"-d\" is not an allowed ext4 option");
        assertThat(placements()).noneMatch(p -> p.volume().equals("hostile"));
    }

    @Test
    void spreadGroupMembersLandInDistinctRacksAndTheOneTooManyIsRefusedWithTheLevel() {
        sixPoolsOfHundredGi();
        controller("c1");
        List<Future<Long>> puts = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            String name = "db-" + i;
            puts.add(store.put(keys.volume(name), VolumeIntent.builder(name, GI).spreadGroup("db")
                    .failureDomainLevel(FailureDomainLevel.RACK).build()));
        }
        result(Future.all(puts));
        awaitAllDecided(4);
        Map<String, String> racks = new HashMap<>();
        for (Placement p : placements()) {
            int n = Integer.parseInt(p.node().substring("node-".length()));
            racks.put(p.volume(), "r" + ((n + 1) / 2));
        }
        assertThat(racks).hasSize(3);
        assertThat(racks.values()).doesNotHaveDuplicates();
        VolumeScheduling refused = schedulings().values().stream().filter(v -> v.phase() == SchedulingPhase.NO_FIT).findFirst().orElseThrow();
        assertThat(refused.reasonCounts()).isEqualTo(Map.of("spread rack", 6));
        Condition scheduled = refused.condition(Condition.SCHEDULED).orElseThrow();
        assertThat(scheduled.failureReason()).isEqualTo(FailureReason.NO_FIT);
        assertThat(scheduled.lastTransitionTime()).isNotNull();
        assertThat(schedulings().values()).filteredOn(v -> v.phase() == SchedulingPhase.PLACED)
                .allSatisfy(v -> assertThat(v.condition(Condition.SCHEDULED).orElseThrow().reason())
                        .isEqualTo(Condition.REASON_PLACED));
    }

    @Test
    void aSnapshotAndAVolumeMadeFromItLiveOnTheOriginsPoolAndAreAccounted() {
        oneNodeWithAPoolOfHundredGi();
        agents.addNode("node-2", Map.of());
        agents.addPool("node-2", "pool-2", 100, Map.of());
        controller("c1");
        result(store.put(keys.volume("origin"), VolumeIntent.builder("origin", 10 * GI).build()));
        await().atMost(Duration.ofSeconds(10)).until(() -> placements().size() == 1);
        String pool = placements().get(0).pool();

        result(store.put(keys.snapshot("snap"), SnapshotIntent.of("snap", "origin", "test", Instant.now())));
        await().atMost(Duration.ofSeconds(10)).until(() -> result(store.get(keys.snapshotScheduling("snap"), SnapshotScheduling.class))
                .map(s -> s.value().phase() == SchedulingPhase.PLACED).orElse(false));
        assertThat(ledgers().get(pool).allocatedBytes()).isEqualTo(20 * GI);

        result(store.put(keys.volume("restored"), VolumeIntent.builder("restored", 10 * GI).sourceSnapshot("snap").build()));
        await().atMost(Duration.ofSeconds(10)).until(() -> placements().size() == 2);
        Placement restored = placements().stream().filter(p -> p.volume().equals("restored")).findFirst().orElseThrow();
        assertThat(restored.pool()).isEqualTo(pool);
        WorkItem work = result(store.get(keys.workItem(restored.node(), "restored"), WorkItem.class)).orElseThrow().value();
        assertThat(work.source().snapshot()).isEqualTo("snap");
        assertThat(ledgers().get(pool).allocatedBytes()).isEqualTo(30 * GI);

        // The snapshot cannot go while a volume made from it exists; then it goes and its bytes return.
        result(store.put(keys.snapshot("snap"), SnapshotIntent.of("snap", "origin", "test", Instant.now()).withDeletionRequested()));
        result(store.put(keys.volume("restored"), VolumeIntent.builder("restored", 10 * GI).sourceSnapshot("snap")
                .deletionRequested(true).build()));
        await().atMost(Duration.ofSeconds(20)).until(() -> result(store.count(keys.snapshots())) == 0
                && result(store.count(keys.volumes())) == 1);
        assertThat(ledgers().get(pool).allocatedBytes()).isEqualTo(10 * GI);
    }

    @Test
    void attachingFromAnotherNodeExportsTheVolumeToExactlyThatHost() {
        oneNodeWithAPoolOfHundredGi();
        agents.addNode("node-2", Map.of());
        controller("c1");
        createVolumes(1, 1);
        awaitAllDecided(1);
        WorkItem before = result(store.get(keys.workItem("node-1", "vol-0000"), WorkItem.class)).orElseThrow().value();
        assertThat(before.export()).isNull();

        result(store.put(keys.attachment("vol-0000", "node-2"),
                Attachment.of("vol-0000", "node-2", SimulatedAgents.hostNqn("node-2"), false, Instant.now())));
        await().atMost(Duration.ofSeconds(10)).until(() -> result(store.get(keys.workItem("node-1", "vol-0000"), WorkItem.class))
                .map(w -> w.value().export() != null).orElse(false));
        WorkItem after = result(store.get(keys.workItem("node-1", "vol-0000"), WorkItem.class)).orElseThrow().value();
        assertThat(after.export().allowedHostNqns()).containsExactly(SimulatedAgents.hostNqn("node-2"));
        assertThat(after.export().consumerNode()).isEqualTo("node-2");
        assertThat(after.generation()).isGreaterThan(before.generation());
    }

    @Test
    void aConsumerOnTheServingNodesMachineIsHandedTheVolumeWithoutAnExportAndAnotherMachineGetsOne() {
        oneNodeWithAPoolOfHundredGi();
        agents.addNode("node-2", Map.of());
        agents.onMachine("node-1", "machine-a");
        agents.onMachine("node-2", "machine-a");
        controller("c1");
        createVolumes(1, 1);
        awaitAllDecided(1);
        result(store.put(keys.attachment("vol-0000", "node-2"),
                Attachment.of("vol-0000", "node-2", SimulatedAgents.hostNqn("node-2"), false, Instant.now())));
        // The attachment is acted on (the controller reconciles the volume) but asks for no export.
        await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(5)).until(() ->
                result(store.get(keys.workItem("node-1", "vol-0000"), WorkItem.class)).orElseThrow().value().export() == null);

        // The consumer's agent restarts: its registration is missing for a while, which says nothing
        // about where it runs; the decision already made for its attachment stands.
        WorkItem handedOver = result(store.get(keys.workItem("node-1", "vol-0000"), WorkItem.class)).orElseThrow().value();
        agents.unregister("node-2");
        await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(5)).until(() ->
                result(store.get(keys.workItem("node-1", "vol-0000"), WorkItem.class)).orElseThrow().value()
                        .equals(handedOver));

        // It comes back on another machine: now the volume must be exported to it.
        agents.onMachine("node-2", "machine-b");
        await().atMost(Duration.ofSeconds(10)).until(() -> result(store.get(keys.workItem("node-1", "vol-0000"), WorkItem.class))
                .map(w -> w.value().export() != null).orElse(false));
        WorkItem exported = result(store.get(keys.workItem("node-1", "vol-0000"), WorkItem.class)).orElseThrow().value();
        assertThat(exported.export().allowedHostNqns()).containsExactly(SimulatedAgents.hostNqn("node-2"));
        assertThat(exported.generation()).isGreaterThan(handedOver.generation());

        // A registration that names no machine (an older agent) is not the same machine either.
        agents.onMachine("node-2", "machine-a");
        await().atMost(Duration.ofSeconds(10)).until(() -> result(store.get(keys.workItem("node-1", "vol-0000"), WorkItem.class))
                .map(w -> w.value().export() == null).orElse(false));
        agents.onMachine("node-1", null);
        await().atMost(Duration.ofSeconds(10)).until(() -> result(store.get(keys.workItem("node-1", "vol-0000"), WorkItem.class))
                .map(w -> w.value().export() != null).orElse(false));
    }

    @Test
    void poolGaugesFollowPoolsAndLedgersFromTheStartWithoutAnyApiCall() {
        oneNodeWithAPoolOfHundredGi();
        RunningController c = controller("c1", false);
        await().atMost(Duration.ofSeconds(10)).until(c.controller::isLeader);
        Function<String, Double> gauge = name -> {
            var g = c.registry.find(name).tag("pool", "pool-1").gauge();
            return g == null ? null : g.value();
        };
        await("the capacity gauge, before anyone asked for it").atMost(Duration.ofSeconds(10))
                .until(() -> Double.valueOf(100.0 * GI).equals(gauge.apply("ferry.pool.capacity.bytes")));

        result(store.put(keys.volume("v1"), VolumeIntent.builder("v1", 10 * GI).build()));
        await("allocation follows the ledger").atMost(Duration.ofSeconds(15))
                .until(() -> Double.valueOf(10.0 * GI).equals(gauge.apply("ferry.pool.allocated.bytes")));

        // A second pool appears, then the first one's config is removed: the gauges follow.
        agents.addPool("node-1", "pool-2", 50, Map.of());
        await().atMost(Duration.ofSeconds(15)).until(() -> c.registry.find("ferry.pool.capacity.bytes")
                .tag("pool", "pool-2").gauge() != null);
    }

    @Test
    void aVolumeThatFailedOnAMalformedLedgerSaysSoAtOnceAndIsPlacedAsSoonAsTheLedgerIsRepaired() {
        oneNodeWithAPoolOfHundredGi();
        // Typed by hand, badly: the pool's ledger does not decode.
        result(store.putRaw(keys.ledger("pool-1"), "{\"pool\":\"pool-1\",\"allocatedBytes\":\"many\"}"
                .getBytes(StandardCharsets.UTF_8)));
        RunningController c = controller("c1");
        await().atMost(Duration.ofSeconds(10)).until(c.controller::isLeader);
        long revision = result(store.put(keys.volume("v1"), VolumeIntent.builder("v1", 10 * GI).build()));
        // The failure is in the volume's record at once (it used to sit Pending with no record at all),
        // typed, for this very revision of the intent, and naming the key that caused it.
        await("the terminal failure recorded").atMost(Duration.ofSeconds(5)).until(() -> schedulings().containsKey("v1"));
        VolumeScheduling failed = schedulings().get("v1");
        Condition scheduled = failed.terminalRefusal().orElseThrow();
        assertThat(scheduled.failureReason()).isEqualTo(FailureReason.INPUT_INVALID);
        assertThat(scheduled.observedGeneration()).isEqualTo(revision);
        assertThat(scheduled.message()).contains(keys.ledger("pool-1"));
        assertThat(failed.condition(Condition.RECONCILED).orElseThrow().failureReason()).isEqualTo(FailureReason.INPUT_INVALID);
        assertThat(VolumeProgress.created("v1", failed, revision, null, null))
                .as("a caller waiting for this create is answered at once")
                .isInstanceOf(VolumeProgress.Failed.class);
        assertThat(result(store.get(keys.placement("v1"), Placement.class))).isEmpty();

        // Repairing the ledger, the key that caused it, retries the volume: no resync, no change to its intent.
        result(store.put(keys.ledger("pool-1"), Ledger.empty("pool-1")));
        await("placed once the ledger is repaired, well before any resync").atMost(Duration.ofSeconds(10))
                .until(() -> result(store.get(keys.placement("v1"), Placement.class)).isPresent());
        VolumeScheduling placed = schedulings().get("v1");
        assertThat(placed.condition(Condition.SCHEDULED).orElseThrow().status()).isTrue();
        assertThat(placed.condition(Condition.SCHEDULED).orElseThrow().lastTransitionTime())
                .isAfterOrEqualTo(scheduled.lastTransitionTime());
        assertThat(placed.condition(Condition.RECONCILED).orElseThrow().status()).isTrue();
    }

    @Test
    void aSnapshotPassThatKeepsFailingShowsItsAttemptCountAndClearsWhenItSucceeds() {
        oneNodeWithAPoolOfHundredGi();
        RunningController c = controller("c1");
        await().atMost(Duration.ofSeconds(10)).until(c.controller::isLeader);
        result(store.put(keys.volume("origin"), VolumeIntent.builder("origin", 10 * GI).build()));
        await().atMost(Duration.ofSeconds(10)).until(() -> placements().size() == 1);
        Ledger good = ledgers().get("pool-1");
        // A ledger mangled by hand: the controller keeps the last good value, whose guard now fails, so
        // placing the snapshot loses its compare-and-swap and is retried with backoff.
        result(store.putRaw(keys.ledger("pool-1"), "{\"pool\":\"pool-1\",\"allocatedBytes\":\"many\"}"
                .getBytes(StandardCharsets.UTF_8)));
        result(store.put(keys.snapshot("snap"), SnapshotIntent.of("snap", "origin", "test", Instant.now())));
        Supplier<Optional<SnapshotScheduling>> record = () ->
                result(store.get(keys.snapshotScheduling("snap"), SnapshotScheduling.class)).map(Versioned::value);
        await("attempts counted in the record").atMost(Duration.ofSeconds(15)).until(() -> record.get()
                .flatMap(s -> s.condition(Condition.RECONCILED)).map(r -> !r.status() && r.attempts() >= 3).orElse(false));
        Condition retrying = record.get().orElseThrow().condition(Condition.RECONCILED).orElseThrow();
        assertThat(retrying.failureReason()).isEqualTo(FailureReason.RETRYING);
        assertThat(retrying.failureReason().terminal()).isFalse();
        assertThat(SnapshotScheduling.refusal(record.get().orElseThrow(), 0)).as("retried, not refused").isEmpty();

        result(store.put(keys.ledger("pool-1"), good));
        await("placed, and the record says the pass succeeded").atMost(Duration.ofSeconds(15)).until(() -> record.get()
                .map(s -> s.phase() == SchedulingPhase.PLACED
                        && s.condition(Condition.RECONCILED).map(Condition::status).orElse(false)).orElse(false));
        assertThat(record.get().orElseThrow().condition(Condition.SCHEDULED).orElseThrow().status()).isTrue();
    }

    @Test
    void aSnapshotOfAPoolWithoutRoomIsRefusedNoSpaceAndPlacedWhenRoomAppears() {
        agents.addNode("node-1", Map.of());
        agents.addPool("node-1", "pool-1", 15, Map.of());
        controller("c1");
        result(store.put(keys.volume("origin"), VolumeIntent.builder("origin", 10 * GI).build()));
        await().atMost(Duration.ofSeconds(10)).until(() -> placements().size() == 1);
        long revision = result(store.put(keys.snapshot("snap"), SnapshotIntent.of("snap", "origin", "test", Instant.now())));
        Supplier<Optional<SnapshotScheduling>> record = () ->
                result(store.get(keys.snapshotScheduling("snap"), SnapshotScheduling.class)).map(Versioned::value);
        await().atMost(Duration.ofSeconds(10)).until(() -> SnapshotScheduling.refusal(record.get().orElse(null), revision)
                .isPresent());
        assertThat(SnapshotScheduling.refusal(record.get().orElseThrow(), revision).orElseThrow().reason())
                .isEqualTo(FailureReason.NO_SPACE);

        agents.addPool("node-1", "pool-1", 100, Map.of());
        await("placed once the pool has room, without a resync").atMost(Duration.ofSeconds(10)).until(() -> record.get()
                .map(s -> s.phase() == SchedulingPhase.PLACED).orElse(false));
    }

    @Test
    void theEmptyLedgerOfARemovedPoolIsRemovedAndAUsedOneIsKept() {
        oneNodeWithAPoolOfHundredGi();
        agents.addPool("node-1", "pool-2", 100, Map.of());
        RunningController c = controller("c1");
        await().atMost(Duration.ofSeconds(10)).until(c.controller::isLeader);
        result(store.put(keys.volume("v1"), VolumeIntent.builder("v1", 10 * GI).build()));
        await().atMost(Duration.ofSeconds(15)).until(() -> result(store.get(keys.placement("v1"), Placement.class)).isPresent());
        String used = result(store.get(keys.placement("v1"), Placement.class)).orElseThrow().value().pool();
        String empty = used.equals("pool-1") ? "pool-2" : "pool-1";
        result(store.put(keys.ledger(empty), Ledger.empty(empty)));

        result(store.delete(keys.poolConfig(empty)));
        await("the removed pool's empty ledger removed").atMost(Duration.ofSeconds(15))
                .until(() -> result(store.get(keys.ledger(empty), Ledger.class)).isEmpty());
        // A ledger still charged with a volume stays, config or not: it is the record of those bytes.
        result(store.delete(keys.poolConfig(used)));
        await().pollDelay(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(5)).until(() -> true);
        assertThat(result(store.get(keys.ledger(used), Ledger.class))).isPresent();
    }

    @Test
    void theAdminApiExplainsEveryPoolsVerdictAndServesMetrics() throws Exception {
        sixPoolsOfHundredGi();
        agents.killNode("node-6");
        RunningController c = controller("c1", true);
        await().atMost(Duration.ofSeconds(10)).until(c.controller::isLeader);
        result(store.put(keys.volume("big"), VolumeIntent.builder("big", 150 * GI).build()));
        await().atMost(Duration.ofSeconds(10)).until(() -> schedulings().containsKey("big"));

        HttpClient http = HttpClient.newHttpClient();
        String explain = http.send(HttpRequest.newBuilder(URI.create(c.controller.adminUrl() + "/api/v1/volumes/big/explain")).build(),
                HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8)).body();
        assertThat(explain).contains("\"summary\":\"no pool fits: free space 5, node down 1\"");
        assertThat(explain).contains("\"pool\":\"pool-6\"").contains("\"failed\":\"node down\"");
        assertThat(explain).as("the recorded refusal, typed").contains("\"recorded\":{\"type\":\"Scheduled\",\"status\":false,"
                + "\"reason\":\"NoFit\"");
        String volume = http.send(HttpRequest.newBuilder(URI.create(c.controller.adminUrl() + "/api/v1/volumes/big")).build(),
                HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8)).body();
        assertThat(volume).contains("\"reason\":\"NoFit\"").contains("\"conditions\":[");
        HttpResponse<String> ready = http.send(HttpRequest.newBuilder(URI.create(c.controller.adminUrl() + "/readyz")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(ready.statusCode()).isEqualTo(200);
        assertThat(ready.body()).contains("leader");
        String pools = http.send(HttpRequest.newBuilder(URI.create(c.controller.adminUrl() + "/api/v1/pools")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        assertThat(pools).contains("\"pool\":\"pool-1\"");
        String metrics = http.send(HttpRequest.newBuilder(URI.create(c.controller.adminUrl() + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        assertThat(metrics).contains("ferry_controller_refusals_total{reason=\"free space\"}")
                .contains("ferry_pool_capacity_bytes{").contains("ferry_reconcile_duration_seconds");
        assertThat(http.send(HttpRequest.newBuilder(URI.create(c.controller.adminUrl() + "/api/v1/volumes/Bad%20Name/explain")).build(),
                HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(400);
        assertThat(http.send(HttpRequest.newBuilder(URI.create(c.controller.adminUrl() + "/api/v1/volumes/nope/explain")).build(),
                HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(404);
    }

    @Test
    void anIntentDeletedByHandKeepsTheVolumeUntilDeletionIsAskedForExplicitly() {
        oneNodeWithAPoolOfHundredGi();
        controller("c1");
        createVolumes(1, 10);
        awaitAllDecided(1);
        etcd.etcdctl("del", keys.volume("vol-0000"));
        await().atMost(Duration.ofSeconds(10)).until(() ->
                String.valueOf(schedulings().get("vol-0000").message()).contains("removed without deletionRequested"));
        assertThat(placements()).hasSize(1);
        assertThat(result(store.get(keys.workItem("node-1", "vol-0000"), WorkItem.class))).isPresent();

        requestDeletion("vol-0000", 10);
        await().atMost(Duration.ofSeconds(20)).until(() -> placements().isEmpty() && result(store.count(keys.volumes())) == 0);
        assertThat(ledgers().get("pool-1").allocatedBytes()).isZero();
    }
}
