package io.ferry.agent;

import io.ferry.etcd.KeyLayoutMigration;
import io.ferry.etcd.testing.Await;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.model.Engine;
import io.ferry.model.KeyLayout;
import io.ferry.model.Placement;
import io.ferry.model.Sizes;
import io.ferry.model.VolumeStatus;
import io.ferry.model.WorkItem;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Instant;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * An agent across the move to key layout 2: it carries out work items written where an older
 * controller wrote them, keeps converging them once the migration has moved them, and from then on
 * takes no work from its own {@code nodes/<node>/} prefix.
 */
class KeyLayoutTransitionIT {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    @RegisterExtension
    final AgentHarness h = AgentHarness.withFilePool(etcd, "files");

    static WorkItem work(String volume, long size, long generation) {
        return WorkItem.of(volume, AgentHarness.NODE, "files", Engine.FILE, size, true, generation, null, null);
    }

    /** Placement and work item in one transaction, the work item where layout 1 kept it. */
    void putOldLayoutWork(WorkItem item) {
        Placement placement = Placement.of(item.volume(), item.pool(), item.node(), item.engine(), item.sizeBytes(),
                item.thin(), item.generation(), null, null, null, Instant.now());
        Await.result(h.store.txn().put(h.keys.placement(item.volume()), placement)
                .put(h.keys.legacyWorkItem(item.node(), item.volume()), item).commit());
    }

    @Test
    void workInTheOldPlaceIsCarriedOutAndStillConvergedAfterTheMigrationMovedIt() throws Exception {
        putOldLayoutWork(work("vol-a", 64 * Sizes.MIB, 1));
        h.start();

        VolumeStatus ready = h.awaitReady("vol-a", 1);
        assertThat(ready.sizeBytes()).isEqualTo(64 * Sizes.MIB);

        KeyLayoutMigration.Outcome moved = Await.result(KeyLayoutMigration.run(h.store, Instant.now()));
        assertThat(moved.copied()).isEqualTo(1);
        assertThat(Await.result(h.store.get(h.keys.workItem(AgentHarness.NODE, "vol-a"), WorkItem.class))).isPresent();
        assertThat(Await.result(h.store.count(h.keys.legacyWorkItems(AgentHarness.NODE)))).isZero();

        // The controller's next order goes to the new place; the agent follows it there.
        h.putWork(work("vol-a", 128 * Sizes.MIB, 2));
        VolumeStatus grown = h.awaitReady("vol-a", 2);
        assertThat(grown.sizeBytes()).isEqualTo(128 * Sizes.MIB);
        assertThat(grown.devicePath()).isEqualTo(ready.devicePath());
        assertThat(h.poolFiles()).containsExactly("vol-a.img");

        // Migrated: a work item in the agent's own prefix is nobody's order, even with a placement.
        putOldLayoutWork(work("vol-forged", 64 * Sizes.MIB, 1));
        Thread.sleep(2000);
        assertThat(h.status("vol-forged")).isEmpty();
        assertThat(h.poolFiles()).containsExactly("vol-a.img");
    }

    @Test
    void anAgentStartedOnAMigratedClusterNeverReadsTheOldPlace() throws Exception {
        Await.result(h.store.put(h.keys.keyLayout(), KeyLayout.current(Instant.now())));
        putOldLayoutWork(work("vol-old", 64 * Sizes.MIB, 1));
        h.start();

        h.putWork(work("vol-new", 64 * Sizes.MIB, 1));
        h.awaitReady("vol-new", 1);
        assertThat(h.status("vol-old")).isEmpty();
        assertThat(h.poolFiles()).containsExactly("vol-new.img");
    }
}
