package io.ferry.placement;

import io.ferry.model.Engine;
import io.ferry.model.FailureDomainLevel;
import io.ferry.model.GlobalConfig;
import io.ferry.model.ValidationException;
import io.ferry.placement.PartsDecision.Part;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;

import static io.ferry.placement.Pools.GI;
import static io.ferry.placement.Pools.pool;
import static io.ferry.placement.Pools.volume;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Volumes of several parts: the legs of a mirror apart in failure domains, the segments of a linear volume. */
class MultiPartPlacementTest {

    final Scheduler scheduler = new Scheduler();
    final GlobalConfig global = GlobalConfig.defaults();

    private static Request mirror(long gib, FailureDomainLevel level) {
        return Request.of(volume("v", gib).failureDomainLevel(level).build());
    }

    private static List<String> pools(PartsDecision decision) {
        return decision.parts().stream().map(p -> p.pool().pool()).toList();
    }

    /** Two racks of two nodes and a third rack of one; binpack would fill rack r1 first. */
    private static List<Candidate> threeRacks() {
        return List.of(
                pool("r1-a", "n1").nodeLabel("rack", "r1").allocatedGi(80).build(),
                pool("r1-b", "n2").nodeLabel("rack", "r1").allocatedGi(70).build(),
                pool("r2-a", "n3").nodeLabel("rack", "r2").allocatedGi(60).build(),
                pool("r2-b", "n4").nodeLabel("rack", "r2").allocatedGi(10).build(),
                pool("r3-a", "n5").nodeLabel("rack", "r3").build());
    }

    // ------------------------------------------------------------ mirror legs

    @Test
    void aReplacementLegAvoidsTheSurvivingLegsDomainsAndTheLostLegsPool() {
        // The surviving leg is in r1 and the lost one was on r2-a: r2-b, in the lost leg's rack, is
        // allowed (only its pool is suspect), r1 is not.
        PartsDecision d = scheduler.decideReplacementLeg(mirror(10, FailureDomainLevel.RACK), 2, Set.of("r1"), "r2-a",
                threeRacks(), global, new BinPackPolicy(), false);
        assertThat(pools(d)).containsExactly("r2-b");
        assertThat(d.parts().get(0).sizeBytes()).isEqualTo(10 * GI);
    }

    @Test
    void aReplacementLegWithNoPoolLeftIsRefusedWithEveryReasonCounted() {
        List<Candidate> two = List.of(pool("a", "n1").build(), pool("b", "n2").build());
        PartsDecision d = scheduler.decideReplacementLeg(mirror(10, FailureDomainLevel.NODE), 2, Set.of("n1"), "b", two,
                global, new BinPackPolicy(), false);
        assertThat(d.placed()).isFalse();
        assertThat(d.reasonCounts()).containsEntry(Scheduler.LOST_LEG_POOL, 1).containsEntry("spread node", 1);
        assertThatThrownBy(() -> scheduler.decideReplacementLeg(mirror(10, FailureDomainLevel.NODE), 1, Set.of(), "b",
                two, global, new BinPackPolicy(), false)).isInstanceOf(IllegalArgumentException.class);
    }


    @Test
    void legsLandInDistinctFailureDomainsEachOnTheBestPoolLeftThere() {
        PartsDecision d = scheduler.decideLegs(mirror(10, FailureDomainLevel.RACK), 3, threeRacks(), global,
                new BinPackPolicy(), false);
        assertThat(pools(d)).containsExactly("r1-a", "r2-a", "r3-a");
        assertThat(d.parts()).extracting(p -> p.pool().domain(FailureDomainLevel.RACK)).doesNotHaveDuplicates();
        assertThat(d.parts()).extracting(Part::sizeBytes).containsOnly(10 * GI);
        assertThat(d.legs().get(1).reasonCounts()).as("the second leg is refused the rack of the first")
                .containsEntry("spread rack", 2);
    }

    @Test
    void aMirrorOfOneLegGoesWhereAVolumeOfOnePartWould() {
        Request request = mirror(10, FailureDomainLevel.RACK);
        PartsDecision d = scheduler.decideLegs(request, 1, threeRacks(), global, new BinPackPolicy(), false);
        assertThat(pools(d)).containsExactly(scheduler.decide(request, threeRacks(), global, new BinPackPolicy(), false)
                .chosen().pool());
    }

