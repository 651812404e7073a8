package io.ferry.agent;

import io.ferry.etcd.store.Versioned;
import io.ferry.etcd.testing.Await;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.model.Condition;
import io.ferry.model.Engine;
import io.ferry.model.FailureReason;
import io.ferry.model.NodeReason;
import io.ferry.model.NodeRegistration;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolReason;
import io.ferry.model.PoolStatus;
import io.ferry.model.ProgressReason;
import io.ferry.model.Sizes;
import io.ferry.model.SnapshotStatus;
import io.ferry.model.SnapshotWorkItem;
import io.ferry.model.VolumePhase;
import io.ferry.model.VolumeSource;
import io.ferry.model.VolumeStatus;
import io.ferry.model.WorkItem;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The agent's failure classes on a real etcd and real loop devices: a terminal failure is written
 * at once with the generation it applies to and retried only when an input changes; a retryable
 * one is retried with backoff, its attempts counted in the Ready condition.
 */
class FailureClassesIT {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    @RegisterExtension
    final AgentHarness h = new AgentHarness(etcd);

    PoolConfig pool;

    @BeforeEach
    void setUp() {
        pool = h.filePool("files");
    }

    static WorkItem work(String volume, long generation, VolumeSource source) {
        return WorkItem.of(volume, AgentHarness.NODE, "files", Engine.FILE, 16 * Sizes.MIB, true, generation, source, null);
    }

    Condition ready(String volume) {
        return h.status(volume).flatMap(VolumeStatus::ready).orElse(null);
    }

    Optional<SnapshotStatus> snapshotStatus(String snapshot) {
        return Await.result(h.store.get(h.keys.snapshotStatus(AgentHarness.NODE, snapshot), SnapshotStatus.class))
                .map(Versioned::value);
    }

    /** A volume Ready, then its file removed from the pool behind the agent's back: a lost source. */
    void loseSource(String volume) throws IOException {
        h.putWork(work(volume, 1, null));
        await().atMost(Duration.ofSeconds(30)).until(() -> ready(volume) != null && ready(volume).carriedOut(1));
        Files.delete(h.poolDir.resolve(volume + ".img"));
    }

    @Test
    void aTerminalFailureIsWrittenAtOnceWithItsGenerationNotRetriedOnATimerAndRetriedWhenThePoolConfigChanges()
            throws Exception {
        h.start();
        loseSource("src");
        h.putWork(work("clone", 3, VolumeSource.volume("src", "files")));
        await().atMost(Duration.ofSeconds(10)).until(() -> ready("clone") != null && ready("clone").isFailure());
        Condition failed = ready("clone");
        assertThat(failed.failureReason()).isEqualTo(FailureReason.SOURCE_LOST);
        assertThat(failed.observedGeneration()).isEqualTo(3);
        assertThat(failed.attempts()).isEqualTo(1);
        assertThat(failed.lastTransitionTime()).isNotNull();
        assertThat(h.status("clone").orElseThrow().phase()).isEqualTo(VolumePhase.FAILED);

        // The runtime's backoff starts at 500 ms: a retry on a timer would have counted by now.
        Thread.sleep(3000);
        assertThat(ready("clone").attempts()).isEqualTo(1);
        assertThat(h.poolFiles()).doesNotContain("clone.img");

        // An input changes (the pool's config): tried again, once, and still lost.
        Await.result(h.store.put(h.keys.poolConfig("files"), pool.toBuilder().labels(Map.of("rack", "r2")).build()));
        await().atMost(Duration.ofSeconds(10)).until(() -> ready("clone").attempts() == 2);
        Condition again = ready("clone");
        assertThat(again.failureReason()).isEqualTo(FailureReason.SOURCE_LOST);
        // still false: the transition time is the first failure's
        assertThat(again.lastTransitionTime()).isEqualTo(failed.lastTransitionTime());

        // A snapshot of the lost source is refused the same way, at once.
        Await.result(h.store.put(h.keys.snapshotWorkItem(AgentHarness.NODE, "snap-1"),
                SnapshotWorkItem.of("snap-1", AgentHarness.NODE, "src", "files", Engine.FILE, 16 * Sizes.MIB, 1)));
        await().atMost(Duration.ofSeconds(10)).until(() -> snapshotStatus("snap-1").flatMap(SnapshotStatus::ready)
                .filter(Condition::isFailure).isPresent());
        Condition snap = snapshotStatus("snap-1").flatMap(SnapshotStatus::ready).orElseThrow();
        assertThat(snap.failureReason()).isEqualTo(FailureReason.SOURCE_LOST);
        assertThat(snap.terminalFor(1)).isTrue();
        Thread.sleep(2000);
        assertThat(snapshotStatus("snap-1").flatMap(SnapshotStatus::ready).orElseThrow().attempts()).isEqualTo(1);
    }

