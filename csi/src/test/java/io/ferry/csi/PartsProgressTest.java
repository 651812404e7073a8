package io.ferry.csi;

import io.ferry.model.Condition;
import io.ferry.model.Engine;
import io.ferry.model.ExportInfo;
import io.ferry.model.FailureReason;
import io.ferry.model.Layout;
import io.ferry.model.NodeRegistration;
import io.ferry.model.Placement;
import io.ferry.model.Reach;
import io.ferry.model.SchedulingPhase;
import io.ferry.model.VolumeParts;
import io.ferry.model.VolumePhase;
import io.ferry.model.VolumeProgress;
import io.ferry.model.VolumeScheduling;
import io.ferry.model.VolumeStatus;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The rule for a multi-part volume (docs/layouts.md): every part judged as a single volume is. */
class PartsProgressTest {

    private static final Instant T = Instant.parse("2026-12-01T00:00:00Z");
    private static final long LEG = 64L << 20;
    private static final String HOST = "nqn.2014-08.org.nvmexpress:uuid:consumer";
    private static final VolumeParts MIRROR = VolumeParts.of("db", Layout.MIRROR, List.of(
            new VolumeParts.Part("db--p0", 0, LEG), new VolumeParts.Part("db--p1", 1, LEG)),
            "6f1c1d2e-8a3b-4c5d-9e7f-0a1b2c3d4e5f", T);

    private final Records records = new Records();

    @Test
    void beforeThePartsArePlacedTheVolumesOwnRecordDecides() {
        assertThat(PartsProgress.created("db", null, 5, null, records).pending())
                .isEqualTo(new VolumeProgress.InProgress("the controller to place volume db"));
        VolumeScheduling noFit = VolumeScheduling.of("db", SchedulingPhase.NO_FIT, Map.of("fewer node domains than legs", 1),
                "no room for leg 1", null, null, true, 5, T).withConditions(List.of(Condition.failed(Condition.SCHEDULED,
                FailureReason.NO_FIT, "no room for leg 1", 5, 0)));
        assertThat(PartsProgress.created("db", noFit, 5, null, records).pending())
                .isEqualTo(new VolumeProgress.Failed(FailureReason.NO_FIT, "no room for leg 1"));
        assertThat(PartsProgress.created("db", noFit, 6, null, records).pending())
                .as("a refusal of an older volume of that name").isInstanceOf(VolumeProgress.InProgress.class);
    }

    @Test
    void aVolumeIsCreatedOnlyOnceEveryPartIsReadyAtItsPlacementsGeneration() {
        records.place("db--p0", "node-a", 1);
        records.place("db--p1", "node-b", 2);
        records.report("db--p0", "node-a", VolumePhase.READY, 1, null);
        records.report("db--p1", "node-b", VolumePhase.READY, 1, null);
        PartsProgress.Progress progress = PartsProgress.created("db", null, 5, MIRROR, records);
        assertThat(progress.pending()).isInstanceOf(VolumeProgress.InProgress.class);
        assertThat(((VolumeProgress.InProgress) progress.pending()).waitingFor()).contains("db--p1").contains("node-b");
        assertThatThrownBy(progress::done).isInstanceOf(IllegalStateException.class);

        records.report("db--p1", "node-b", VolumePhase.READY, 2, null);
        progress = PartsProgress.created("db", null, 5, MIRROR, records);
        assertThat(progress.pending()).isNull();
        assertThat(progress.done()).extracting(d -> d.placement().node()).containsExactly("node-a", "node-b");
        assertThat(progress.parts()).isEqualTo(MIRROR);
    }

    @Test
    void aFailedPartEndsTheWaitWhileAnotherIsStillUnfinished() {
        records.place("db--p0", "node-a", 1);
        records.place("db--p1", "node-b", 1);
        records.report("db--p1", "node-b", VolumePhase.LOST, 1, null);
        VolumeProgress.Outcome pending = PartsProgress.created("db", null, 5, MIRROR, records).pending();
        assertThat(pending).isInstanceOf(VolumeProgress.Failed.class);
        assertThat(((VolumeProgress.Failed) pending).reason()).isEqualTo(FailureReason.VOLUME_LOST);
        assertThat(((VolumeProgress.Failed) pending).message()).contains("db--p1");
    }

    @Test
    void aVolumeIsServedToANodeOnlyOnceEveryPartIsEachTheWayItsReachSays() {
        records.place("db--p0", "node-a", 1);
        records.place("db--p1", "node-b", 1);
        records.report("db--p0", "node-a", VolumePhase.READY, 1, null);
        records.report("db--p1", "node-b", VolumePhase.READY, 1, export("db--p1", HOST));
        NodeRegistration consumer = registration("node-a");
        assertThat(PartsProgress.servedTo("db", null, "node-a", HOST, consumer, false, records).pending())
                .isEqualTo(new VolumeProgress.InProgress("the controller to place the parts of volume db"));

        PartsProgress.Progress progress = PartsProgress.servedTo("db", MIRROR, "node-a", HOST, consumer, false, records);
        assertThat(progress.pending()).isNull();
        assertThat(progress.done()).extracting(VolumeProgress.Done::reach).containsExactly(Reach.LOCAL, Reach.EXPORT);

        // Served to another node: the part local to node-a must now be exported to that host too.
        String other = "nqn.2014-08.org.nvmexpress:uuid:other";
        progress = PartsProgress.servedTo("db", MIRROR, "node-c", other, registration("node-c"), false, records);
        assertThat(((VolumeProgress.InProgress) progress.pending()).waitingFor()).contains("export to node-c")
                .contains("db--p0");
    }

