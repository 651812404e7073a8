package io.ferry.csi;

import io.ferry.csi.v1.VolumeCondition;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.Engine;
import io.ferry.model.Layout;
import io.ferry.model.NodeRegistration;
import io.ferry.model.Placement;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeParts;
import io.ferry.model.VolumeScheduling;
import io.ferry.model.VolumeStatus;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/** What the CSI volume calls answer of a multi-part volume from its parts (docs/layouts.md). */
class PartsAnswersTest {

    private static final Instant T = Instant.parse("2026-12-01T00:00:00Z");
    private static final long LEG = 64L << 20;
    private static final VolumeParts MIRROR = VolumeParts.of("db", Layout.MIRROR, List.of(
            new VolumeParts.Part("db--p0", 0, LEG), new VolumeParts.Part("db--p1", 1, LEG)),
            "6f1c1d2e-8a3b-4c5d-9e7f-0a1b2c3d4e5f", T);

    private final Map<String, Placement> placements = new HashMap<>();
    private final Map<String, Versioned<VolumeIntent>> intents = new HashMap<>();
    private final PartsAnswers answers = new PartsAnswers(new PartsProgress.Records() {
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
            return Optional.empty();
        }

        @Override
        public Optional<NodeRegistration> registration(String node) {
            return Optional.empty();
        }
    }, name -> Optional.ofNullable(intents.get(name)));

    private void place(String part, String node) {
        placements.put(part, Placement.of(part, "pool-" + node, node, Engine.LVM, LEG, false, 1, null, null, null, T));
    }

    private void writePartIntent(String part, long createRevision) {
        intents.put(part, new Versioned<>("/ferry/volumes/" + part, VolumeIntent.builder(part, LEG).partOf("db").build(),
                createRevision, createRevision, 1, 0));
    }

    @Test
    void theVolumeIsOnANodeOnlyWhenEveryPartIsPlacedThere() {
        place("db--p0", "node-a");
        assertThat(answers.sharedNode(MIRROR)).as("a part not placed yet").isNull();
        place("db--p1", "node-a");
        assertThat(answers.sharedNode(MIRROR)).isEqualTo("node-a");
        place("db--p1", "node-b");
        assertThat(answers.sharedNode(MIRROR)).isNull();
    }

    @Test
    void theVolumeIsAbnormalWhileAnyPartIsAndNamesEachAbnormalPart() {
        place("db--p0", "node-a");
        place("db--p1", "node-b");
        VolumeCondition fine = VolumeCondition.newBuilder().setAbnormal(false).setMessage("served").build();
        VolumeCondition down = VolumeCondition.newBuilder().setAbnormal(true).setMessage("the serving node node-b is down")
                .build();
        assertThat(answers.condition(MIRROR, part -> fine)).isEqualTo(VolumeCondition.newBuilder().setAbnormal(false)
                .setMessage("mirror of 2 parts, served by [node-a, node-b]").build());
        assertThat(answers.condition(MIRROR, part -> part.equals("db--p1") ? down : fine))
                .isEqualTo(VolumeCondition.newBuilder().setAbnormal(true)
                        .setMessage("part db--p1: the serving node node-b is down").build());
        assertThat(answers.condition(MIRROR, part -> down).getMessage())
                .isEqualTo("part db--p0: the serving node node-b is down; part db--p1: the serving node node-b is down");
        placements.remove("db--p1");
        assertThat(answers.condition(MIRROR, part -> fine).getMessage()).isEqualTo("mirror of 2 parts, served by [node-a, ?]");
    }

    @Test
    void partsCountForAnIntentOnlyWhenEveryPartsIntentIsNewerThanItAndNamesTheVolume() {
        writePartIntent("db--p0", 10);
        writePartIntent("db--p1", 10);
        assertThat(answers.created("db", 5, MIRROR).parts()).isEqualTo(MIRROR);
        assertThat(answers.created("db", 12, MIRROR).parts()).as("the parts of an earlier volume db").isNull();
        assertThat(answers.created("db", 5, null).parts()).isNull();
        intents.remove("db--p1");
        assertThat(answers.created("db", 5, MIRROR).parts()).as("a part's intent not delivered yet").isNull();
    }

    @Test
    void aPartIsNotAVolumeOfTheCo() {
        assertThat(PartsAnswers.isPart(VolumeIntent.builder("db--p0", LEG).partOf("db").build())).isTrue();
        assertThat(PartsAnswers.isPart(VolumeIntent.builder("db", LEG).layout(Layout.MIRROR).build())).isFalse();
    }

    @Test
    void aLegJoiningByAMoveIsNamedAsSuchAndCountsForTheIntentAndTheSharedNodeLikeAnyPart() {
        VolumeParts moving = MIRROR.withJoining(new VolumeParts.Part("db--p2", 2, LEG, null, "db--p0"));
        place("db--p0", "node-a");
        place("db--p1", "node-b");
        place("db--p2", "node-c");
        VolumeCondition fine = VolumeCondition.newBuilder().setAbnormal(false).setMessage("served").build();
        VolumeCondition down = VolumeCondition.newBuilder().setAbnormal(true).setMessage("its agent failed").build();

        assertThat(answers.condition(moving, part -> fine).getMessage())
                .isEqualTo("mirror of 2 parts, served by [node-a, node-b]; leg db--p2 on node-c joining to take over from db--p0");
        assertThat(answers.condition(moving, part -> part.equals("db--p2") ? down : fine).getMessage())
                .isEqualTo("part db--p2: its agent failed");
        assertThat(answers.sharedNode(moving)).isNull();

        writePartIntent("db--p0", 10);
        writePartIntent("db--p1", 10);
        // Placed long after the volume's creation, by the move.
        writePartIntent("db--p2", 90);
        assertThat(answers.created("db", 5, moving).parts()).isEqualTo(moving);
    }
}
