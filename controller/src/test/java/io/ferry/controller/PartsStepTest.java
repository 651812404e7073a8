package io.ferry.controller;

import io.ferry.etcd.store.Versioned;
import io.ferry.model.Layout;
import io.ferry.model.Ledger;
import io.ferry.model.Placement;
import io.ferry.model.SchedulingPhase;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeParts;
import io.ferry.model.VolumeScheduling;
import io.ferry.model.WorkItem;
import io.ferry.placement.Scheduler;
import io.ferry.runtime.reconcile.ReconcileResult;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;

import static io.ferry.controller.VolumeSteps.GI;
import static org.assertj.core.api.Assertions.assertThat;

/** The parts step alone, on the in-memory store: all parts in one transaction, or none. */
class PartsStepTest {

    VolumeSteps steps;
    PartsStep parts;

    @BeforeEach
    void setUp() {
        steps = new VolumeSteps();
        Scheduler scheduler = new Scheduler();
        PlaceStep place = new PlaceStep(steps.ctx, steps.lane, scheduler, steps.work, steps.record, steps.waitingForRoom);
        DeleteStep delete = new DeleteStep(steps.ctx, steps.lane, steps.work, steps.record,
                new ReleaseStep(steps.ctx, steps.lane));
        parts = new PartsStep(steps.ctx, steps.lane, scheduler, steps.work, steps.record, steps.waitingForRoom, place, delete);
    }

    @AfterEach
    void tearDown() {
        steps.close();
    }

    @Test
    void everyLegOfAMirrorIsCommittedInOneTransactionWithEveryLedger() {
        steps.pool("node-1", "pool-1", 10);
        steps.pool("node-2", "pool-2", 10);
        VolumeIntent intent = create(VolumeIntent.builder("db", 4 * GI).layout(Layout.MIRROR).build());

        run("db");

        Versioned<VolumeParts> record = steps.entry(steps.keys.volumeParts("db"), VolumeParts.class);
        assertThat(record.value().partNames()).containsExactly("db--p0", "db--p1");
        assertThat(record.value().arrayUuid()).isNotNull();
        long revision = record.modRevision();
        for (String part : List.of("db--p0", "db--p1")) {
            Versioned<VolumeIntent> partIntent = steps.entry(steps.keys.volume(part), VolumeIntent.class);
            assertThat(partIntent.modRevision()).isEqualTo(revision);
            assertThat(partIntent.value().partOf()).isEqualTo("db");
            assertThat(partIntent.value().sizeBytes()).isEqualTo(VolumeParts.mirrorLegBytes(intent.sizeBytes()));
            Versioned<Placement> placement = steps.entry(steps.keys.placement(part), Placement.class);
            assertThat(placement.modRevision()).isEqualTo(revision);
            assertThat(steps.workItem(placement.value().node(), part).modRevision()).isEqualTo(revision);
            assertThat(steps.entry(steps.keys.volumeScheduling(part), VolumeScheduling.class).modRevision())
                    .isEqualTo(revision);
        }
        for (String pool : List.of("pool-1", "pool-2")) {
            Versioned<Ledger> ledger = steps.entry(steps.keys.ledger(pool), Ledger.class);
            assertThat(ledger.modRevision()).isEqualTo(revision);
            assertThat(ledger.value().allocatedBytes()).isEqualTo(VolumeParts.mirrorLegBytes(4 * GI));
        }
        VolumeScheduling volumeRecord = steps.get(steps.keys.volumeScheduling("db"), VolumeScheduling.class);
        assertThat(volumeRecord.phase()).isEqualTo(SchedulingPhase.PLACED);
        assertThat(steps.entry(steps.keys.volumeScheduling("db"), VolumeScheduling.class).modRevision()).isEqualTo(revision);
        assertThat(steps.entry(steps.keys.placement("db"), Placement.class)).isNull();
    }

    @Test
    void aMirrorThatCannotHaveEveryLegWritesOnlyItsRecord() {
        steps.pool("node-1", "pool-1", 10);
        steps.pool("node-2", "pool-2", 10);
        create(VolumeIntent.builder("db", 4 * GI).layout(Layout.MIRROR).parts(3).build());

        run("db");

        VolumeScheduling record = steps.get(steps.keys.volumeScheduling("db"), VolumeScheduling.class);
        assertThat(record.phase()).isEqualTo(SchedulingPhase.NO_FIT);
        assertThat(record.reasonCounts()).containsEntry("fewer node domains than legs", 1);
        assertThat(steps.entry(steps.keys.volumeParts("db"), VolumeParts.class)).isNull();
        assertThat(steps.entry(steps.keys.volume("db--p0"), VolumeIntent.class)).isNull();
        assertThat(steps.entry(steps.keys.placement("db--p0"), Placement.class)).isNull();
        assertThat(steps.entry(steps.keys.ledger("pool-1"), Ledger.class)).isNull();
        assertThat(steps.waitingForRoom.contains("db")).isTrue();
    }

    @Test
    void aVolumePlacedWithOnePartKeepsItsLayoutWhenItsIntentAsksForAMirror() {
        steps.pool("node-1", "pool-1", 10);
        VolumeIntent single = VolumeIntent.builder("db", 4 * GI).build();
        steps.placed(single, "node-1", "pool-1");
        VolumeIntent mirror = single.toBuilder().layout(Layout.MIRROR).build();
        steps.put(steps.keys.volume("db"), mirror,
                () -> steps.state.intent("db").map(i -> i.value().layout() == Layout.MIRROR).orElse(false));

        assertThat(steps.onContext(() -> parts.multiPart("db", steps.state.intent("db").orElseThrow()))).isFalse();
        assertThat(PartsStep.layoutChangeRefusal(mirror)).contains("cannot be changed");
        assertThat(PartsStep.layoutChangeRefusal(single)).isNull();
        assertThat(steps.get(steps.keys.workItem("node-1", "db"), WorkItem.class).deletionRequested()).isFalse();
    }

    @Test
    void aPartsDeletionIsRefusedUnlessItsVolumeAsksForIt() {
        VolumeIntent part = VolumeIntent.builder("db--p0", 4 * GI).partOf("db").deletionRequested(true).build();
        assertThat(steps.onContext(() -> parts.partDeletionRefusal(part))).contains("is missing");

        VolumeIntent volume = VolumeIntent.builder("db", 4 * GI).layout(Layout.MIRROR).build();
        create(volume);
        assertThat(steps.onContext(() -> parts.partDeletionRefusal(part))).contains("does not ask for deletion");

        steps.put(steps.keys.volume("db"), volume.withDeletionRequested(),
                () -> steps.state.intent("db").map(i -> i.value().deletionRequested()).orElse(false));
        assertThat(steps.onContext(() -> parts.partDeletionRefusal(part))).isNull();
    }

    private VolumeIntent create(VolumeIntent intent) {
        steps.put(steps.keys.volume(intent.name()), intent, () -> steps.state.intent(intent.name()).isPresent());
        return intent;
    }

    private ReconcileResult run(String volume) {
        return steps.run(() -> parts.reconcile(steps.leader, volume, steps.state.intent(volume).orElse(null)));
    }
}
