package io.ferry.model;

import java.util.List;
import java.util.Set;
import java.util.function.Predicate;

/**
 * Whether a request on a volume is done, failed or still in progress, decided from the records
 * every process can read (scheduling record, placement, the serving node's status). One place for
 * the rule, so that the CSI plugin, ferryctl, the benchmark and the testbed never disagree on
 * when to stop waiting, and none of them reads a message to decide.
 *
 * <p>A request is answered as failed the moment a terminal failure is written for its generation
 * (or a later one): nobody waits out a deadline for an outcome that is already known. A retryable
 * failure keeps the request in progress, with the writer's attempt count in its description.
 */
public final class VolumeProgress {

    private VolumeProgress() {
    }

    /** The outcome of one look at the records. */
    public sealed interface Outcome permits Done, InProgress, Failed, SnapshotProgress.Cut {
    }

    /**
     * The request is carried out: the placement and the status that show it, and for a volume served
     * to a node how that node reaches it (null for other requests).
     */
    public record Done(Placement placement, VolumeStatus status, Reach reach) implements Outcome {
        public Done(Placement placement, VolumeStatus status) {
            this(placement, status, null);
        }
    }

    /** Not yet; {@code waitingFor} says for what, for a deadline's message. */
    public record InProgress(String waitingFor) implements Outcome {
    }

    /** Failed for good (until an input changes); {@link FailureReason#category()} says how to answer. */
    public record Failed(FailureReason reason, String message) implements Outcome {
    }

    /**
     * A volume intent asked for at {@code intentCreateRevision} (an older volume of the same name
     * does not count): done once its node reports it Ready at the placement's generation.
     */
    public static Outcome created(String volume, VolumeScheduling scheduling, long intentCreateRevision,
            Placement placement, VolumeStatus status) {
        // The controller rewrites its record only when something changes, so a terminal refusal
        // written for any revision of this intent still stands.
        if (scheduling != null && scheduling.observedRevision() >= intentCreateRevision) {
            Condition refused = scheduling.terminalRefusal().orElse(null);
            if (refused != null) {
                return new Failed(refused.failureReason(), refused.message() != null ? refused.message()
                        : "the controller cannot place volume " + volume + " (" + refused.reason() + ")");
            }
        }
        if (placement == null) {
            return new InProgress("the controller to place volume " + volume);
        }
        return atGeneration(volume, placement, status, "create", null, s -> true);
    }

    /** A resize to {@code sizeBytes}: done once its node reports it Ready at least that large. */
    public static Outcome grown(String volume, VolumeScheduling scheduling, Placement placement, VolumeStatus status,
            long sizeBytes) {
        if (placement == null) {
            return new InProgress("the placement of volume " + volume);
        }
        if (placement.sizeBytes() < sizeBytes) {
            // Only a refusal of this very size counts: an earlier, larger request that did not fit
            // stays recorded until the controller has seen this one.
            Condition refused = scheduling == null || scheduling.growRefusedBytes() != sizeBytes ? null
                    : scheduling.condition(Condition.RESIZED).filter(c -> !c.status() && c.failureReason().terminal())
                            .orElse(null);
            if (refused != null) {
                return new Failed(refused.failureReason(), refused.message() != null ? refused.message()
                        : "the pool of volume " + volume + " has no room to grow it to " + sizeBytes + " bytes");
            }
            return new InProgress("the controller to grow volume " + volume + " to " + sizeBytes + " bytes");
        }
        return atGeneration(volume, placement, status, "grow", null, s -> s.sizeBytes() >= sizeBytes);
    }

    /**
     * Usable by {@code node}, whose initiator is {@code hostNqn}, reached as {@link Reach#of} says:
     * on the volume's own node (with a local device when {@code localNeedsDevice}), handed over on
     * the same machine (always with the serving node's device), or exported to that host.
     *
     * @param serving  the serving node's registration, null when it is not registered
     * @param consumer {@code node}'s registration, null when it is not registered (a bare host)
     */
    public static Outcome servedTo(String volume, Placement placement, VolumeStatus status, String node,
            String hostNqn, NodeRegistration serving, NodeRegistration consumer, boolean localNeedsDevice) {
        if (placement == null) {
            return new InProgress("the placement of volume " + volume);
        }
        Reach reach = Reach.of(placement.node(), serving, placement.engine(), node, consumer);
        String what = switch (reach) {
            case LOCAL -> "serve";
            case HANDOFF -> "hand over to " + node;
            case EXPORT -> "export to " + node;
        };
        return atGeneration(volume, placement, status, what, reach, s -> switch (reach) {
            case LOCAL -> !localNeedsDevice || s.devicePath() != null
                    || s.export() != null && s.export().allowedHostNqns().contains(hostNqn);
            case HANDOFF -> s.devicePath() != null;
            case EXPORT -> s.export() != null && s.export().allowedHostNqns().contains(hostNqn);
        });
    }

