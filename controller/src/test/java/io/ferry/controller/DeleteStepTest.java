package io.ferry.controller;

import io.ferry.etcd.store.Versioned;
import io.ferry.model.Attachment;
import io.ferry.model.Ledger;
import io.ferry.model.Placement;
import io.ferry.model.SchedulingPhase;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeScheduling;
import io.ferry.model.WorkItem;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Instant;

import static io.ferry.controller.VolumeSteps.GI;
import static org.assertj.core.api.Assertions.assertThat;

/** The delete step alone, on the in-memory store: what it orders, and what it holds back. */
class DeleteStepTest {

    VolumeSteps steps;
    DeleteStep delete;

    @BeforeEach
    void setUp() {
        steps = new VolumeSteps();
        steps.pool("node-1", "pool-1", 10);
        delete = new DeleteStep(steps.ctx, steps.lane, steps.work, steps.record, new ReleaseStep(steps.ctx, steps.lane));
    }

    @AfterEach
    void tearDown() {
        steps.close();
    }

    @Test
    void aVolumeAskedToBeDeletedIsOrderedAtTheNextGenerationAndKeepsItsBytesUntilTheNodeAnswers() {
        VolumeIntent intent = VolumeIntent.builder("vol-a", 2 * GI).build();
        steps.placed(intent, "node-1", "pool-1");
        askToDelete(intent);

        runDelete("vol-a");

        Versioned<WorkItem> order = steps.workItem("node-1", "vol-a");
        Versioned<Placement> placement = steps.entry(steps.keys.placement("vol-a"), Placement.class);
        assertThat(order.value().deletionRequested()).isTrue();
        assertThat(order.value().generation()).isEqualTo(2);
        assertThat(placement.value().generation()).as("placement and order move together").isEqualTo(2);
        assertThat(placement.modRevision()).isEqualTo(order.modRevision());
        VolumeScheduling record = steps.get(steps.keys.volumeScheduling("vol-a"), VolumeScheduling.class);
        assertThat(record.phase()).isEqualTo(SchedulingPhase.DELETING);
        assertThat(record.message()).isEqualTo("waiting for node-1 to remove the volume");
        assertThat(steps.get(steps.keys.ledger("pool-1"), Ledger.class).allocatedBytes())
                .as("nothing is released before the node gave the volume up").isEqualTo(2 * GI);
        assertThat(steps.get(steps.keys.volume("vol-a"), VolumeIntent.class)).isNotNull();
    }

    @Test
    void anAttachedVolumeIsHeldAndItsNodeIsToldNothing() {
        VolumeIntent intent = VolumeIntent.builder("vol-a", 2 * GI).build();
        steps.placed(intent, "node-1", "pool-1");
        steps.put(steps.keys.attachment("vol-a", "node-2"), Attachment.of("vol-a", "node-2",
                SimulatedAgents.hostNqn("node-2"), false, Instant.now()), () -> !steps.state.attachmentsOf("vol-a").isEmpty());
        askToDelete(intent);

        runDelete("vol-a");

        Versioned<WorkItem> work = steps.workItem("node-1", "vol-a");
        assertThat(work.value().deletionRequested()).isFalse();
        assertThat(work.value().generation()).isEqualTo(1);
        VolumeScheduling record = steps.get(steps.keys.volumeScheduling("vol-a"), VolumeScheduling.class);
        assertThat(record.phase()).isEqualTo(SchedulingPhase.DELETING);
        assertThat(record.message()).isEqualTo("waiting to be detached before it is deleted: attached to node-2");
    }

    private void askToDelete(VolumeIntent intent) {
        steps.put(steps.keys.volume(intent.name()), intent.toBuilder().deletionRequested(true).build(),
                () -> steps.state.intent(intent.name()).map(i -> i.value().deletionRequested()).orElse(false));
    }

    private void runDelete(String volume) {
        steps.run(() -> delete.delete(steps.leader, volume, steps.state.intent(volume).orElse(null),
                steps.state.placement(volume).orElse(null)));
    }
}
