package io.ferry.tools.cli;

import io.ferry.model.Condition;
import io.ferry.model.FailureReason;
import io.ferry.model.Layout;
import io.ferry.model.SchedulingPhase;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeScheduling;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** `volume ls` shows the controller's typed reason, read from its record's conditions, never from its message. */
class VolumeStateTest {

    static final Instant T = Instant.parse("2026-11-30T04:00:00Z");
    static final VolumeIntent INTENT = VolumeIntent.builder("v", 1L << 30).build();

    static VolumeScheduling record(SchedulingPhase phase, String node, Condition... conditions) {
        return VolumeScheduling.of("v", phase, Map.of(), "no pool fits: free space 2", node, node == null ? null : "pool-a",
                true, 4, T).withConditions(List.of(conditions));
    }

    @Test
    void theStateCarriesTheTypedReasonOfWhatHoldsTheVolume() {
        VolumeScheduling input = record(SchedulingPhase.PENDING, null, Condition.failed(Condition.SCHEDULED,
                FailureReason.INPUT_INVALID, "bad value at /ferry/ledger/pool-a", 4, 0));
        assertThat(VolumeLsCommand.volumeState(INTENT, input, null)).isEqualTo("Pending (InputInvalid)");

        VolumeScheduling retrying = record(SchedulingPhase.PLACED, "node-a",
                Condition.of(Condition.SCHEDULED, true, Condition.REASON_PLACED, null, 4),
                new Condition(Condition.RECONCILED, false, "Retrying", "lost a race", 4, T, 3));
        assertThat(VolumeLsCommand.volumeState(INTENT, retrying, null)).isEqualTo("Placed (Retrying 3)");

        // The phase word already says it: no repetition. The message (which says "free space") is not read.
        VolumeScheduling noFit = record(SchedulingPhase.NO_FIT, null, Condition.failed(Condition.SCHEDULED,
                FailureReason.NO_FIT, null, 4, 0));
        assertThat(VolumeLsCommand.volumeState(INTENT, noFit, null)).isEqualTo("NoFit");
        assertThat(VolumeLsCommand.reason(noFit)).contains("NoFit");

        VolumeScheduling down = record(SchedulingPhase.PLACED, "node-a",
                Condition.of(Condition.SCHEDULED, true, Condition.REASON_PLACED, null, 4),
                Condition.failed(Condition.REACHABLE, FailureReason.NODE_UNREACHABLE, null, 4, 0));
        assertThat(VolumeLsCommand.volumeState(INTENT, down, null)).isEqualTo("Placed (unreachable)");

        VolumeScheduling fine = record(SchedulingPhase.PLACED, "node-a",
                Condition.of(Condition.SCHEDULED, true, Condition.REASON_PLACED, null, 4));
        assertThat(VolumeLsCommand.volumeState(INTENT, fine, null)).isEqualTo("Placed");
        assertThat(VolumeLsCommand.reason(fine)).isEmpty();
    }

    @Test
    void aMultiPartVolumesStateIsItsPartsStateWhenTheyAgreeElseEachStateWithItsCount() {
        VolumeLsCommand.PartRow ready = new VolumeLsCommand.PartRow("v--p0", "node-a", "pool-a", "Ready", null);
        VolumeLsCommand.PartRow pending = new VolumeLsCommand.PartRow("v--p1", null, null, "Pending", null);
        VolumeIntent mirror = VolumeIntent.builder("v", 1L << 30).layout(Layout.MIRROR).parts(3).build();
        assertThat(VolumeLsCommand.partsState(mirror, List.of(ready, ready, ready))).isEqualTo("Ready");
        assertThat(VolumeLsCommand.partsState(mirror, List.of(ready, pending, ready))).isEqualTo("Ready 2, Pending 1");
        assertThat(VolumeLsCommand.partsState(mirror.withDeletionRequested(), List.of(ready, pending, ready)))
                .isEqualTo("Deleting");
    }
}
