package io.ferry.csi;

import io.ferry.model.Condition;
import io.ferry.model.NodeRegistration;
import io.ferry.model.Placement;
import io.ferry.model.VolumeParts;
import io.ferry.model.VolumeProgress;
import io.ferry.model.VolumeScheduling;
import io.ferry.model.VolumeStatus;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Whether a request on a multi-part volume (docs/layouts.md) is done: {@link VolumeProgress}'s rule
 * applied to every part, since each part is an ordinary volume with its own placement and agent
 * status, and the volume itself has neither. A volume is created once {@code parts/<vol>} exists
 * and every part is Ready at its placement's generation, and served to a node once every part is.
 * One place for that composition, shared by the CSI controller calls and ferryctl's waits.
 *
 * <p>The controller writes {@code parts/<vol>} in the one transaction that places every part, so
 * until it exists no part is placed and the volume's own scheduling record says why it waits
 * (a NoFit counts the reasons of the part that did not fit).
 */
public final class PartsProgress {

    private PartsProgress() {
    }

    /** What the rule reads of each part: from a watched view, or from etcd directly. */
    public interface Records {
        Optional<VolumeScheduling> scheduling(String volume);

        Optional<Placement> placement(String volume);

        Optional<VolumeStatus> status(String node, String volume);

        Optional<NodeRegistration> registration(String node);
    }

    /**
     * One look at a multi-part volume: its parts record (null before the controller placed them),
     * and the outcome of each part in assembly order, or the volume's own while there are no parts.
     */
    public record Progress(VolumeParts parts, List<VolumeProgress.Outcome> outcomes) {
        public Progress {
            outcomes = List.copyOf(outcomes);
        }

        /**
         * The outcome that stands for the volume's, or null once every part is done: a failed
         * part's first, since it ends the wait whatever the others do, else the first part not done.
         */
        public VolumeProgress.Outcome pending() {
            VolumeProgress.Outcome unfinished = null;
            for (VolumeProgress.Outcome outcome : outcomes) {
                if (outcome instanceof VolumeProgress.Failed) {
                    return outcome;
                }
                if (unfinished == null && !(outcome instanceof VolumeProgress.Done)) {
                    unfinished = outcome;
                }
            }
            return unfinished;
        }

        /** Every part's outcome once {@link #pending()} is null, in assembly order. */
        public List<VolumeProgress.Done> done() {
            if (pending() != null) {
                throw new IllegalStateException("volume " + (parts == null ? "?" : parts.volume()) + " is not done");
            }
            return outcomes.stream().map(VolumeProgress.Done.class::cast).toList();
        }
    }

    /**
     * Created: every part Ready at its placement's generation. Before the parts exist, the volume's
     * own record decides (a terminal refusal of the intent asked for at {@code intentCreateRevision}).
     */
    public static Progress created(String volume, VolumeScheduling scheduling, long intentCreateRevision,
                                   VolumeParts parts, Records records) {
        if (parts == null) {
            return new Progress(null, List.of(VolumeProgress.created(volume, scheduling, intentCreateRevision, null, null)));
        }
        List<VolumeProgress.Outcome> outcomes = new ArrayList<>();
        for (String part : parts.partNames()) {
            Placement placement = records.placement(part).orElse(null);
            // A part's intent is the controller's own, written with the parts record: any refusal
            // recorded for it concerns this volume, so no revision needs to be told apart (0).
            outcomes.add(VolumeProgress.created(part, records.scheduling(part).orElse(null), 0, placement,
                    placement == null ? null : records.status(placement.node(), part).orElse(null)));
        }
        return new Progress(parts, outcomes);
    }

