package io.ferry.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class LayoutRulesTest {
    private static final Instant T = Instant.parse("2026-12-01T03:00:00Z");
    private static final String UUID = "5f0c2c1e-8f0e-4a55-9b1d-2a8c3d4e5f60";

    private static String msg(String json, Class<?> type) {
        return RulesTest.msg(json, type);
    }

    @Test
    void anIntentWithoutLayoutIsASingleVolumeOfOnePart() {
        VolumeIntent v = Json.decode("{\"name\":\"v\",\"sizeBytes\":\"1Gi\"}", VolumeIntent.class);
        assertThat(v.layout()).isEqualTo(Layout.SINGLE);
        assertThat(v.parts()).isEqualTo(1);
        assertThat(v.partOf()).isNull();
    }

    @Test
    void aMirrorDefaultsToTwoLegsAndTakesThree() {
        assertThat(Json.decode("{\"name\":\"v\",\"sizeBytes\":\"1Gi\",\"layout\":\"mirror\"}", VolumeIntent.class).parts())
                .isEqualTo(2);
        assertThat(Json.decode("{\"name\":\"v\",\"sizeBytes\":\"1Gi\",\"layout\":\"Mirror\",\"parts\":3}",
                VolumeIntent.class).parts()).isEqualTo(3);
        assertThat(msg("{\"name\":\"v\",\"sizeBytes\":\"1Gi\",\"layout\":\"mirror\",\"parts\":4}", VolumeIntent.class))
                .isEqualTo("parts: a mirror volume has 2 to 3 parts, not 4");
        assertThat(msg("{\"name\":\"v\",\"sizeBytes\":\"1Gi\",\"parts\":2}", VolumeIntent.class))
                .isEqualTo("parts: a single volume has exactly 1 parts, not 2");
        assertThat(msg("{\"name\":\"v\",\"sizeBytes\":\"1Gi\",\"layout\":\"raid5\"}", VolumeIntent.class))
                .contains("\"raid5\" is not a known layout (allowed: single, linear, striped, mirror)");
    }

    @Test
    void aLinearVolumesPartCountIsABoundAndOneSegmentIsALinearVolumeToo() {
        assertThat(VolumeIntent.builder("v", 1).layout(Layout.LINEAR).build().parts()).isEqualTo(2);
        assertThat(VolumeIntent.builder("v", 1).layout(Layout.LINEAR).parts(1).build().parts()).isEqualTo(1);
        assertThat(msg("{\"name\":\"v\",\"sizeBytes\":\"1Gi\",\"layout\":\"linear\",\"parts\":5}", VolumeIntent.class))
                .isEqualTo("parts: a linear volume has 1 to 4 parts, not 5");
        VolumeParts one = VolumeParts.of("v", Layout.LINEAR, List.of(new VolumeParts.Part("v--p0", 0, 1L << 30)), null, T);
        assertThat(one.assembledBytes()).isEqualTo(1L << 30);
    }

    @Test
    void aMultiPartVolumeLeavesRoomInItsNameForItsParts() {
        String longest = "v".repeat(PartNames.MAX_VOLUME_NAME_LENGTH);
        VolumeIntent v = VolumeIntent.builder(longest, 1).layout(Layout.LINEAR).build();
        assertThat(PartNames.of(v.name(), 99)).hasSize(Names.MAX_NAME_LENGTH);
        assertThatThrownBy(() -> VolumeIntent.builder(longest + "v", 1).layout(Layout.LINEAR).build())
                .hasMessageStartingWith("name: a linear volume's name is at most 58 characters");
        assertThat(VolumeIntent.builder(longest + "v", 1).build().name()).hasSize(59);
    }

    @ParameterizedTest
    @ValueSource(strings = {"v--p0", "v--p7", "db--p12"})
    void aNameOfAPartsShapeIsRefusedForAVolumeOfItsOwn(String name) {
        assertThatThrownBy(() -> VolumeIntent.builder(name, 1).build())
                .hasMessageContaining("reserved for the parts the controller derives");
    }

    @ParameterizedTest
    @ValueSource(strings = {"v--p", "v--p01", "v--px", "v-p0", "v--p100"})
    void namesMerelyLikeAPartsAreVolumesOfTheirOwn(String name) {
        assertThat(VolumeIntent.builder(name, 1).build().name()).isEqualTo(name);
    }

    @Test
    void aPartIntentNamesItsVolumeAndIsSingle() {
        VolumeIntent part = VolumeIntent.builder("db--p1", 1).partOf("db").build();
        assertThat(PartNames.parse(part.name())).contains(new PartNames.Part("db", 1));
        assertThatThrownBy(() -> VolumeIntent.builder("db--p1", 1).partOf("other").build())
                .hasMessageStartingWith("partOf: \"db--p1\" is not a part of other");
        assertThatThrownBy(() -> VolumeIntent.builder("plain", 1).partOf("db").build())
                .hasMessageStartingWith("partOf:");
        assertThatThrownBy(() -> VolumeIntent.builder("db--p1", 1).partOf("db").layout(Layout.MIRROR).build())
                .hasMessageStartingWith("partOf:");
        VolumeIntent decoded = Json.decode(Json.encode(part), VolumeIntent.class);
        assertThat(decoded).isEqualTo(part);
    }

    @Test
    void aMultiPartVolumeIsMadeEmptyNeverFromASourceOrAnAdoption() {
        assertThatThrownBy(() -> VolumeIntent.builder("v", 1).layout(Layout.MIRROR).sourceSnapshot("s").build())
                .hasMessageContaining("cannot be made from a snapshot or a clone yet");
        assertThatThrownBy(() -> VolumeIntent.builder("v", 1).layout(Layout.MIRROR).sourceVolume("w").build())
                .hasMessageContaining("cannot be made from a snapshot or a clone yet");
        assertThatThrownBy(() -> VolumeIntent.builder("v", 1).layout(Layout.LINEAR).adoptFromNode("n1").build())
                .hasMessageContaining("only a single volume can be adopted");
    }

    @Test
    void partsRecordRoundTripsAndSizesTheAssembledDevice() {
        VolumeParts mirror = VolumeParts.of("db", Layout.MIRROR, List.of(new VolumeParts.Part("db--p0", 0, 1L << 30),
                new VolumeParts.Part("db--p1", 1, 1L << 30)), UUID, T);
        assertThat(Json.decode(Json.encode(mirror), VolumeParts.class)).isEqualTo(mirror);
        assertThat(mirror.assembledBytes()).isEqualTo((1L << 30) - VolumeParts.MIRROR_RESERVED_BYTES);
        assertThat(VolumeParts.mirrorLegBytes(1L << 30)).isEqualTo((1L << 30) + (4L << 20));
        assertThat(mirror.partNames()).containsExactly("db--p0", "db--p1");
        VolumeParts linear = VolumeParts.of("big", Layout.LINEAR, List.of(new VolumeParts.Part("big--p0", 0, 3L << 30),
                new VolumeParts.Part("big--p1", 1, 1L << 30)), null, T);
        assertThat(linear.assembledBytes()).isEqualTo(4L << 30);
    }

    @Test
    void partsRecordRefusesWhatCouldAssembleTheWrongDevices() {
        VolumeParts.Part p0 = new VolumeParts.Part("db--p0", 0, 1L << 30);
        assertThatThrownBy(() -> VolumeParts.of("db", Layout.MIRROR, List.of(p0, new VolumeParts.Part("xx--p1", 1, 1L << 30)),
                UUID, T)).hasMessageContaining("is not the name of part 1 of db");
        assertThatThrownBy(() -> VolumeParts.of("db", Layout.MIRROR, List.of(p0, new VolumeParts.Part("db--p1", 1, 2L << 30)),
                UUID, T)).hasMessageContaining("the legs of a mirror are all the volume's size");
        VolumeParts.Part tiny = new VolumeParts.Part("db--p0", 0, 4L << 20);
        assertThatThrownBy(() -> VolumeParts.of("db", Layout.MIRROR, List.of(tiny, new VolumeParts.Part("db--p1", 1, 4L << 20)),
                UUID, T)).hasMessageContaining("must be larger than that");
        assertThatThrownBy(() -> VolumeParts.of("db", Layout.MIRROR, List.of(p0, p0), UUID, T))
                .hasMessageContaining("two parts share an index");
        assertThatThrownBy(() -> VolumeParts.of("db", Layout.MIRROR, List.of(p0, new VolumeParts.Part("db--p1", 1, 1L << 30)),
                "not-a-uuid", T)).hasMessageContaining("is not a UUID");
        assertThatThrownBy(() -> VolumeParts.of("db", Layout.MIRROR, List.of(p0), UUID, T))
                .hasMessageContaining("a mirror volume has 2 to 3 parts, not 1");
        assertThatThrownBy(() -> VolumeParts.of("db", Layout.SINGLE, List.of(p0), null, T))
                .hasMessageContaining("single has no parts record");
        assertThat(msg("{\"volume\":\"db\",\"layout\":\"linear\",\"parts\":[{\"name\":\"db--p0\",\"index\":0,"
                + "\"sizeBytes\":1},{\"name\":\"db--p1\",\"index\":1,\"sizeBytes\":1}],\"arrayUuid\":\"" + UUID
                + "\",\"placedAt\":\"2026-12-01T03:00:00Z\"}", VolumeParts.class))
                .contains("only a mirror has an array");
    }

    @Test
    void anOperatorDeclaresOnlyThisMirrorsOwnLegsLost() {
        VolumeIntent v = Json.decode("{\"name\":\"v\",\"sizeBytes\":\"1Gi\",\"layout\":\"mirror\","
                + "\"lostParts\":[\"v--p1\",\"v--p1\"]}", VolumeIntent.class);
        assertThat(v.lostParts()).containsExactly("v--p1");
        assertThat(v.withLostPart("v--p1")).isSameAs(v);
        assertThat(v.withLostPart("v--p0").lostParts()).containsExactly("v--p1", "v--p0");
        assertThat(Json.encodeToString(VolumeIntent.builder("w", 1).build())).doesNotContain("lostParts");
        assertThat(msg("{\"name\":\"v\",\"sizeBytes\":\"1Gi\",\"layout\":\"mirror\",\"lostParts\":[\"w--p1\"]}",
                VolumeIntent.class)).startsWith("lostParts[0]: \"w--p1\" is not a part of v");
        assertThat(msg("{\"name\":\"v\",\"sizeBytes\":\"1Gi\",\"layout\":\"mirror\",\"lostParts\":[\"../p1\"]}",
                VolumeIntent.class)).startsWith("lostParts[0]: \"../p1\" is not a part of v");
        assertThat(msg("{\"name\":\"v\",\"sizeBytes\":\"1Gi\",\"layout\":\"linear\",\"lostParts\":[\"v--p1\"]}",
                VolumeIntent.class)).startsWith("lostParts: only a mirror's legs can be replaced");
    }

    @Test
    void aReplacedLegIsRetiredAndItsReplacementTakesItsPlaceUnderANewIndex() {
        long leg = VolumeParts.mirrorLegBytes(1L << 30);
        VolumeParts parts = VolumeParts.of("v", Layout.MIRROR, List.of(new VolumeParts.Part("v--p0", 0, leg),
                new VolumeParts.Part("v--p1", 1, leg)), UUID, T);
        assertThat(parts.nextIndex()).isEqualTo(2);
        VolumeParts replaced = parts.withReplacement("v--p0", new VolumeParts.Part("v--p2", 2, leg, "v--p0"));
        assertThat(replaced.partNames()).containsExactly("v--p2", "v--p1");
        assertThat(replaced.allPartNames()).containsExactly("v--p2", "v--p1", "v--p0");
        assertThat(replaced.isRetired("v--p0")).isTrue();
        assertThat(replaced.isRetired("v--p1")).isFalse();
        assertThat(replaced.nextIndex()).isEqualTo(3);
        assertThat(Json.decode(Json.encode(replaced), VolumeParts.class)).isEqualTo(replaced);
        assertThat(Json.encodeToString(parts)).doesNotContain("retired").doesNotContain("replaces");
        assertThatThrownBy(() -> parts.withReplacement("v--p7", new VolumeParts.Part("v--p2", 2, leg, "v--p7")))
                .hasMessageContaining("\"v--p7\" is not a member of v");
        // A replacement's index must be new, and what it replaces must be a retired leg.
        assertThatThrownBy(() -> parts.withReplacement("v--p0", new VolumeParts.Part("v--p1", 1, leg, "v--p0")))
                .hasMessageContaining("two parts share an index");
        assertThatThrownBy(() -> VolumeParts.of("v", Layout.MIRROR, List.of(new VolumeParts.Part("v--p0", 0, leg),
                new VolumeParts.Part("v--p2", 2, leg, "v--p1")), UUID, T)).hasMessageContaining("not a retired leg of v");
        assertThatThrownBy(() -> new VolumeParts(1, "v", Layout.LINEAR, List.of(new VolumeParts.Part("v--p0", 0, leg)),
                null, T, List.of(new VolumeParts.Part("v--p1", 1, leg)))).hasMessageContaining("only a mirror's legs");
    }

    @Test
    void aStripedVolumeIsSizedInWholeStripesOfEqualSize() {
        long mib = 1L << 20;
        VolumeIntent v = Json.decode("{\"name\":\"v\",\"sizeBytes\":\"100Mi\",\"layout\":\"striped\",\"parts\":3}",
                VolumeIntent.class);
        assertThat(v.sizeBytes()).as("100Mi rounds up to 3 stripes of 36Mi").isEqualTo(108 * mib);
        assertThat(VolumeIntent.volumeSize(Layout.STRIPED, 2, 1)).isEqualTo(8 * mib);
        assertThat(VolumeIntent.volumeSize(Layout.LINEAR, 3, 1)).isEqualTo(4 * mib);
        assertThat(VolumeIntent.volumeSize(Layout.STRIPED, 4, 64 * mib)).isEqualTo(64 * mib);
        assertThat(msg("{\"name\":\"v\",\"sizeBytes\":\"1Pi\",\"layout\":\"striped\",\"parts\":3}", VolumeIntent.class))
                .contains("for 3 equal stripes, which exceeds the largest volume size");
        assertThat(msg("{\"name\":\"v\",\"sizeBytes\":\"1Gi\",\"layout\":\"striped\",\"parts\":5}", VolumeIntent.class))
                .startsWith("parts: a striped volume has 2 to 4 parts, not 5");
        assertThat(msg("{\"name\":\"v\",\"sizeBytes\":\"1Gi\",\"layout\":\"striped\",\"lostParts\":[\"v--p1\"]}",
                VolumeIntent.class)).startsWith("lostParts: only a mirror's legs can be replaced");
        long stripe = 512 * mib;
        assertThatThrownBy(() -> VolumeParts.of("v", Layout.STRIPED, List.of(new VolumeParts.Part("v--p0", 0, stripe),
                new VolumeParts.Part("v--p1", 1, stripe + 4 * mib)), null, T))
                .hasMessageContaining("the stripes of a striped volume are all the same size");
        assertThat(VolumeParts.of("v", Layout.STRIPED, List.of(new VolumeParts.Part("v--p0", 0, stripe),
                new VolumeParts.Part("v--p1", 1, stripe)), null, T).assembledBytes()).isEqualTo(1L << 30);
    }

    @Test
    void growingGrowsEveryLegEveryStripeOrTheLastSegmentAndNeverShrinks() {
        long mib = 1L << 20;
        long leg = VolumeParts.mirrorLegBytes(1L << 30);
        VolumeParts mirror = VolumeParts.of("v", Layout.MIRROR, List.of(new VolumeParts.Part("v--p0", 0, leg),
                new VolumeParts.Part("v--p1", 1, leg)), UUID, T)
                .withReplacement("v--p1", new VolumeParts.Part("v--p2", 2, leg, "v--p1"));
        VolumeParts grownMirror = mirror.grownTo(2L << 30);
        assertThat(grownMirror.parts()).extracting(VolumeParts.Part::sizeBytes)
                .containsOnly(VolumeParts.mirrorLegBytes(2L << 30));
        assertThat(grownMirror.member("v--p2").orElseThrow().replaces()).isEqualTo("v--p1");
        assertThat(grownMirror.retired()).as("a retired leg keeps its size").extracting(VolumeParts.Part::sizeBytes)
                .containsOnly(leg);
        assertThat(grownMirror.assembledBytes()).isEqualTo(2L << 30);

        VolumeParts striped = VolumeParts.of("s", Layout.STRIPED, List.of(new VolumeParts.Part("s--p0", 0, 8 * mib),
                new VolumeParts.Part("s--p1", 1, 8 * mib)), null, T);
        assertThat(striped.grownTo(24 * mib).parts()).extracting(VolumeParts.Part::sizeBytes).containsOnly(12 * mib);
        assertThatThrownBy(() -> striped.grownTo(20 * mib)).hasMessageContaining("is not 2 equal stripes");

        VolumeParts linear = VolumeParts.of("l", Layout.LINEAR, List.of(new VolumeParts.Part("l--p0", 0, 40 * mib),
                new VolumeParts.Part("l--p1", 1, 8 * mib)), null, T);
        assertThat(linear.grownTo(64 * mib).parts()).extracting(VolumeParts.Part::sizeBytes).containsExactly(40 * mib, 24 * mib);
        assertThatThrownBy(() -> linear.grownTo(32 * mib)).hasMessageContaining("cannot shrink");
        assertThat(linear.grownTo(48 * mib)).isEqualTo(linear);
    }
    @Test
    void aMovingLegJoinsAsAnExtraMemberThenTakesItsSourcesPlaceOrIsRetired() {
        long leg = VolumeParts.mirrorLegBytes(1L << 30);
        VolumeParts parts = VolumeParts.of("v", Layout.MIRROR, List.of(new VolumeParts.Part("v--p0", 0, leg),
                new VolumeParts.Part("v--p1", 1, leg)), UUID, T);
        assertThat(parts.joining()).isEmpty();
        VolumeParts.Part joining = new VolumeParts.Part("v--p2", 2, leg, null, "v--p0");
        VolumeParts moving = parts.withJoining(joining);
        assertThat(moving.partNames()).containsExactly("v--p0", "v--p1", "v--p2");
        assertThat(moving.joining()).contains(joining);
        assertThat(joining.placedBlank()).isTrue();
        assertThat(moving.nextIndex()).isEqualTo(3);
        assertThat(Json.decode(Json.encode(moving), VolumeParts.class)).isEqualTo(moving);
        assertThat(Json.encodeToString(parts)).doesNotContain("movesFrom");

        VolumeParts done = moving.withMoveDone();
        assertThat(done.partNames()).as("the joining leg takes its source's slot").containsExactly("v--p2", "v--p1");
        assertThat(done.member("v--p2").orElseThrow()).isEqualTo(new VolumeParts.Part("v--p2", 2, leg, "v--p0", null));
        assertThat(done.isRetired("v--p0")).isTrue();
        assertThat(done.joining()).isEmpty();
        assertThat(done.allPartNames()).containsExactly("v--p2", "v--p1", "v--p0");
        assertThat(Json.decode(Json.encode(done), VolumeParts.class)).isEqualTo(done);

        VolumeParts cancelled = moving.withMoveCancelled();
        assertThat(cancelled.partNames()).containsExactly("v--p0", "v--p1");
        assertThat(cancelled.isRetired("v--p2")).isTrue();
        assertThat(cancelled.joining()).isEmpty();
        assertThat(cancelled.nextIndex()).as("the given-up leg's name is never reused").isEqualTo(3);

        assertThatThrownBy(parts::withMoveDone).hasMessageContaining("no leg of v is moving");
        assertThatThrownBy(parts::withMoveCancelled).hasMessageContaining("no leg of v is moving");
        assertThatThrownBy(() -> parts.withJoining(new VolumeParts.Part("v--p2", 2, leg)))
                .hasMessageContaining("names the member it moves from");
    }

    @Test
    void aMirrorMovesOneLegAtATimeFromAMemberWithinItsLegCount() {
        long leg = VolumeParts.mirrorLegBytes(1L << 30);
        VolumeParts.Part p0 = new VolumeParts.Part("v--p0", 0, leg);
        VolumeParts.Part p1 = new VolumeParts.Part("v--p1", 1, leg);
        VolumeParts parts = VolumeParts.of("v", Layout.MIRROR, List.of(p0, p1), UUID, T);
        VolumeParts moving = parts.withJoining(new VolumeParts.Part("v--p2", 2, leg, null, "v--p0"));
        assertThatThrownBy(() -> moving.withJoining(new VolumeParts.Part("v--p3", 3, leg, null, "v--p1")))
                .hasMessageContaining("moves one leg at a time, not 2");
        assertThatThrownBy(() -> parts.withJoining(new VolumeParts.Part("v--p2", 2, leg, null, "v--p7")))
                .hasMessageContaining("moves from \"v--p7\", which is not a member of v");
        VolumeParts replaced = parts.withReplacement("v--p1", new VolumeParts.Part("v--p3", 3, leg, "v--p1"));
        assertThatThrownBy(() -> replaced.withJoining(new VolumeParts.Part("v--p4", 4, leg, null, "v--p1")))
                .as("a retired leg is no member to move from").hasMessageContaining("which is not a member of v");
        assertThatThrownBy(() -> VolumeParts.of("v", Layout.MIRROR, List.of(p0, p1,
                new VolumeParts.Part("v--p2", 2, leg, null, "v--p2")), UUID, T)).hasMessageContaining("cannot move from itself");

        // The joining leg is one over the layout's count: three legs and a fourth joining, but not a lone leg and one joining.
        VolumeParts three = VolumeParts.of("v", Layout.MIRROR, List.of(p0, p1, new VolumeParts.Part("v--p2", 2, leg)), UUID, T);
        assertThat(three.withJoining(new VolumeParts.Part("v--p3", 3, leg, null, "v--p2")).parts()).hasSize(4);
        assertThatThrownBy(() -> VolumeParts.of("v", Layout.MIRROR, List.of(p0, p1, new VolumeParts.Part("v--p2", 2, leg),
                new VolumeParts.Part("v--p3", 3, leg)), UUID, T)).hasMessageContaining("a mirror volume has 2 to 3 parts, not 4");
        assertThatThrownBy(() -> VolumeParts.of("v", Layout.MIRROR, List.of(p0,
                new VolumeParts.Part("v--p1", 1, leg, null, "v--p0")), UUID, T)).hasMessageContaining("2 to 3 parts, not 2");
        assertThatThrownBy(() -> VolumeParts.of("l", Layout.LINEAR, List.of(new VolumeParts.Part("l--p0", 0, leg),
                new VolumeParts.Part("l--p1", 1, leg, null, "l--p0")), null, T)).hasMessageContaining("only a mirror's legs move");
        // A moving mirror grows with its joining leg, which keeps moving.
        VolumeParts grown = moving.grownTo(2L << 30);
        assertThat(grown.joining().orElseThrow().movesFrom()).isEqualTo("v--p0");
        assertThat(grown.parts()).extracting(VolumeParts.Part::sizeBytes).containsOnly(VolumeParts.mirrorLegBytes(2L << 30));
    }

    @Test
    void anOperatorMovesOnlyThisMirrorsOwnLegsEachOnce() {
        VolumeIntent v = Json.decode("{\"name\":\"v\",\"sizeBytes\":\"1Gi\",\"layout\":\"mirror\","
                + "\"moveParts\":[{\"part\":\"v--p1\",\"toPool\":\"fast\"},{\"part\":\"v--p0\"}]}", VolumeIntent.class);
        assertThat(v.moveParts()).containsExactly(new PartMove("v--p1", "fast"), new PartMove("v--p0", null));
        assertThat(v.partMove("v--p1")).contains(new PartMove("v--p1", "fast"));
        assertThat(v.partMove("v--p2")).isEmpty();
        assertThat(Json.decode(Json.encode(v), VolumeIntent.class)).isEqualTo(v);
        assertThat(Json.encodeToString(v)).doesNotContain("\"toPool\":null");
        assertThat(Json.encodeToString(VolumeIntent.builder("w", 1).build())).doesNotContain("moveParts");
        assertThat(v.withPartMove("v--p1", "slow").moveParts()).containsExactly(new PartMove("v--p0", null),
                new PartMove("v--p1", "slow"));
        assertThat(v.withoutPartMove("v--p1").moveParts()).containsExactly(new PartMove("v--p0", null));
        assertThat(v.withoutPartMove("v--p1").withoutPartMove("v--p0").moveParts()).isEmpty();

        assertThat(msg("{\"name\":\"v\",\"sizeBytes\":\"1Gi\",\"layout\":\"mirror\",\"moveParts\":[{\"part\":\"w--p1\"}]}",
                VolumeIntent.class)).startsWith("moveParts[0].part: \"w--p1\" is not a part of v");
        assertThat(msg("{\"name\":\"v\",\"sizeBytes\":\"1Gi\",\"layout\":\"mirror\",\"moveParts\":[{\"part\":\"v\"}]}",
                VolumeIntent.class)).startsWith("moveParts[0].part: \"v\" is not a part of v");
        assertThat(msg("{\"name\":\"v\",\"sizeBytes\":\"1Gi\",\"layout\":\"mirror\",\"moveParts\":[{\"part\":\"v--p1\"},"
                + "{\"part\":\"v--p1\",\"toPool\":\"fast\"}]}", VolumeIntent.class)).contains("a leg is named twice");
        assertThat(msg("{\"name\":\"v\",\"sizeBytes\":\"1Gi\",\"layout\":\"linear\",\"moveParts\":[{\"part\":\"v--p1\"}]}",
                VolumeIntent.class)).startsWith("moveParts: only a mirror's legs can move");
        assertThat(msg("{\"name\":\"v\",\"sizeBytes\":\"1Gi\",\"moveParts\":[{\"part\":\"v--p0\"}]}",
                VolumeIntent.class)).startsWith("moveParts: only a mirror's legs can move");
        assertThat(msg("{\"name\":\"v\",\"sizeBytes\":\"1Gi\",\"layout\":\"mirror\",\"moveParts\":[{\"part\":\"v--p1\","
                + "\"toPool\":\"../x\"}]}", VolumeIntent.class)).contains("moveParts[0]").contains("pool name \"../x\" is invalid");
        assertThat(msg("{\"name\":\"v\",\"sizeBytes\":\"1Gi\",\"layout\":\"mirror\",\"moveParts\":[{\"toPool\":\"fast\"}]}",
                VolumeIntent.class)).contains("part");
    }
}
