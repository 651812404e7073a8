package io.ferry.model;

import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The one rule for "done, failed or in progress" that the CSI plugin and ferryctl both follow. */
class VolumeProgressTest {

    static final Instant T = Instant.parse("2026-11-30T04:00:00Z");
    static final String HOST = "nqn.2014-08.org.nvmexpress:uuid:6c1f2a64-8b8e-4d62-9d0e-0f1b5e0c1a77";
    static final Placement PLACED = Placement.of("data-1", "pool-a", "node-a", Engine.FILE, 16L << 20, false, 3,
            "node-b", null, null, T);

    static VolumeStatus status(VolumePhase phase, long generation) {
        return VolumeStatus.of("data-1", "node-a", "pool-a", phase, phase == VolumePhase.READY ? "/dev/loop3" : null,
                16L << 20, null, generation, phase == VolumePhase.FAILED ? "it went wrong" : null, T);
    }

    static VolumeScheduling scheduling(SchedulingPhase phase, long revision) {
        boolean placed = phase == SchedulingPhase.PLACED;
        return VolumeScheduling.of("data-1", phase, Map.of(), "no pool has room", placed ? "node-a" : null,
                placed ? "pool-a" : null, true, revision, T);
    }

    @Test
    void aCreateIsDoneOnlyWhenItsNodeReportsReadyAtThePlacementsGeneration() {
        assertThat(VolumeProgress.created("data-1", null, 7, null, null)).isInstanceOf(VolumeProgress.InProgress.class);
        assertThat(VolumeProgress.created("data-1", null, 7, PLACED, null)).isInstanceOf(VolumeProgress.InProgress.class);
        assertThat(VolumeProgress.created("data-1", null, 7, PLACED, status(VolumePhase.READY, 2)))
                .isInstanceOf(VolumeProgress.InProgress.class);
        assertThat(VolumeProgress.created("data-1", null, 7, PLACED, status(VolumePhase.READY, 3)))
                .isEqualTo(new VolumeProgress.Done(PLACED, status(VolumePhase.READY, 3)));
    }

    @Test
    void noFitAndInvalidEndACreateOnlyWhenWrittenForThisIntent() {
        assertThat(VolumeProgress.created("data-1", scheduling(SchedulingPhase.NO_FIT, 6), 7, null, null))
                .isInstanceOf(VolumeProgress.InProgress.class);
        assertThat(VolumeProgress.created("data-1", scheduling(SchedulingPhase.NO_FIT, 8), 7, null, null))
                .isEqualTo(new VolumeProgress.Failed(FailureReason.NO_FIT, "no pool has room"));
        VolumeProgress.Outcome invalid = VolumeProgress.created("data-1", scheduling(SchedulingPhase.INVALID, 7), 7,
                null, null);
        assertThat(((VolumeProgress.Failed) invalid).reason().category()).isEqualTo(FailureReason.Category.INVALID);
    }

    @Test
    void aTerminalFailureForThisGenerationEndsTheWaitAtOnceEvenThoughTheStatusKeepsAnOlderGeneration() {
        // The agent keeps observedGeneration at what the volume last was, and says which
        // generation the failure is for.
        VolumeStatus failed = status(VolumePhase.FAILED, 2).withReady(failure(FailureReason.EXPORT_UNAVAILABLE, 3, 1));
        VolumeProgress.Outcome o = VolumeProgress.servedTo("data-1", PLACED, failed, "node-b", HOST, null, null, false);
        assertThat(o).isInstanceOf(VolumeProgress.Failed.class);
        assertThat(((VolumeProgress.Failed) o).reason().category()).isEqualTo(FailureReason.Category.PRECONDITION);
        assertThat(((VolumeProgress.Failed) o).message()).contains("node-a", "it went wrong");

        // One for an older generation says nothing about this request.
        VolumeStatus stale = status(VolumePhase.FAILED, 2).withReady(failure(FailureReason.EXPORT_UNAVAILABLE, 2, 1));
        assertThat(VolumeProgress.servedTo("data-1", PLACED, stale, "node-b", HOST, null, null, false))
                .isInstanceOf(VolumeProgress.InProgress.class);
    }

