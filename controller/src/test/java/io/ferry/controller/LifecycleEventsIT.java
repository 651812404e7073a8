package io.ferry.controller;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Watch;
import io.etcd.jetcd.options.LeaseOption;
import io.etcd.jetcd.options.WatchOption;
import io.ferry.etcd.store.Versioned;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.model.Attachment;
import io.ferry.model.Condition;
import io.ferry.model.EventReason;
import io.ferry.model.FailureReason;
import io.ferry.model.LifecycleEvent;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumePhase;
import io.ferry.model.VolumeStatus;
import io.vertx.core.Future;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import static io.ferry.controller.SimulatedAgents.GI;
import static io.ferry.etcd.testing.Await.result;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Lifecycle events as the controller records them, against a real etcd with simulated agents. */
class LifecycleEventsIT {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    @RegisterExtension
    final SimulatedCluster cluster = new SimulatedCluster(etcd);
    RunningController running;

    @BeforeEach
    void setUp() {
        cluster.agents.addNode("node-1", Map.of());
        cluster.agents.addPool("node-1", "pool-1", 100, Map.of());
        startController("events-1");
    }

    void startController(String id) {
        running = cluster.start(SimulatedCluster.options(id));
        await().atMost(Duration.ofSeconds(20)).until(running.controller::isLeader);
    }

    List<LifecycleEvent> events(String volume) {
        return result(cluster.store.list(cluster.keys.eventsOf(LifecycleEvent.VOLUME, volume), LifecycleEvent.class)).items()
                .stream()
                .map(Versioned::value).toList();
    }

    List<EventReason> reasons(String volume) {
        return events(volume).stream().map(LifecycleEvent::reason).toList();
    }

