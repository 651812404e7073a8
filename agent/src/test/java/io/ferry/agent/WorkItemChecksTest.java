package io.ferry.agent;

import io.ferry.model.Engine;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolSource;
import io.ferry.model.Sizes;
import io.ferry.model.VolumePhase;
import io.ferry.model.VolumeSource;
import io.ferry.model.VolumeStatus;
import io.ferry.model.WorkItem;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/** The work item rules that need the pool, and when a volume must already exist rather than be created. */
class WorkItemChecksTest {

    final PoolConfig lvm = PoolConfig.builder("fast", "node-1", Engine.LVM, PoolSource.volumeGroup("vg0")).build();

    static WorkItem item(Engine engine, long size, boolean thin, VolumeSource source) {
        return WorkItem.of("vol-a", "node-1", "fast", engine, size, thin, 5, source, null);
    }

    @Test
    void aWorkItemThatFitsItsPoolPasses() {
        assertThat(WorkItemChecks.validate(item(Engine.LVM, Sizes.ALIGNMENT, false, null), lvm)).isNull();
    }

    @Test
    void aWorkItemForAnotherEngineOrAnImpossibleVolumeIsRefused() {
        assertThat(WorkItemChecks.validate(item(Engine.FILE, Sizes.ALIGNMENT, true, null), lvm)).contains("but pool fast is");
        assertThat(WorkItemChecks.validate(item(Engine.LVM, Sizes.ALIGNMENT, true, null), lvm))
                .contains("cannot hold thin volumes");
        assertThat(WorkItemChecks.validate(item(Engine.LVM, Sizes.ALIGNMENT, false,
                new VolumeSource(null, "vol-b", "slow")), lvm)).contains("only be created from a source in its own pool");
        assertThat(WorkItemChecks.validate(item(Engine.LVM, Sizes.ALIGNMENT, false,
                new VolumeSource(null, "vol-a", "fast")), lvm)).isEqualTo("a volume cannot be cloned from itself");
    }

    @Test
    void aVolumeMustExistOnceItsStatusRecordsACreationOfThisLife() {
        WorkItem item = item(Engine.LVM, Sizes.ALIGNMENT, false, null);
        VolumeStatus ready = VolumeStatus.of("vol-a", "node-1", "fast", VolumePhase.READY, "/dev/vg0/vol-a", Sizes.ALIGNMENT,
                null, 3, null, Instant.EPOCH);

        assertThat(WorkItemChecks.createdBefore(item, Optional.empty())).isNull();
        assertThat(WorkItemChecks.createdBefore(item, Optional.of(ready))).contains("status Ready");
        assertThat(WorkItemChecks.createdBefore(item.withCreationRecord(false, 4), Optional.of(ready)))
                .as("replaced by an empty volume at generation 4: the old status is of the volume given up").isNull();
        assertThat(WorkItemChecks.createdBefore(item.withCreationRecord(true, 0), Optional.empty()))
                .contains("controller's placement");
    }
}