    @Test
    void theSameInputGivesTheSameLegsWhateverTheOrderOfThePools() {
        List<Candidate> reversed = new ArrayList<>(threeRacks());
        Collections.reverse(reversed);
        for (ScoringPolicy policy : List.of(new BinPackPolicy(), new SpreadPolicy())) {
            assertThat(pools(scheduler.decideLegs(mirror(10, FailureDomainLevel.RACK), 3, reversed, global, policy, false)))
                    .as(policy.toString())
                    .isEqualTo(pools(scheduler.decideLegs(mirror(10, FailureDomainLevel.RACK), 3, threeRacks(), global, policy,
                            false)));
        }
    }

    @Test
    void aPoolWithRoomForOneLegNeverGetsTwoEvenWithoutTheSpreadRule() {
        // Without the spread filter (the simulator's spread-unaware baselines) only the space each leg
        // took keeps the second leg off the pool the first one filled.
        List<Filter> withoutSpread = new ArrayList<>(Filters.ALL);
        withoutSpread.remove(Filters.SPREAD);
        List<Candidate> candidates = List.of(pool("tight", "n1").allocatedGi(85).build(), pool("roomy", "n2").build());
        PartsDecision d = new Scheduler(withoutSpread).decideLegs(mirror(10, FailureDomainLevel.NODE), 2, candidates, global,
                new BinPackPolicy(), false);
        assertThat(pools(d)).containsExactly("tight", "roomy");
        assertThat(d.legs().get(1).reasonCounts()).containsEntry("free space", 1);
        PartsDecision alone = new Scheduler(withoutSpread).decideLegs(mirror(10, FailureDomainLevel.NODE), 2,
                List.of(pool("tight", "n1").allocatedGi(85).build()), global, new BinPackPolicy(), false);
        assertThat(alone.refusal()).as("without the spread rule no leg needs a domain of its own")
                .isEqualTo("no pool fits: free space 1");
    }

    @Test
    void fewerFailureDomainsThanLegsIsTheReasonGivenAndNoLegIsPlaced() {
        List<Candidate> twoRacks = List.of(
                pool("r1-a", "n1").nodeLabel("rack", "r1").build(),
                pool("r1-b", "n2").nodeLabel("rack", "r1").build(),
                pool("r2-a", "n3").nodeLabel("rack", "r2").build());
        PartsDecision d = scheduler.decideLegs(mirror(10, FailureDomainLevel.RACK), 3, twoRacks, global, new BinPackPolicy(),
                false);
        assertThat(d.placed()).isFalse();
        assertThat(d.parts()).as("all or nothing: two legs had a pool, neither is kept").isEmpty();
        assertThat(d.reasonCounts()).containsEntry(PartsDecision.fewerDomainsThanLegs("rack"), 1)
                .containsEntry("spread rack", 3);
        assertThat(d.refusal()).isEqualTo("no pool fits: spread rack 3, fewer rack domains than legs 1");
        assertThat(d.legs()).hasSize(3);
        assertThat(d.legs().get(2).pool()).isEmpty();
        assertThat(twoRacks).extracting(Candidate::allocated).as("the pools given are not changed").containsOnly(0L);
    }

    @Test
    void whenNotEvenOneLegFitsTheReasonsAreThoseOfAVolumeOfOnePart() {
        List<Candidate> full = List.of(pool("full", "n1").allocatedGi(95).build(), pool("dead", "n2").down().build());
        Request request = mirror(10, FailureDomainLevel.NODE);
        PartsDecision d = scheduler.decideLegs(request, 2, full, global, new BinPackPolicy(), false);
        assertThat(d.reasonCounts()).isEqualTo(scheduler.decide(request, full, global, new BinPackPolicy(), false).reasonCounts());
        assertThat(d.refusal()).isEqualTo("no pool fits: free space 1, node down 1");
    }

    @Test
    void aPoolWhoseNodeDoesNotShowItsDomainTakesNoLegNotEvenTheFirst() {
        List<Candidate> candidates = List.of(pool("unlabelled", "n1").allocatedGi(90).build(),
                pool("r1", "n2").nodeLabel("rack", "r1").build(), pool("r2", "n3").nodeLabel("rack", "r2").build());
        PartsDecision d = scheduler.decideLegs(mirror(5, FailureDomainLevel.RACK), 2, candidates, global, new BinPackPolicy(),
                false);
        assertThat(pools(d)).containsExactly("r1", "r2");
    }

