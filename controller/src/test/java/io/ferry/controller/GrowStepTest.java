package io.ferry.controller;

import io.ferry.etcd.store.Versioned;
import io.ferry.model.Condition;
import io.ferry.model.FailureReason;
import io.ferry.model.Ledger;
import io.ferry.model.Placement;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeScheduling;
import io.ferry.model.WorkItem;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static io.ferry.controller.VolumeSteps.GI;
import static org.assertj.core.api.Assertions.assertThat;

/** The grow step alone, on the in-memory store. */
class GrowStepTest {

    VolumeSteps steps;
    GrowStep grow;

    @BeforeEach
    void setUp() {
        steps = new VolumeSteps();
        steps.pool("node-1", "pool-1", 10);
        grow = new GrowStep(steps.ctx, steps.lane, steps.work, steps.record, steps.waitingForRoom);
    }

    @AfterEach
    void tearDown() {
        steps.close();
    }

    @Test
    void aLargerIntentTakesItsBytesFromThePoolWithPlacementWorkItemAndLedgerInOneTransaction() {
        VolumeIntent intent = VolumeIntent.builder("vol-a", 2 * GI).build();
        steps.placed(intent, "node-1", "pool-1");
        steps.put(steps.keys.volume("vol-a"), intent.toBuilder().sizeBytes(5 * GI).build(),
                () -> steps.state.intent("vol-a").map(i -> i.value().sizeBytes() == 5 * GI).orElse(false));

        steps.run(() -> grow.request("vol-a"));

        Versioned<Placement> placement = steps.entry(steps.keys.placement("vol-a"), Placement.class);
        Versioned<WorkItem> work = steps.workItem("node-1", "vol-a");
        Versioned<Ledger> ledger = steps.entry(steps.keys.ledger("pool-1"), Ledger.class);
        assertThat(placement.value().sizeBytes()).isEqualTo(5 * GI);
        assertThat(placement.value().generation()).as("the node is told at the next generation").isEqualTo(2);
        assertThat(work.value().sizeBytes()).isEqualTo(5 * GI);
        assertThat(work.value().generation()).isEqualTo(2);
        assertThat(ledger.value().allocatedBytes()).isEqualTo(5 * GI);
        assertThat(ledger.value().volumeCount()).as("growing adds bytes, not a volume").isEqualTo(1);
        assertThat(work.modRevision()).as("work item written with the placement").isEqualTo(placement.modRevision());
        assertThat(ledger.modRevision()).as("ledger written with the placement").isEqualTo(placement.modRevision());
        assertThat(steps.waitingForRoom.contains("vol-a")).isFalse();
    }

    @Test
    void aVolumeWithoutRoomToGrowKeepsItsSizeWaitsForRoomAndItsRecordSaysWhatIsMissing() {
        VolumeIntent intent = VolumeIntent.builder("vol-a", 2 * GI).build();
        steps.placed(intent, "node-1", "pool-1");
        steps.put(steps.keys.volume("vol-a"), intent.toBuilder().sizeBytes(20 * GI).build(),
                () -> steps.state.intent("vol-a").map(i -> i.value().sizeBytes() == 20 * GI).orElse(false));

        steps.run(() -> grow.request("vol-a"));

        assertThat(steps.get(steps.keys.placement("vol-a"), Placement.class).sizeBytes()).isEqualTo(2 * GI);
        assertThat(steps.workItem("node-1", "vol-a").value().generation()).isEqualTo(1);
        assertThat(steps.get(steps.keys.ledger("pool-1"), Ledger.class).allocatedBytes()).isEqualTo(2 * GI);
        assertThat(steps.waitingForRoom.contains("vol-a")).as("retried when capacity changes").isTrue();
        VolumeScheduling record = steps.get(steps.keys.volumeScheduling("vol-a"), VolumeScheduling.class);
        assertThat(record.growRefusedBytes()).isEqualTo(20 * GI);
        assertThat(record.message()).contains("cannot grow to " + 20 * GI + " bytes").contains("needs " + 18 * GI);
        assertThat(record.condition(Condition.RESIZED).orElseThrow().failureReason()).isEqualTo(FailureReason.NO_SPACE);
    }
}
