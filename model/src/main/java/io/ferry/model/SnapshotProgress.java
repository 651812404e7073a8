package io.ferry.model;

import java.util.Optional;

/**
 * Whether a snapshot asked for is cut, failed or still in progress, decided from the controller's
 * record and the source node's snapshot status: the one rule the CSI plugin and
 * {@code ferryctl snapshot create --wait} follow, next to {@link VolumeProgress} for volumes. A
 * terminal failure written by the agent answers at once; one being retried keeps the request in
 * progress, with its attempt count.
 */
public final class SnapshotProgress {

    private SnapshotProgress() {
    }

    /** The snapshot is cut and can be restored from. */
    public record Cut(SnapshotScheduling scheduling, SnapshotStatus status) implements VolumeProgress.Outcome {
    }

    /**
     * The snapshot intent asked for at {@code intentCreateRevision} (an older snapshot of the same
     * name does not count).
     */
    public static VolumeProgress.Outcome cut(String snapshot, SnapshotScheduling scheduling, long intentCreateRevision,
            SnapshotStatus status) {
        if (scheduling == null || scheduling.observedRevision() < intentCreateRevision) {
            return new VolumeProgress.InProgress("the controller to place snapshot " + snapshot);
        }
        Optional<VolumeProgress.Failed> refused = SnapshotScheduling.refusal(scheduling, intentCreateRevision);
        if (refused.isPresent()) {
            return refused.get();
        }
        if (scheduling.phase() == SchedulingPhase.PLACED && scheduling.node() != null) {
            return onNode(snapshot, scheduling, status);
        }
        return new VolumeProgress.InProgress("snapshot " + snapshot + " (now " + scheduling.phase().value()
                + scheduling.problem().map(c -> ", " + c.reason()).orElse("") + ")");
    }

    private static VolumeProgress.Outcome onNode(String snapshot, SnapshotScheduling scheduling, SnapshotStatus status) {
        String node = scheduling.node();
        if (status == null) {
            return new VolumeProgress.InProgress("the agent on " + node + " to cut snapshot " + snapshot);
        }
        if (status.readyToUse()) {
            return new Cut(scheduling, status);
        }
        Condition ready = status.ready().orElse(null);
        if (ready == null) {
            // An agent that predates the Ready condition wrote Failed only for its snapshots' failures.
            return status.phase() == VolumePhase.FAILED
                    ? new VolumeProgress.Failed(FailureReason.UNKNOWN, "the agent on " + node + " failed snapshot "
                            + snapshot + ": " + status.message())
                    : new VolumeProgress.InProgress("the agent on " + node + " to cut snapshot " + snapshot);
        }
        // A snapshot's work item changes generation only to be deleted: every failure written for
        // it is about the one request there is.
        if (ready.terminalFor(0)) {
            return new VolumeProgress.Failed(ready.failureReason(), "the agent on " + node + " cannot cut snapshot "
                    + snapshot + ": " + VolumeProgress.messageOf(ready, status.message()));
        }
        if (ready.isFailure()) {
            return new VolumeProgress.InProgress("the agent on " + node + " to cut snapshot " + snapshot + "; attempt "
                    + Math.max(1, ready.attempts()) + " failed: " + VolumeProgress.messageOf(ready, status.message()));
        }
        return new VolumeProgress.InProgress("the agent on " + node + " to cut snapshot " + snapshot + " (now "
                + status.phase().value() + ")");
    }
}
