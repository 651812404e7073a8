package io.ferry.tools.cli;

import io.ferry.model.Layout;
import io.ferry.model.MirrorReport;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeParts;
import io.ferry.tools.cli.VolumeReplaceLegCommand.Decision;
import io.ferry.tools.cli.VolumeReplaceLegCommand.Verdict;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;

import static io.ferry.tools.cli.VolumeReplaceLegCommand.decide;
import static org.assertj.core.api.Assertions.assertThat;

/** The rule of {@code volume replace-leg}: never leave a mirror without a leg known to hold its data. */
class VolumeReplaceLegCommandTest {

    static final long SIZE = 256L << 20;
    static final long LEG = VolumeParts.mirrorLegBytes(SIZE);
    static final String UUID = "6f1c1b4e-8d2a-4f5e-9b0a-3c2d1e0f9a8b";
    static final VolumeIntent MIRROR = VolumeIntent.builder("v", SIZE).layout(Layout.MIRROR).parts(3).build();

    static VolumeParts.Part leg(int index) {
        return new VolumeParts.Part("v--p" + index, index, LEG);
    }

    static VolumeParts threeLegs() {
        return VolumeParts.of("v", Layout.MIRROR, List.of(leg(0), leg(1), leg(2)), UUID, Instant.EPOCH);
    }

    @Test
    void aFirstLegOfAPlacedMirrorIsDeclaredLost() {
        assertThat(decide("v", "v--p1", MIRROR, threeLegs(), false).verdict()).isEqualTo(Verdict.DECLARE);
    }

    @Test
    void aLegIsDeclaredLostWhileAnotherFirstLegHoldsTheDataEvenBesideAReplacement() {
        VolumeParts parts = threeLegs().withReplacement("v--p2", new VolumeParts.Part("v--p3", 3, LEG, "v--p2"));
        assertThat(decide("v", "v--p1", MIRROR, parts, false).verdict()).isEqualTo(Verdict.DECLARE);
    }

    @Test
    void onlyReplacementsLeftIsRefusedUnlessTheOperatorAssertsTheyFinishedRebuilding() {
        VolumeParts parts = threeLegs()
                .withReplacement("v--p1", new VolumeParts.Part("v--p3", 3, LEG, "v--p1"))
                .withReplacement("v--p2", new VolumeParts.Part("v--p4", 4, LEG, "v--p2"));
        Decision refused = decide("v", "v--p0", MIRROR, parts, false);
        assertThat(refused.verdict()).isEqualTo(Verdict.REFUSED);
        assertThat(refused.message()).contains("v--p3, v--p4").contains("--replacement-rebuilt");
        assertThat(decide("v", "v--p0", MIRROR, parts, true).verdict()).isEqualTo(Verdict.DECLARE);
    }

    @Test
    void aLegAlreadyDeclaredLostDoesNotCountAsHoldingTheData() {
        // v--p1 awaits its replacement; v--p2 is a replacement: v--p0 is the only leg known to hold the data.
        VolumeParts parts = threeLegs().withReplacement("v--p2", new VolumeParts.Part("v--p3", 3, LEG, "v--p2"));
        VolumeIntent p1Lost = MIRROR.withLostPart("v--p1");
        assertThat(decide("v", "v--p0", p1Lost, parts, false).verdict()).isEqualTo(Verdict.REFUSED);
        assertThat(decide("v", "v--p0", p1Lost, parts, true).verdict()).isEqualTo(Verdict.DECLARE);

        // Every other leg declared lost: nothing the operator can assert makes it safe.
        VolumeIntent othersLost = MIRROR.withLostPart("v--p1").withLostPart("v--p2");
        Decision refused = decide("v", "v--p0", othersLost, threeLegs(), true);
        assertThat(refused.verdict()).isEqualTo(Verdict.REFUSED);
        assertThat(refused.message()).contains("declared lost already").contains("no leg holding the data");
    }