    @Test
    void aRetryableFailureIsRetriedWithBackoffCountingItsAttemptsUntilItSucceeds() {
        h.start();
        // The source is named but not created yet: the engine cannot copy it, and says so each time.
        h.putWork(work("early-clone", 1, VolumeSource.volume("later", "files")));
        await().atMost(Duration.ofSeconds(15)).until(() -> ready("early-clone") != null
                && ready("early-clone").attempts() >= 3);
        Condition retrying = ready("early-clone");
        assertThat(retrying.failureReason()).isEqualTo(FailureReason.RETRYING);
        assertThat(retrying.terminalFor(1)).isFalse();
        assertThat(retrying.observedGeneration()).isEqualTo(1);

        h.putWork(work("later", 1, null));
        await().atMost(Duration.ofSeconds(90)).until(() -> ready("early-clone").carriedOut(1));
        Condition done = ready("early-clone");
        assertThat(done.reason()).isEqualTo(ProgressReason.CARRIED_OUT.value());
        assertThat(done.attempts()).isZero();
        assertThat(h.status("early-clone").orElseThrow().phase()).isEqualTo(VolumePhase.READY);
    }

    @Test
    void poolConditionsKeepTheirTransitionTimesAcrossRewritesAndTheRegistrationSaysWhatTheNodeCanDo()
            throws Exception {
        h.start();
        await().atMost(Duration.ofSeconds(15)).until(() -> poolStatus().filter(PoolStatus::healthy).isPresent());
        Condition available = Condition.find(poolStatus().orElseThrow().conditions(), Condition.AVAILABLE).orElseThrow();
        assertThat(PoolReason.parse(available.reason())).isEqualTo(PoolReason.DIRECTORY_READY);
        // A rewrite of the status (the capacity changes) keeps the time of a condition that did not change.
        Await.result(h.store.put(h.keys.poolConfig("files"), pool.toBuilder().capacityBytes(64 * Sizes.MIB).build()));
        await().atMost(Duration.ofSeconds(15)).until(() -> poolStatus().orElseThrow().capacityBytes() == 64 * Sizes.MIB);
        assertThat(Condition.find(poolStatus().orElseThrow().conditions(), Condition.AVAILABLE).orElseThrow()
                .lastTransitionTime()).isEqualTo(available.lastTransitionTime()).isBefore(
                        poolStatus().orElseThrow().observedAt());

        // The agent restarts and rewrites it again: the time is still the first one.
        h.stop();
        h.start();
        Await.result(h.store.put(h.keys.poolConfig("files"), pool.toBuilder().capacityBytes(32 * Sizes.MIB).build()));
        await().atMost(Duration.ofSeconds(15)).until(() -> poolStatus().orElseThrow().capacityBytes() == 32 * Sizes.MIB);
        assertThat(Condition.find(poolStatus().orElseThrow().conditions(), Condition.AVAILABLE).orElseThrow()
                .lastTransitionTime()).isEqualTo(available.lastTransitionTime());

        NodeRegistration registration = Await.result(h.store.get(h.keys.registration(AgentHarness.NODE),
                NodeRegistration.class)).orElseThrow().value();
        Condition canExport = Condition.find(registration.conditions(), Condition.CAN_EXPORT).orElseThrow();
        // the harness's agent has no kernel nvmet
        assertThat(canExport.status()).isFalse();
        assertThat(NodeReason.parse(canExport.reason())).isEqualTo(NodeReason.NVMET_NOT_LOADED);
        assertThat(registration.exporters()).isEmpty();
        Condition engines = Condition.find(registration.conditions(), Condition.ENGINES_AVAILABLE).orElseThrow();
        assertThat(engines.status()).isTrue();
        assertThat(engines.message()).contains("file");
    }

    Optional<PoolStatus> poolStatus() {
        return Await.result(h.store.get(h.keys.nodePoolStatus(AgentHarness.NODE, "files"), PoolStatus.class))
                .map(Versioned::value);
    }
}