    @Test
    void aRetryableFailureKeepsTheRequestInProgressWithTheAttemptCount() {
        Condition first = Condition.failedAgain(Condition.READY, FailureReason.RETRYING, "it went wrong", 3, List.of());
        Condition second = Condition.failedAgain(Condition.READY, FailureReason.RETRYING, "it went wrong", 3, List.of(first));
        Condition third = Condition.failedAgain(Condition.READY, FailureReason.RETRYING, "it went wrong", 3, List.of(second));
        assertThat(third.attempts()).isEqualTo(3);
        assertThat(Condition.failedAgain(Condition.READY, FailureReason.RETRYING, "x", 4, List.of(third)).attempts())
                .isEqualTo(1);
        assertThat(Condition.failedAgain(Condition.READY, FailureReason.NO_SPACE, "x", 3, List.of(third)).attempts())
                .isEqualTo(1);
        VolumeStatus retrying = status(VolumePhase.FAILED, 3).withReady(third);
        VolumeProgress.Outcome o = VolumeProgress.created("data-1", null, 7, PLACED, retrying);
        assertThat(o).isInstanceOf(VolumeProgress.InProgress.class);
        assertThat(((VolumeProgress.InProgress) o).waitingFor()).contains("attempt 3 failed: it went wrong");
    }

    @Test
    void aFailedStatusWithoutATypedFailureFromAnOlderAgentStillEndsTheWaitAsBefore() {
        VolumeProgress.Outcome o = VolumeProgress.created("data-1", null, 7, PLACED, status(VolumePhase.FAILED, 3));
        assertThat(o).isInstanceOf(VolumeProgress.Failed.class);
        assertThat(((VolumeProgress.Failed) o).reason()).isEqualTo(FailureReason.UNKNOWN);
        assertThat(((VolumeProgress.Failed) o).reason().category()).isEqualTo(FailureReason.Category.INTERNAL);
    }

    @Test
    void aLostVolumeFailsEveryRequestWithAPrecondition() {
        VolumeStatus lost = VolumeStatus.of("data-1", "node-a", "pool-a", VolumePhase.LOST, null, 16L << 20, null, 3,
                "pool directory without its marker", T);
        for (VolumeProgress.Outcome o : new VolumeProgress.Outcome[] {
                VolumeProgress.created("data-1", null, 7, PLACED, lost),
                VolumeProgress.grown("data-1", null, PLACED, lost, 16L << 20),
                VolumeProgress.servedTo("data-1", PLACED, lost, "node-a", HOST, null, null, true)}) {
            assertThat(o).isEqualTo(new VolumeProgress.Failed(FailureReason.VOLUME_LOST,
                    "volume data-1 is lost on node-a: pool directory without its marker"));
        }
    }

    @Test
    void aGrowIsRefusedOnlyForTheSizeTheControllerRefusedAndDoneWhenTheNodeReportsTheSize() {
        VolumeScheduling refused = scheduling(SchedulingPhase.PLACED, 9).withGrowRefused(64L << 20);
        assertThat(VolumeProgress.grown("data-1", refused, PLACED, status(VolumePhase.READY, 3), 64L << 20))
                .isInstanceOf(VolumeProgress.Failed.class)
                .extracting(o -> ((VolumeProgress.Failed) o).reason()).isEqualTo(FailureReason.NO_SPACE);
        // a smaller request than the refused one is still being worked on
        assertThat(VolumeProgress.grown("data-1", refused, PLACED, status(VolumePhase.READY, 3), 32L << 20))
                .isInstanceOf(VolumeProgress.InProgress.class);
        Placement grown = PLACED.withSize(32L << 20, 4);
        VolumeStatus small = status(VolumePhase.READY, 4);
        assertThat(VolumeProgress.grown("data-1", refused, grown, small, 32L << 20))
                .isInstanceOf(VolumeProgress.InProgress.class);
        VolumeStatus big = VolumeStatus.of("data-1", "node-a", "pool-a", VolumePhase.READY, "/dev/loop3", 32L << 20, null,
                4, null, T);
        assertThat(VolumeProgress.grown("data-1", refused, grown, big, 32L << 20)).isInstanceOf(VolumeProgress.Done.class);
    }

    @Test
    void servedToTheVolumesOwnNodeOrToTheHostItIsExportedTo() {
        VolumeStatus ready = status(VolumePhase.READY, 3);
        assertThat(VolumeProgress.servedTo("data-1", PLACED, ready, "node-a", HOST, null, null, true)).isInstanceOf(VolumeProgress.Done.class);
        assertThat(VolumeProgress.servedTo("data-1", PLACED, ready, "node-b", HOST, null, null, false))
                .isInstanceOf(VolumeProgress.InProgress.class);
        VolumeStatus exported = VolumeStatus.of("data-1", "node-a", "pool-a", VolumePhase.READY, null, 16L << 20,
                ExportInfo.tcp("nqn.2026-11.io.ferry:vol:data-1", "10.0.0.1", 4420, Nqn.serialForVolume("data-1"),
                        Set.of(HOST)), 3, null, T);
        assertThat(VolumeProgress.servedTo("data-1", PLACED, exported, "node-b", HOST, null, null, false))
                .isInstanceOf(VolumeProgress.Done.class);
        // on its own node without a device (an spdk volume) it is usable only through its export
        assertThat(VolumeProgress.servedTo("data-1", PLACED, exported, "node-a", "nqn.2014-08.org.other:x",
                null, null, true)).isInstanceOf(VolumeProgress.InProgress.class);
    }

