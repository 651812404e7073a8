package io.ferry.tools.cli;

import io.ferry.model.Layout;
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
}
