package io.ferry.controller;

import io.ferry.etcd.store.BadValueException;
import io.ferry.etcd.store.CommitHeldException;
import io.ferry.etcd.store.EtcdUnavailableException;
import io.ferry.model.Condition;
import io.ferry.model.FailureReason;
import io.ferry.model.Layout;
import io.ferry.model.ValidationException;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletionException;

import static org.assertj.core.api.Assertions.assertThat;

/** How the controller's records say whether its passes succeed, without etcd. */
class RecordConditionsTest {

    static final Instant T = Instant.parse("2026-11-30T04:00:00Z");

    @Test
    void aSuccessShowsTheFailedPassesBeforeItOnceAndIsNotRewrittenByTheNextSuccess() {
        Condition retrying = RecordConditions.failed(new IllegalStateException("lost a race"), 3, 7);
        assertThat(retrying.status()).isFalse();
        assertThat(retrying.failureReason()).isEqualTo(FailureReason.RETRYING);
        assertThat(retrying.attempts()).isEqualTo(3);
        assertThat(retrying.observedGeneration()).isEqualTo(7);

        // Four failed passes whose records could not be written (etcd was down): the success says so.
        Condition afterOutage = RecordConditions.reconciled(List.of(
                Condition.of(Condition.RECONCILED, true, Condition.REASON_RECONCILED, null, 7).withTransitionTime(T)), 4, 7);
        assertThat(afterOutage.status()).isTrue();
        assertThat(afterOutage.attempts()).isEqualTo(4);
        // The next success keeps it as it is, so the record is not rewritten for nothing.
        assertThat(RecordConditions.reconciled(List.of(afterOutage), 0, 7)).isEqualTo(afterOutage);
        assertThat(RecordConditions.reconciled(List.of(afterOutage), 0, 8).observedGeneration()).isEqualTo(8);
        // After a recorded failure, the first success flips it.
        Condition flipped = RecordConditions.reconciled(List.of(retrying), 0, 7);
        assertThat(flipped.status()).isTrue();
        assertThat(flipped.reason()).isEqualTo(Condition.REASON_RECONCILED);
    }

    @Test
    void failuresAreClassedByTheRuntimesRuleAndThoseThatCannotBeWrittenAreKnown() {
        BadValueException bad = new BadValueException("/ferry/ledger/pool-1", new ValidationException("allocatedBytes: not a size"));
        Condition terminal = RecordConditions.failed(new CompletionException(bad), 1, 9);
        assertThat(terminal.failureReason()).isEqualTo(FailureReason.INPUT_INVALID);
        assertThat(terminal.failureReason().terminal()).isTrue();
        assertThat(terminal.message()).contains("/ferry/ledger/pool-1");

        assertThat(RecordConditions.unwritable(new CompletionException(new EtcdUnavailableException("etcd down", null)))).isTrue();
        assertThat(RecordConditions.unwritable(new CommitHeldException("held"))).isTrue();
        assertThat(RecordConditions.unwritable(bad)).isFalse();
        assertThat(RecordConditions.unwritable(new IllegalStateException("lost a race"))).isFalse();
    }

    @Test
    void aPlacedVolumesNodeDecidesReachableAndAnUnplacedOneNeedsATypedReason() {
        assertThat(RecordConditions.reachable("node-1", false, 3).failureReason()).isEqualTo(FailureReason.NODE_UNREACHABLE);
        assertThat(RecordConditions.reachable("node-1", true, 3).status()).isTrue();
        assertThat(RecordConditions.scheduled(false, FailureReason.SOURCE_NOT_PLACED, "waiting", 3).reason())
                .isEqualTo("SourceNotPlaced");
        assertThat(RecordConditions.scheduled(true, null, null, 3).reason()).isEqualTo(Condition.REASON_PLACED);
    }

    @Test
    void aMultiPartVolumeIsReachableOnlyWithEveryPartsNodeAndSaysWhatADownNodeDoesToIt() {
        assertThat(RecordConditions.partsReachable(Layout.MIRROR, 2, new TreeMap<>(), 7).status()).isTrue();

        TreeMap<String, String> oneDown = new TreeMap<>(Map.of("db--p1", "node-2"));
        Condition degraded = RecordConditions.partsReachable(Layout.MIRROR, 2, oneDown, 7);
        assertThat(degraded.status()).isFalse();
        assertThat(degraded.failureReason()).isEqualTo(FailureReason.NODE_UNREACHABLE);
        assertThat(degraded.message()).contains("db--p1 on node-2").contains("degraded");
        assertThat(degraded.observedGeneration()).isEqualTo(7);

        TreeMap<String, String> allDown = new TreeMap<>(oneDown);
        allDown.put("db--p0", "node-1");
        assertThat(RecordConditions.partsReachable(Layout.MIRROR, 2, allDown, 7).message())
                .contains("db--p0 on node-1, db--p1 on node-2").contains("unreachable");
        assertThat(RecordConditions.partsReachable(Layout.LINEAR, 2, oneDown, 7).message()).contains("every segment");
    }

    @Test
    void aLegJoiningByAMoveHoldsNoDataSoItNeitherServesNorDegradesTheMirror() {
        TreeMap<String, String> joiningDown = new TreeMap<>(Map.of("db--p2", "node-3"));
        Condition waiting = RecordConditions.partsReachable(Layout.MIRROR, 2, joiningDown, "db--p2", 7);
        assertThat(waiting.status()).isFalse();
        assertThat(waiting.message()).contains("db--p2 on node-3").contains("joining the mirror by a move waits");

        // Both legs that hold the data down: the joining leg, up, cannot serve it.
        TreeMap<String, String> servingDown = new TreeMap<>(Map.of("db--p0", "node-1", "db--p1", "node-2"));
        assertThat(RecordConditions.partsReachable(Layout.MIRROR, 2, servingDown, "db--p2", 7).message())
                .contains("unreachable");
        servingDown.remove("db--p0");
        assertThat(RecordConditions.partsReachable(Layout.MIRROR, 2, servingDown, "db--p2", 7).message())
                .contains("degraded");
    }
}