    @Test
    void aDetachedHostIsCutOffOnlyOnceTheServingNodeReportsAnExportWithoutIt() {
        String other = "nqn.2014-08.org.nvmexpress:uuid:0d9e5c1b-0000-4000-8000-00000000000b";
        NodeRegistration serving = NodeRegistration.of("node-a", "10.0.0.1", null, other, Set.of(Engine.FILE),
                Map.of(), "test", T);
        VolumeStatus exportedToHost = exportedTo(Set.of(HOST));
        // The agent still lets the detached host in: not yet, whatever the phase says.
        assertThat(VolumeProgress.cutOff("data-1", PLACED, exportedToHost, Set.of(), serving))
                .isEqualTo(new VolumeProgress.InProgress("the agent on node-a to cut " + HOST + " off volume data-1"));
        // A host still attached stays allowed; only the others must go.
        assertThat(VolumeProgress.cutOff("data-1", PLACED, exportedToHost, Set.of(HOST), serving))
                .isInstanceOf(VolumeProgress.Done.class);
        // The export now names only hosts still attached, or is gone: done.
        assertThat(VolumeProgress.cutOff("data-1", PLACED, exportedTo(Set.of(other)), Set.of(other), serving))
                .isInstanceOf(VolumeProgress.Done.class);
        assertThat(VolumeProgress.cutOff("data-1", PLACED, status(VolumePhase.READY, 3), Set.of(), serving))
                .isInstanceOf(VolumeProgress.Done.class);
        // Nothing placed: nothing can be reached.
        assertThat(VolumeProgress.cutOff("data-1", null, null, Set.of(), null)).isInstanceOf(VolumeProgress.Done.class);
        // No status yet: the agent may have exported before it could write one.
        assertThat(VolumeProgress.cutOff("data-1", PLACED, null, Set.of(), serving))
                .isInstanceOf(VolumeProgress.InProgress.class);
    }

    @Test
    void aCutNobodyCanConfirmFailsAtOnceAndAFailedCutNeverReadsAsDone() {
        VolumeStatus exportedToHost = exportedTo(Set.of(HOST));
        // The serving node is down: its kernel may still serve the host, and nobody can say otherwise.
        VolumeProgress.Outcome down = VolumeProgress.cutOff("data-1", PLACED, exportedToHost, Set.of(), null);
        assertThat(down).isInstanceOf(VolumeProgress.Failed.class);
        assertThat(((VolumeProgress.Failed) down).reason()).isEqualTo(FailureReason.NODE_UNREACHABLE);
        assertThat(((VolumeProgress.Failed) down).message()).contains("node node-a is down", HOST);
        NodeRegistration serving = NodeRegistration.of("node-a", "10.0.0.1", null, HOST, Set.of(Engine.FILE),
                Map.of(), "test", T);
        // A retryable failure keeps the old export: in progress, with the attempt in the words.
        VolumeStatus retrying = exportedToHost.withReady(failure(FailureReason.UNKNOWN, 3, 2));
        assertThat(VolumeProgress.cutOff("data-1", PLACED, retrying, Set.of(), serving))
                .isEqualTo(new VolumeProgress.InProgress("the agent on node-a to cut " + HOST
                        + " off volume data-1; attempt 2 failed: it went wrong"));
        // A terminal one for this generation ends the wait with the agent's reason.
        VolumeStatus stuck = exportedToHost.withReady(failure(FailureReason.POOL_NOT_CONFIGURED, 3, 1));
        VolumeProgress.Outcome failed = VolumeProgress.cutOff("data-1", PLACED, stuck, Set.of(), serving);
        assertThat(((VolumeProgress.Failed) failed).reason()).isEqualTo(FailureReason.POOL_NOT_CONFIGURED);
    }