    /**
     * Served to {@code node} (initiator {@code hostNqn}): every part reached as {@link io.ferry.model.Reach}
     * decides for it, exactly as {@link VolumeProgress#servedTo} judges a single volume.
     *
     * @param consumer {@code node}'s registration, null when it is not registered
     */
    public static Progress servedTo(String volume, VolumeParts parts, String node, String hostNqn,
                                    NodeRegistration consumer, boolean localNeedsDevice, Records records) {
        if (parts == null) {
            return new Progress(null, List.of(new VolumeProgress.InProgress("the controller to place the parts of volume "
                    + volume)));
        }
        List<VolumeProgress.Outcome> outcomes = new ArrayList<>();
        for (String part : parts.partNames()) {
            Placement placement = records.placement(part).orElse(null);
            outcomes.add(VolumeProgress.servedTo(part, placement,
                    placement == null ? null : records.status(placement.node(), part).orElse(null), node, hostNqn,
                    placement == null ? null : records.registration(placement.node()).orElse(null), consumer,
                    localNeedsDevice));
        }
        return new Progress(parts, outcomes);
    }

    /**
     * Grown to {@code sizeBytes}: the parts record assembles that many bytes (the controller grew it
     * once every part had room) and every part reports the size the record gives it, as
     * {@link VolumeProgress#grown} judges one. Until the record has grown, the volume's own record
     * decides: a refusal of this very size for want of room ends the wait, as does a volume whose
     * parts could never be placed.
     */
    public static Progress grown(String volume, VolumeScheduling scheduling, VolumeParts parts, long sizeBytes,
                                 Records records) {
        if (parts == null) {
            // Never placed: the volume's record says whether it ever will be (a NoFit ends the wait).
            VolumeProgress.Outcome placing = VolumeProgress.created(volume, scheduling, 0, null, null);
            return new Progress(null, List.of(placing instanceof VolumeProgress.Failed ? placing
                    : new VolumeProgress.InProgress("the controller to place the parts of volume " + volume)));
        }
        if (parts.assembledBytes() < sizeBytes) {
            Condition refused = scheduling == null || scheduling.growRefusedBytes() != sizeBytes ? null
                    : scheduling.condition(Condition.RESIZED).filter(c -> !c.status() && c.failureReason().terminal())
                    .orElse(null);
            return new Progress(parts, List.of(refused != null
                    ? new VolumeProgress.Failed(refused.failureReason(), refused.message())
                    : new VolumeProgress.InProgress("the controller to grow the parts of volume " + volume + " to "
                    + sizeBytes + " bytes")));
        }
        List<VolumeProgress.Outcome> outcomes = new ArrayList<>();
        for (VolumeParts.Part part : parts.parts()) {
            Placement placement = records.placement(part.name()).orElse(null);
            outcomes.add(VolumeProgress.grown(part.name(), records.scheduling(part.name()).orElse(null), placement,
                    placement == null ? null : records.status(placement.node(), part.name()).orElse(null),
                    part.sizeBytes()));
        }
        return new Progress(parts, outcomes);
    }

    /**
     * Cut off from every host no attachment of the volume names any more ({@code attachedHosts}
     * remain): every part's serving node confirms it, as {@link VolumeProgress#cutOff} judges one.
     * A volume whose parts were never placed has nothing to cut.
     */
    public static Progress cutOff(VolumeParts parts, Set<String> attachedHosts, Records records) {
        if (parts == null) {
            return new Progress(null, List.of(new VolumeProgress.Done(null, null)));
        }
        List<VolumeProgress.Outcome> outcomes = new ArrayList<>();
        for (String part : parts.partNames()) {
            Placement placement = records.placement(part).orElse(null);
            outcomes.add(VolumeProgress.cutOff(part, placement,
                    placement == null ? null : records.status(placement.node(), part).orElse(null), attachedHosts,
                    placement == null ? null : records.registration(placement.node()).orElse(null)));
        }
        return new Progress(parts, outcomes);
    }

    /** The parts' records as a whole-cluster {@link ClusterView} holds them. */
    static Records of(ClusterView view) {
        return new Records() {
            @Override
            public Optional<VolumeScheduling> scheduling(String volume) {
                return view.volumeScheduling(volume);
            }

            @Override
            public Optional<Placement> placement(String volume) {
                return view.placement(volume);
            }

            @Override
            public Optional<VolumeStatus> status(String node, String volume) {
                return view.volumeStatus(node, volume);
            }

            @Override
            public Optional<NodeRegistration> registration(String node) {
                return view.registration(node);
            }
        };
    }
}