    @Test
    void legsAlsoKeepAwayFromTheDomainsOfTheirSpreadGroup() {
        Request member = new Request(volume("v", 10).spreadGroup("db").failureDomainLevel(FailureDomainLevel.RACK).build(),
                null, Set.of("r1"));
        PartsDecision d = scheduler.decideLegs(member, 2, threeRacks(), global, new BinPackPolicy(), false);
        assertThat(pools(d)).containsExactly("r2-a", "r3-a");
    }

    @Test
    void aLegKnowingItsConsumerIsStillALegOfItsMirror() {
        Request leg = mirror(10, FailureDomainLevel.RACK).forLeg(2, Set.of("r1"));
        assertThat(leg.withConsumer(null)).isEqualTo(leg);
        assertThat(scheduler.firstFailure(leg.withConsumer(null), pool("unlabelled", "n1").build(), global))
                .isEqualTo("spread rack");
    }

    @Test
    void explainingKeepsEveryPoolsVerdictForEachLeg() {
        PartsDecision d = scheduler.decideLegs(mirror(10, FailureDomainLevel.RACK), 2, threeRacks(), global,
                new BinPackPolicy(), true);
        assertThat(d.legs()).hasSize(2).allSatisfy(leg -> assertThat(leg.verdicts()).hasSize(5));
        assertThat(d.legs().get(1).verdicts()).filteredOn(v -> !v.passed()).extracting(PoolVerdict::pool)
                .containsExactly("r1-a", "r1-b");
    }

    // ------------------------------------------------------------ segments

    @Test
    void segmentsCoverTheSizeExactlyFromTheLargestFreePoolsFirst() {
        List<Candidate> candidates = List.of(
                pool("free-30", "n1").allocatedGi(70).build(),
                pool("free-50", "n2").allocatedGi(50).build(),
                pool("free-20", "n3").allocatedGi(80).build(),
                pool("free-10", "n4").allocatedGi(90).build());
        PartsDecision d = scheduler.decideSegments(Request.of(volume("v", 70).build()), 3, candidates, global);
        assertThat(pools(d)).containsExactly("free-50", "free-30");
        assertThat(d.parts()).extracting(Part::sizeBytes).containsExactly(50 * GI, 20 * GI);
        assertThat(d.parts().stream().mapToLong(Part::sizeBytes).sum()).isEqualTo(70 * GI);
    }

    @Test
    void aVolumeOneFreePoolCanHoldStaysInOneSegment() {
        List<Candidate> candidates = List.of(pool("a", "n1").build(), pool("b", "n2").build());
        PartsDecision d = scheduler.decideSegments(Request.of(volume("v", 40).build()), 3, candidates, global);
        assertThat(pools(d)).containsExactly("a");
        assertThat(d.parts()).extracting(Part::sizeBytes).containsExactly(40 * GI);
    }

    @Test
    void segmentsNeverOvercommitAPoolByItsLedgerOrByItsDisk() {
        // The disk has less left than the ledger says (something else fills it): the segment takes the smaller.
        List<Candidate> candidates = List.of(
                pool("disk-short", "n1").diskFreeGi(15).build(),
                pool("half", "n2").allocatedGi(50).build(),
                pool("dead", "n3").down().build());
        PartsDecision d = scheduler.decideSegments(Request.of(volume("v", 60).build()), 3, candidates, global);
        assertThat(pools(d)).containsExactly("half", "disk-short");
        assertThat(d.parts()).extracting(Part::sizeBytes).containsExactly(50 * GI, 10 * GI);
        for (Part part : d.parts()) {
            assertThat(part.sizeBytes()).isLessThanOrEqualTo(scheduler.largestFit(Request.of(volume("v", 60).build()),
                    part.pool(), global));
        }
    }

    @Test
    void segmentsMayShareAFailureDomain() {
        List<Candidate> candidates = List.of(pool("a", "n1").allocatedGi(60).build(), pool("b", "n1").allocatedGi(60).build());
        PartsDecision d = scheduler.decideSegments(Request.of(volume("v", 80).build()), 2, candidates, global);
        assertThat(pools(d)).containsExactly("a", "b");
    }

    @Test
    void segmentsThatCannotCoverTheSizePlaceNoneAndSayWhy() {
        List<Candidate> candidates = List.of(
                pool("a", "n1").allocatedGi(70).build(),
                pool("b", "n2").allocatedGi(70).build(),
                pool("c", "n3").allocatedGi(70).build(),
                pool("dead", "n4").down().build());
        PartsDecision d = scheduler.decideSegments(Request.of(volume("v", 80).build()), 2, candidates, global);
        assertThat(d.placed()).isFalse();
        assertThat(d.parts()).isEmpty();
        assertThat(d.refusal()).isEqualTo("no pool fits: free space 3, node down 1");
        assertThat(scheduler.decideSegments(Request.of(volume("v", 80).build()), 3, candidates, global).parts())
                .as("three segments are enough").hasSize(3);
    }