    static VolumeStatus exportedTo(Set<String> hosts) {
        return VolumeStatus.of("data-1", "node-a", "pool-a", VolumePhase.READY, "/dev/loop3", 16L << 20,
                ExportInfo.tcp("nqn.2026-11.io.ferry:vol:data-1", "10.0.0.1", 4420, Nqn.serialForVolume("data-1"), hosts),
                3, null, T);
    }

    @Test
    void theReadyConditionRoundTripsAndAnUnknownReasonFromANewerWriterDecodesAsRetryable() {
        VolumeStatus failed = status(VolumePhase.FAILED, 2).withReady(failure(FailureReason.NO_SPACE, 3, 2));
        String json = Json.encodeToString(failed);
        assertThat(json).contains("\"conditions\":[{\"type\":\"Ready\",\"status\":false,\"reason\":\"NoSpace\"");
        assertThat(Json.decode(json, VolumeStatus.class)).isEqualTo(failed);
        VolumeStatus newer = Json.decode(json.replace("NoSpace", "SomethingNew"), VolumeStatus.class);
        assertThat(newer.ready().orElseThrow().failureReason()).isEqualTo(FailureReason.UNKNOWN);
        assertThat(newer.ready().orElseThrow().terminalFor(3)).isFalse();
        assertThat(Json.encodeToString(status(VolumePhase.READY, 3))).doesNotContain("conditions", "failure");
        assertThat(Json.encodeToString(scheduling(SchedulingPhase.PLACED, 1))).doesNotContain("growRefusedBytes");
        assertThat(Json.decode(Json.encodeToString(scheduling(SchedulingPhase.PLACED, 1).withGrowRefused(5)),
                VolumeScheduling.class).growRefusedBytes()).isEqualTo(5);
    }

    @Test
    void aStatusWrittenWithTheOlderFailureFieldDecodesIntoItsReadyConditionAndStillEndsTheWait() {
        String old = "{\"volume\":\"data-1\",\"node\":\"node-a\",\"pool\":\"pool-a\",\"phase\":\"Failed\","
                + "\"sizeBytes\":0,\"observedGeneration\":0,\"message\":\"nvmet is not loaded\","
                + "\"updatedAt\":\"2026-11-30T04:00:00Z\","
                + "\"failure\":{\"reason\":\"ExportUnavailable\",\"generation\":3,\"attempts\":2}}";
        VolumeStatus decoded = Json.decode(old, VolumeStatus.class);
        Condition ready = decoded.ready().orElseThrow();
        assertThat(ready.status()).isFalse();
        assertThat(ready.failureReason()).isEqualTo(FailureReason.EXPORT_UNAVAILABLE);
        assertThat(ready.observedGeneration()).isEqualTo(3);
        assertThat(ready.attempts()).isEqualTo(2);
        assertThat(ready.message()).isEqualTo("nvmet is not loaded");
        assertThat(VolumeProgress.servedTo("data-1", PLACED, decoded, "node-b", HOST, null, null, false))
                .isEqualTo(new VolumeProgress.Failed(FailureReason.EXPORT_UNAVAILABLE,
                        "the agent on node-a cannot export to node-b volume data-1: nvmet is not loaded"));
        // written back, the failure is the condition, once
        assertThat(Json.encodeToString(decoded)).doesNotContain("\"failure\"");
        assertThatThrownBy(() -> Json.decode(old.replace("\"reason\":\"ExportUnavailable\",", ""), VolumeStatus.class))
                .isInstanceOf(ValidationException.class);
    }

    @Test
    void progressWhileWorkingAndCarriedOutAreDecidedOnTheConditionNotOnThePhase() {
        // Ready carried out at the generation: done, whatever phase text a person reads
        VolumeStatus carried = status(VolumePhase.EXPANDING, 3).withReady(
                Condition.progress(Condition.READY, ProgressReason.CARRIED_OUT, null, 3));
        assertThat(VolumeProgress.created("data-1", null, 7, PLACED, carried)).isInstanceOf(VolumeProgress.Done.class);
        // Ready says Progressing: not done although the phase says Ready at the generation
        VolumeStatus working = status(VolumePhase.READY, 3).withReady(
                Condition.progress(Condition.READY, ProgressReason.PROGRESSING, null, 3));
        assertThat(VolumeProgress.created("data-1", null, 7, PLACED, working)).isInstanceOf(VolumeProgress.InProgress.class);
        assertThat(working.ready().orElseThrow().isFailure()).isFalse();
    }

    static Condition failure(FailureReason reason, long generation, int attempts) {
        return Condition.failed(Condition.READY, reason, "it went wrong", generation, attempts);
    }
}