    @Test
    void repeatsAreRecognisedWithoutAWrite() {
        assertThat(decide("v", "v--p1", MIRROR.withLostPart("v--p1"), threeLegs(), false).verdict())
                .isEqualTo(Verdict.ALREADY_LOST);
        VolumeParts replaced = threeLegs().withReplacement("v--p1", new VolumeParts.Part("v--p3", 3, LEG, "v--p1"));
        Decision done = decide("v", "v--p1", MIRROR.withLostPart("v--p1"), replaced, false);
        assertThat(done.verdict()).isEqualTo(Verdict.ALREADY_REPLACED);
        assertThat(done.replacedBy()).isEqualTo("v--p3");
    }

    @Test
    void otherVolumesAndStatesAreRefusedWithTheReason() {
        assertThat(decide("v", "v--p0", VolumeIntent.builder("v", SIZE).build(), null, false).message())
                .contains("only a mirror's legs can be replaced");
        assertThat(decide("v", "v--p0", MIRROR.withDeletionRequested(), threeLegs(), false).message())
                .contains("being deleted");
        assertThat(decide("v", "v--p0", MIRROR, null, false).message()).contains("no legs yet");
        Decision notMember = decide("v", "v--p7", MIRROR, threeLegs(), false);
        assertThat(notMember.verdict()).isEqualTo(Verdict.REFUSED);
        assertThat(notMember.message()).contains("its legs are v--p0, v--p1, v--p2");
    }

    static MirrorReport report(MirrorReport.LegState p0, MirrorReport.LegState p1, MirrorReport.LegState p2) {
        return MirrorReport.of("v", "node-1", UUID.toUpperCase().replace("-", ""), List.of(
                new MirrorReport.Leg("v--p0", p0), new MirrorReport.Leg("v--p1", p1), new MirrorReport.Leg("v--p2", p2)),
                "recover", 40.0, 1024, Instant.EPOCH);
    }

    @Test
    void theConsumersReportOutranksWhatEtcdCanInfer() {
        MirrorReport.LegState in = MirrorReport.LegState.IN_SYNC;
        MirrorReport.LegState rebuilding = MirrorReport.LegState.REBUILDING;
        // Etcd alone would allow it (first legs), but md says neither other leg holds the data yet.
        Decision refused = decide("v", "v--p0", MIRROR, threeLegs(), true, List.of(report(in, rebuilding, rebuilding)));
        assertThat(refused.verdict()).isEqualTo(Verdict.REFUSED);
        assertThat(refused.message()).contains("the consumer (node-1) reports no other leg of volume v in sync")
                .contains("mirror-health/v/<node>");
        assertThat(decide("v", "v--p0", MIRROR, threeLegs(), false, List.of(report(in, in, rebuilding))).verdict())
                .isEqualTo(Verdict.DECLARE);
        // Only replacements left: md's word that one is in sync stands for --replacement-rebuilt.
        VolumeParts parts = threeLegs()
                .withReplacement("v--p1", new VolumeParts.Part("v--p3", 3, LEG, "v--p1"))
                .withReplacement("v--p2", new VolumeParts.Part("v--p4", 4, LEG, "v--p2"));
        MirrorReport replaced = MirrorReport.of("v", "node-1", UUID, List.of(new MirrorReport.Leg("v--p0", in),
                new MirrorReport.Leg("v--p3", in), new MirrorReport.Leg("v--p4", rebuilding)), "recover", 40.0, 1024,
                Instant.EPOCH);
        assertThat(decide("v", "v--p0", MIRROR, parts, false, List.of(replaced)).verdict()).isEqualTo(Verdict.DECLARE);
        // A report of another array says nothing about this one.
        MirrorReport other = MirrorReport.of("v", "node-1", "00000000-0000-4000-8000-000000000000", List.of(
                new MirrorReport.Leg("v--p3", in)), "idle", -1, 0, Instant.EPOCH);
        assertThat(decide("v", "v--p0", MIRROR, parts, false, List.of(other)).verdict()).isEqualTo(Verdict.REFUSED);
    }
}