    @Test
    void aPoolRefusedForAnotherReasonIsCountedUnderItNotUnderFreeSpace() {
        List<Candidate> candidates = List.of(pool("other-engine", "n1").engine(Engine.LVM).build());
        PartsDecision d = scheduler.decideSegments(Request.of(volume("v", 10).engine(Engine.FILE).build()), 2,
                candidates, global);
        assertThat(d.refusal()).isEqualTo("no pool fits: engine 1");
    }

    // ------------------------------------------------------------ stripes

    @Test
    void stripesGoToDistinctPoolsEvenWhenOnePoolHasRoomForAll() {
        // binpack would put every stripe on the fullest pool that still fits one; each pool takes one.
        List<Candidate> candidates = List.of(
                pool("big", "n1").build(),
                pool("fuller", "n1").allocatedGi(50).build(),
                pool("fullest", "n2").allocatedGi(80).build());
        PartsDecision d = scheduler.decideStripes(Request.of(volume("v", 10).build()), 3, candidates, global,
                new BinPackPolicy(), false);
        assertThat(pools(d)).containsExactly("fullest", "fuller", "big");
        assertThat(d.parts()).extracting(Part::sizeBytes).containsOnly(10 * GI);
        assertThat(d.legs()).as("each stripe's decision").hasSize(3);
    }

    @Test
    void tooFewPoolsForTheStripesPlacesNoneAndSaysWhy() {
        List<Candidate> candidates = List.of(
                pool("a", "n1").build(),
                pool("small", "n2").allocatedGi(95).build(),
                pool("dead", "n3").down().build());
        PartsDecision d = scheduler.decideStripes(Request.of(volume("v", 10).build()), 2, candidates, global,
                new BinPackPolicy(), false);
        assertThat(d.placed()).isFalse();
        assertThat(d.parts()).isEmpty();
        assertThat(d.reasonCounts()).containsEntry(PartsDecision.FEWER_POOLS_THAN_STRIPES, 1)
                .containsEntry("free space", 1).containsEntry("node down", 1);
    }

    @Test
    void stripesKeepAwayFromTheDomainsTheirSpreadGroupTook() {
        Request request = new Request(volume("v", 10).spreadGroup("db").build(), null, Set.of("n1"));
        List<Candidate> candidates = List.of(pool("a", "n1").build(), pool("b", "n2").build(), pool("c", "n3").build());
        PartsDecision d = scheduler.decideStripes(request, 2, candidates, global, new BinPackPolicy(), false);
        assertThat(pools(d)).containsExactlyInAnyOrder("b", "c");
    }

    // ------------------------------------------------------------ bad input

    @Test
    void badCountsAreRefusedWithAClearMessage() {
        Request request = mirror(10, FailureDomainLevel.NODE);
        assertThatThrownBy(() -> scheduler.decideLegs(request, 0, threeRacks(), global, new BinPackPolicy(), false))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("a mirror has 1 to 3 legs, not 0");
        assertThatThrownBy(() -> scheduler.decideLegs(request, 4, threeRacks(), global, new BinPackPolicy(), false))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("a mirror has 1 to 3 legs, not 4");
        assertThatThrownBy(() -> scheduler.decideSegments(request, 0, threeRacks(), global))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("a volume has at least 1 segment, not 0");
        assertThatThrownBy(() -> scheduler.decideStripes(request, 1, threeRacks(), global, new BinPackPolicy(), false))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("a striped volume has 2 to 4 stripes, not 1");
        assertThatThrownBy(() -> scheduler.decideStripes(request, 5, threeRacks(), global, new BinPackPolicy(), false))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("a striped volume has 2 to 4 stripes, not 5");
    }

    @Test
    void aSizeThatIsNotPositiveNeverReachesTheScheduler() {
        // A request carries its intent, and the intent refuses such a size when it is built.
        assertThatThrownBy(() -> volume("v", 0).build()).isInstanceOf(ValidationException.class)
                .hasMessage("sizeBytes: 0 is not positive");
        assertThatThrownBy(() -> volume("v", -1).build()).isInstanceOf(ValidationException.class)
                .hasMessageContaining("is not positive");
    }
}
