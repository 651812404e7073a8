package io.ferry.controller;

import io.ferry.model.Condition;
import io.ferry.model.Engine;
import io.ferry.model.FailureReason;
import io.ferry.model.Ledger;
import io.ferry.model.Placement;
import io.ferry.model.SchedulingPhase;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeScheduling;
import io.ferry.model.WorkItem;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static io.ferry.controller.VolumeSteps.GI;
import static org.assertj.core.api.Assertions.assertThat;

/** The recover step alone, on the in-memory store: a lost placement is rebuilt, never placed again. */
class RecoverStepTest {

    VolumeSteps steps;
    RecoverStep recover;
    VolumeIntent intent = VolumeIntent.builder("vol-a", 2 * GI).build();

    @BeforeEach
    void setUp() {
        steps = new VolumeSteps();
        steps.pool("node-1", "pool-1", 10);
        steps.pool("node-2", "pool-2", 10);
        recover = new RecoverStep(steps.ctx, steps.work, steps.record);
        steps.put(steps.keys.volume("vol-a"), intent, () -> steps.state.intent("vol-a").isPresent());
    }

    @AfterEach
    void tearDown() {
        steps.close();
    }

    @Test
    void aPlacementLostWhileItsNodeHoldsTheWorkItemIsRebuiltFromItWithoutChargingTheLedgerAgain() {
        holds("node-1", "pool-1", 3);

        runRecover();

        Placement placement = steps.get(steps.keys.placement("vol-a"), Placement.class);
        assertThat(placement.node()).isEqualTo("node-1");
        assertThat(placement.pool()).isEqualTo("pool-1");
        assertThat(placement.sizeBytes()).isEqualTo(2 * GI);
        assertThat(placement.generation()).as("the generation the node was told").isEqualTo(3);
        assertThat(steps.get(steps.keys.ledger("pool-1"), Ledger.class))
                .as("the ledger is re-derived from placements by the audit, not charged twice here").isNull();
        assertThat(steps.get(steps.keys.volumeScheduling("vol-a"), VolumeScheduling.class).phase())
                .isEqualTo(SchedulingPhase.PLACED);
    }

    @Test
    void aVolumeTwoNodesHoldIsHeldWithoutAPlacementAndItsRecordSaysWhy() {
        holds("node-1", "pool-1", 1);
        holds("node-2", "pool-2", 1);

        runRecover();

        assertThat(steps.get(steps.keys.placement("vol-a"), Placement.class)).isNull();
        VolumeScheduling record = steps.get(steps.keys.volumeScheduling("vol-a"), VolumeScheduling.class);
        assertThat(record.phase()).isEqualTo(SchedulingPhase.PENDING);
        assertThat(record.condition(Condition.SCHEDULED).orElseThrow().failureReason()).isEqualTo(FailureReason.PLACEMENT_LOST);
        assertThat(record.message()).contains("node-1, node-2").contains("not placed again");
    }

    private void holds(String node, String pool, long generation) {
        WorkItem work = WorkItem.of("vol-a", node, pool, Engine.FILE, 2 * GI, false, generation, null, null);
        steps.put(steps.keys.workItem(node, "vol-a"), work, () -> steps.state.nodesHolding("vol-a").contains(node));
    }

    private void runRecover() {
        steps.run(() -> recover.recoverPlacement(steps.leader, steps.state.intent("vol-a").orElseThrow(),
                steps.state.nodesHolding("vol-a")));
    }
}