    @Test
    void aDetachedHostIsCutOffOnlyOnceEveryPartsNodeConfirmsIt() {
        records.place("db--p0", "node-a", 1);
        records.place("db--p1", "node-b", 1);
        records.report("db--p0", "node-a", VolumePhase.READY, 1, null);
        records.report("db--p1", "node-b", VolumePhase.READY, 1, export("db--p1", HOST));
        assertThat(PartsProgress.cutOff(MIRROR, Set.of(HOST), records).pending()).isNull();
        assertThat(PartsProgress.cutOff(MIRROR, Set.of(), records).pending()).isInstanceOf(VolumeProgress.InProgress.class);
        records.report("db--p1", "node-b", VolumePhase.READY, 1, null);
        assertThat(PartsProgress.cutOff(MIRROR, Set.of(), records).pending()).isNull();
        assertThat(PartsProgress.cutOff(null, Set.of(), records).pending()).as("nothing placed, nothing to cut").isNull();
    }

    @Test
    void whileALegMovesTheJoiningLegIsWaitedForLikeEveryOtherAndTheSizeIsOneLegs() {
        VolumeParts moving = MIRROR.withJoining(new VolumeParts.Part("db--p2", 2, LEG, null, "db--p0"));
        records.place("db--p0", "node-a", 1);
        records.place("db--p1", "node-b", 1);
        records.place("db--p2", "node-c", 1);
        records.report("db--p0", "node-a", VolumePhase.READY, 1, null);
        records.report("db--p1", "node-b", VolumePhase.READY, 1, export("db--p1", HOST));
        NodeRegistration consumer = registration("node-a");

        assertThat(((VolumeProgress.InProgress) PartsProgress.created("db", null, 5, moving, records).pending())
                .waitingFor()).contains("db--p2");
        records.report("db--p2", "node-c", VolumePhase.READY, 1, null);
        assertThat(PartsProgress.created("db", null, 5, moving, records).pending()).isNull();
        assertThat(((VolumeProgress.InProgress) PartsProgress.servedTo("db", moving, "node-a", HOST, consumer, false,
                records).pending()).waitingFor()).contains("db--p2");

        records.report("db--p2", "node-c", VolumePhase.READY, 1, export("db--p2", HOST));
        PartsProgress.Progress served = PartsProgress.servedTo("db", moving, "node-a", HOST, consumer, false, records);
        assertThat(served.done()).extracting(VolumeProgress.Done::reach)
                .containsExactly(Reach.LOCAL, Reach.EXPORT, Reach.EXPORT);
        assertThat(served.parts().assembledBytes()).as("an extra copy, not more room").isEqualTo(MIRROR.assembledBytes());
    }

    private static NodeRegistration registration(String node) {
        return NodeRegistration.of(node, "10.0.0.1", "10.0.0.1:7361", "nqn.2014-08.org.nvmexpress:uuid:" + node,
                Set.of(Engine.FILE), Map.of(), "test", T);
    }

    private static ExportInfo export(String part, String host) {
        return ExportInfo.tcp("nqn.2026-12.io.ferry:" + part, "10.0.0.2", 4420, "serial-" + part, Set.of(host));
    }

    /** The records of the parts, as a view or ferryctl would read them. */
    private static final class Records implements PartsProgress.Records {
        final Map<String, Placement> placements = new HashMap<>();
        final Map<String, VolumeStatus> statuses = new HashMap<>();

        void place(String part, String node, long generation) {
            placements.put(part, Placement.of(part, "pool-" + node, node, Engine.LVM, LEG, false, generation, null, null,
                    null, T));
        }

        void report(String part, String node, VolumePhase phase, long generation, ExportInfo export) {
            statuses.put(node + "/" + part, VolumeStatus.of(part, node, "pool-" + node, phase, "/dev/ferry/" + part, LEG,
                    export, generation, phase == VolumePhase.LOST ? "the LV is gone" : null, T));
        }

        @Override
        public Optional<VolumeScheduling> scheduling(String volume) {
            return Optional.empty();
        }

        @Override
        public Optional<Placement> placement(String volume) {
            return Optional.ofNullable(placements.get(volume));
        }

        @Override
        public Optional<VolumeStatus> status(String node, String volume) {
            return Optional.ofNullable(statuses.get(node + "/" + volume));
        }

        @Override
        public Optional<NodeRegistration> registration(String node) {
            return Optional.of(PartsProgressTest.registration(node));
        }
    }
}