    /**
     * Cut off from every host that no attachment names any more: the serving node's agent reports an
     * export that allows only {@code attachedHosts} (or no export at all). The agent writes that only
     * after it has cut the revoked hosts' live connections (unlinking the subsystem from its ports),
     * so a detached consumer can no longer write once this is done. A failed cut keeps the old export
     * in the status, so a failure never reads as done.
     *
     * <p>Nothing placed, nothing to cut. A serving node that is down cannot confirm anything: its
     * kernel may still serve the old host (an agent that died leaves nvmet as it was), and only its
     * agent, when it returns, cuts the host off before it serves anyone else.
     *
     * @param attachedHosts the host NQNs of the attachments that remain
     * @param serving       the serving node's registration, null when it is not registered
     */
    public static Outcome cutOff(String volume, Placement placement, VolumeStatus status,
            Set<String> attachedHosts, NodeRegistration serving) {
        if (placement == null) {
            return new Done(null, status);
        }
        String node = placement.node();
        List<String> revoked = status == null || status.export() == null ? List.of()
                : status.export().allowedHostNqns().stream().filter(h -> !attachedHosts.contains(h)).sorted().toList();
        if (status != null && revoked.isEmpty()) {
            return new Done(placement, status);
        }
        String who = revoked.isEmpty() ? "the detached hosts" : String.join(", ", revoked);
        if (serving == null) {
            return new Failed(FailureReason.NODE_UNREACHABLE, "node " + node + " is down: it cannot confirm that "
                    + who + " can no longer reach volume " + volume + "; its agent cuts them off when it returns,"
                    + " before it serves anyone else");
        }
        if (status == null) {
            return new InProgress("the agent on " + node + " to report volume " + volume);
        }
        Condition ready = status.ready().orElse(null);
        if (ready != null && ready.terminalFor(placement.generation())) {
            return new Failed(ready.failureReason(), "the agent on " + node + " cannot cut " + who + " off volume "
                    + volume + ": " + messageOf(ready, status));
        }
        String attempt = ready != null && ready.isFailure() ? "; attempt " + Math.max(1, ready.attempts())
                + " failed: " + messageOf(ready, status) : "";
        return new InProgress("the agent on " + node + " to cut " + who + " off volume " + volume + attempt);
    }

    private static Outcome atGeneration(String volume, Placement placement, VolumeStatus status, String what,
            Reach reach, Predicate<VolumeStatus> carriedOut) {
        String node = placement.node();
        if (status == null) {
            return new InProgress("the agent on " + node + " to report volume " + volume);
        }
        long generation = placement.generation();
        Condition ready = status.ready().orElse(null);
        if (ready == null) {
            return beforeConditions(volume, placement, status, what, reach, carriedOut);
        }
        if (ready.terminalFor(generation)) {
            return new Failed(ready.failureReason(), "the agent on " + node + " cannot " + what + " volume " + volume
                    + ": " + messageOf(ready, status));
        }
        if (ready.carriedOut(generation)) {
            return carriedOut.test(status) ? new Done(placement, status, reach)
                    : new InProgress("the agent on " + node + " to " + what + " volume " + volume);
        }
        if (ready.isFailure() && ready.observedGeneration() >= generation) {
            return new InProgress("the agent on " + node + " to " + what + " volume " + volume + "; attempt "
                    + Math.max(1, ready.attempts()) + " failed: " + messageOf(ready, status));
        }
        return new InProgress("the agent on " + node + " to " + what + " volume " + volume + " (generation "
                + generation + ", now " + status.phase().value() + ")");
    }

    /**
     * A status written by an agent that predates the Ready condition: its phase at the generation
     * decides, and its Failed at that generation has always ended the wait.
     */
    private static Outcome beforeConditions(String volume, Placement placement, VolumeStatus status, String what,
            Reach reach, Predicate<VolumeStatus> carriedOut) {
        String node = placement.node();
        if (status.observedGeneration() < placement.generation()) {
            return new InProgress("the agent on " + node + " to " + what + " volume " + volume + " (generation "
                    + placement.generation() + ")");
        }
        return switch (status.phase()) {
            case READY -> carriedOut.test(status) ? new Done(placement, status, reach)
                    : new InProgress("the agent on " + node + " to " + what + " volume " + volume);
            case LOST -> new Failed(FailureReason.VOLUME_LOST, "volume " + volume + " is lost on " + node + ": "
                    + status.message());
            case FAILED -> new Failed(FailureReason.UNKNOWN, "the agent on " + node + " failed volume " + volume + ": "
                    + status.message());
            default -> new InProgress("the agent on " + node + " to " + what + " volume " + volume + " (now "
                    + status.phase().value() + ")");
        };
    }

    /** What a failure says in words: the condition's message, else the status's. */
    static String messageOf(Condition condition, String statusMessage) {
        return condition.message() != null ? condition.message() : statusMessage;
    }

    private static String messageOf(Condition condition, VolumeStatus status) {
        return messageOf(condition, status.message());
    }
}
