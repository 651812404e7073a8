package io.ferry.controller;

import io.ferry.model.Ledger;
import io.ferry.model.Placement;
import io.ferry.model.SchedulingPhase;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumePhase;
import io.ferry.model.VolumeScheduling;
import io.ferry.model.VolumeStatus;
import io.ferry.model.WorkItem;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.Map;

import static io.ferry.controller.VolumeSteps.GI;
import static org.assertj.core.api.Assertions.assertThat;

/** The release step alone, on the in-memory store: it frees a volume only once its node gave it up. */
class ReleaseStepTest {

    VolumeSteps steps;
    ReleaseStep release;

    @BeforeEach
    void setUp() {
        steps = new VolumeSteps();
        steps.pool("node-1", "pool-1", 10);
        release = new ReleaseStep(steps.ctx, steps.lane);
        VolumeIntent intent = VolumeIntent.builder("vol-a", 2 * GI).deletionRequested(true).build();
        Placement placement = steps.placed(intent, "node-1", "pool-1");
        // The order as the delete step writes it: work item and placement at the next generation.
        Placement ordered = placement.withGeneration(2);
        WorkItem order = steps.work.workFor(placement).deletion(2);
        steps.put(steps.keys.placement("vol-a"), ordered,
                () -> steps.state.placement("vol-a").map(p -> p.value().generation() == 2).orElse(false));
        steps.put(steps.keys.workItem("node-1", "vol-a"), order,
                () -> steps.state.workItem("node-1", "vol-a").map(w -> w.value().deletionRequested()).orElse(false));
        steps.put(steps.keys.volumeScheduling("vol-a"), VolumeScheduling.of("vol-a", SchedulingPhase.DELETING, Map.of(),
                "waiting for node-1 to remove the volume", "node-1", "pool-1", true, 0, Instant.now()),
                () -> steps.state.volumeScheduling("vol-a").isPresent());
    }

    @AfterEach
    void tearDown() {
        steps.close();
    }

    @Test
    void anAcknowledgedOrderGivesTheBytesBackAndRemovesEveryKeyOfTheVolumeInOneTransaction() {
        answer(VolumePhase.DELETED, 2);

        steps.run(() -> release.request("vol-a"));

        Ledger ledger = steps.get(steps.keys.ledger("pool-1"), Ledger.class);
        assertThat(ledger.allocatedBytes()).isZero();
        assertThat(ledger.volumeCount()).isZero();
        assertThat(steps.get(steps.keys.placement("vol-a"), Placement.class)).isNull();
        assertThat(steps.workItem("node-1", "vol-a")).isNull();
        assertThat(steps.get(steps.keys.volumeScheduling("vol-a"), VolumeScheduling.class)).isNull();
        assertThat(steps.get(steps.keys.volume("vol-a"), VolumeIntent.class)).isNull();
        assertThat(steps.get(steps.keys.volumeStatus("node-1", "vol-a"), VolumeStatus.class))
                .as("the acknowledgement goes with the order it answers").isNull();
    }

    @Test
    void anOrderTheLiveNodeHasNotAnsweredReleasesNothing() {
        answer(VolumePhase.DELETING, 2);

        steps.run(() -> release.request("vol-a"));

        assertThat(steps.get(steps.keys.ledger("pool-1"), Ledger.class).allocatedBytes()).isEqualTo(2 * GI);
        assertThat(steps.get(steps.keys.placement("vol-a"), Placement.class)).isNotNull();
        assertThat(steps.workItem("node-1", "vol-a")).isNotNull();
        assertThat(steps.get(steps.keys.volume("vol-a"), VolumeIntent.class)).isNotNull();
    }

    @Test
    void anAcknowledgementOfAnEarlierGenerationReleasesNothing() {
        answer(VolumePhase.DELETED, 1);

        steps.run(() -> release.request("vol-a"));

        assertThat(steps.get(steps.keys.ledger("pool-1"), Ledger.class).allocatedBytes()).isEqualTo(2 * GI);
        assertThat(steps.get(steps.keys.placement("vol-a"), Placement.class)).isNotNull();
    }

    private void answer(VolumePhase phase, long generation) {
        steps.put(steps.keys.volumeStatus("node-1", "vol-a"), VolumeStatus.of("vol-a", "node-1", "pool-1", phase, null, 0, null,
                generation, null, Instant.now()), () -> steps.state.volumeStatusEntry("node-1", "vol-a")
                .map(s -> s.value().phase() == phase).orElse(false));
    }
}