    void awaitReasons(String volume, EventReason... expected) {
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(reasons(volume)).containsExactly(expected));
    }

    /** The newest of the volume's events is recorded with {@code reason}. */
    void awaitLast(String volume, EventReason reason) {
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(50)).until(() -> {
            List<LifecycleEvent> now = events(volume);
            return !now.isEmpty() && now.get(now.size() - 1).reason() == reason;
        });
    }

    @Test
    void aVolumesLifeIsRecordedInOrderOnAnExpiringLeaseAndEachStepOnce() {
        result(cluster.store.put(cluster.keys.volume("vol-a"), VolumeIntent.builder("vol-a", 10 * GI).build()));
        awaitReasons("vol-a", EventReason.PLACED, EventReason.READY);

        result(cluster.store.put(cluster.keys.attachment("vol-a", "node-1"),
                Attachment.of("vol-a", "node-1", SimulatedAgents.hostNqn("node-1"), false, Instant.now())));
        awaitReasons("vol-a", EventReason.PLACED, EventReason.READY, EventReason.ATTACHED);

        VolumeIntent intent = result(cluster.store.get(cluster.keys.volume("vol-a"), VolumeIntent.class)).orElseThrow().value();
        result(cluster.store.put(cluster.keys.volume("vol-a"), intent.withSizeBytes(20 * GI)));
        awaitReasons("vol-a", EventReason.PLACED, EventReason.READY, EventReason.ATTACHED, EventReason.GROWN);

        result(cluster.store.delete(cluster.keys.attachment("vol-a", "node-1")));
        awaitReasons("vol-a", EventReason.PLACED, EventReason.READY, EventReason.ATTACHED, EventReason.GROWN,
                EventReason.DETACHED);

        intent = result(cluster.store.get(cluster.keys.volume("vol-a"), VolumeIntent.class)).orElseThrow().value();
        result(cluster.store.put(cluster.keys.volume("vol-a"), intent.withDeletionRequested()));
        awaitReasons("vol-a", EventReason.PLACED, EventReason.READY, EventReason.ATTACHED, EventReason.GROWN,
                EventReason.DETACHED, EventReason.DELETED);

        List<LifecycleEvent> events = events("vol-a");
        assertThat(events).allSatisfy(e -> {
            assertThat(e.reporter()).isEqualTo("events-1");
            assertThat(e.objectKind()).isEqualTo(LifecycleEvent.VOLUME);
            assertThat(e.message()).isNotBlank();
        });
        assertThat(events.get(0).node()).isEqualTo("node-1");
        assertThat(events.get(0).message()).contains("pool-1");
        assertThat(events.get(3).message()).contains(Long.toString(20 * GI));
        // Every event sits on a lease nobody renews: it goes by itself, within the retention and a sixth.
        for (Versioned<LifecycleEvent> v : result(cluster.store.list(cluster.keys.eventsOf(LifecycleEvent.VOLUME, "vol-a"),
                LifecycleEvent.class)).items()) {
            assertThat(v.leaseId()).as("lease of " + v.key()).isNotZero();
            long ttl = result(Future.fromCompletionStage(cluster.store.client().getLeaseClient()
                    .timeToLive(v.leaseId(), LeaseOption.DEFAULT))).getTTL();
            assertThat(ttl).isPositive().isLessThanOrEqualTo(Duration.ofMinutes(70).toSeconds());
        }
    }

    @Test
    void aBurstOfCreationsWritesItsEventsInAFewTransactionsAndARestartedControllerRepeatsNone() {
        Set<Long> eventRevisions = ConcurrentHashMap.newKeySet();
        try (Watch.Watcher ignored = cluster.store.client().getWatchClient().watch(
                ByteSequence.from(cluster.keys.events(), StandardCharsets.UTF_8), WatchOption.builder().isPrefix(true).build(),
                response -> response.getEvents().forEach(e -> eventRevisions.add(e.getKeyValue().getModRevision())))) {
            for (int i = 0; i < 40; i++) {
                String name = String.format("vol-%02d", i);
                cluster.store.put(cluster.keys.volume(name), VolumeIntent.builder(name, GI).build());
            }
            await().atMost(Duration.ofSeconds(60)).until(() -> result(cluster.store.count(cluster.keys.events())) == 80);
            // 80 events; one transaction per 200 ms flush. Under any load this stays far below one per event.
            assertThat(eventRevisions.size()).as("transactions that wrote 80 events").isLessThan(40);
        }

        running.stop();
        startController("events-2");
        // Something new, to know the new leader records: then nothing old was recorded again.
        result(cluster.store.put(cluster.keys.volume("vol-new"), VolumeIntent.builder("vol-new", GI).build()));
        awaitReasons("vol-new", EventReason.PLACED, EventReason.READY);
        assertThat(result(cluster.store.count(cluster.keys.events()))).isEqualTo(82);
        assertThat(events("vol-new")).allSatisfy(e -> assertThat(e.reporter()).isEqualTo("events-2"));
    }

    @Test
    void aRefusalAFailureAndALossCarryTheirTypedReasonsAndAFlappingVolumeKeepsOnlyItsNewestEvents() {
        result(cluster.store.put(cluster.keys.volume("vol-huge"), VolumeIntent.builder("vol-huge", 1000 * GI).build()));
        await().atMost(Duration.ofSeconds(30)).until(() -> reasons("vol-huge").equals(List.of(EventReason.REFUSED)));
        LifecycleEvent refused = events("vol-huge").get(0);
        assertThat(refused.detail()).isEqualTo(FailureReason.NO_FIT.value());
        assertThat(refused.type()).isEqualTo("Warning");

        result(cluster.store.put(cluster.keys.volume("vol-f"), VolumeIntent.builder("vol-f", GI).build()));
        awaitReasons("vol-f", EventReason.PLACED, EventReason.READY);
        cluster.agents.pause("node-1");
        String statusKey = cluster.keys.volumeStatus("node-1", "vol-f");
        VolumeStatus ready = result(cluster.store.get(statusKey, VolumeStatus.class)).orElseThrow().value();
        VolumeStatus failed = VolumeStatus.of("vol-f", "node-1", VolumePhase.FAILED, null, 0, null, 1, "pool went away",
                Instant.now()).withConditions(List.of(Condition.failed(Condition.READY, FailureReason.POOL_NOT_CONFIGURED,
                "pool went away", 1, 1)));
        VolumeStatus lost = failed.withConditions(List.of(Condition.failed(Condition.READY, FailureReason.VOLUME_LOST,
                "its file is gone", 1, 1)));
        result(cluster.store.put(statusKey, failed));
        await().atMost(Duration.ofSeconds(30)).until(() -> reasons("vol-f").size() == 3);
        LifecycleEvent failure = events("vol-f").get(2);
        assertThat(failure.reason()).isEqualTo(EventReason.FAILED);
        assertThat(failure.detail()).isEqualTo(FailureReason.POOL_NOT_CONFIGURED.value());
        assertThat(failure.message()).isEqualTo("pool went away");
        result(cluster.store.put(statusKey, failed.withConditions(List.of(Condition.failed(Condition.READY,
                FailureReason.POOL_NOT_CONFIGURED, "pool went away", 1, 2)))));
        result(cluster.store.put(statusKey, lost));
        await().atMost(Duration.ofSeconds(30)).until(() -> reasons("vol-f").size() == 4);
        assertThat(events("vol-f").get(3).reason()).as("a second attempt of the same failure is no new event")
                .isEqualTo(EventReason.LOST);

        // Ready and Lost in turn, 15 times each: only the newest PER_OBJECT stay. Each step waits for its
        // event, since the controller's cache may see two quick writes of a key as one change.
        for (int i = 0; i < 15; i++) {
            result(cluster.store.put(statusKey, ready));
            awaitLast("vol-f", EventReason.READY);
            result(cluster.store.put(statusKey, lost));
            awaitLast("vol-f", EventReason.LOST);
        }
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
            List<LifecycleEvent> now = events("vol-f");
            assertThat(now).hasSize(LifecycleEvents.PER_OBJECT);
            assertThat(now.get(now.size() - 1).reason()).isEqualTo(EventReason.LOST);
        });
    }
}
