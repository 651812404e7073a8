package io.ferry.placement;

import io.ferry.model.FailureDomainLevel;
import io.ferry.model.GlobalConfig;
import io.ferry.model.PositionAdvice;
import io.ferry.model.SchedulerPolicyName;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Set;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static io.ferry.placement.Pools.pool;
import static io.ferry.placement.Pools.volume;
import static org.assertj.core.api.Assertions.assertThat;

class SchedulerTest {

    final Scheduler scheduler = new Scheduler();
    final GlobalConfig global = GlobalConfig.defaults();

    @Test
    void binPackChoosesTheFullestPoolThatStillFits() {
        List<Candidate> pools = List.of(
                pool("empty", "n1").build(),
                pool("half", "n2").allocatedGi(50).build(),
                pool("nearly-full", "n3").allocatedGi(95).build());
        Decision d = scheduler.decide(Request.of(volume("v", 10).build()), pools, global, new BinPackPolicy(), false);
        assertThat(d.chosen().pool()).isEqualTo("half");
    }

    @Test
    void spreadChoosesTheEmptiestPool() {
        List<Candidate> pools = List.of(pool("half", "n2").allocatedGi(50).build(), pool("empty", "n1").build());
        Decision d = scheduler.decide(Request.of(volume("v", 10).build()), pools, global, new SpreadPolicy(), false);
        assertThat(d.chosen().pool()).isEqualTo("empty");
    }

    @Test
    void preferLocalOutweighsASlightlyBetterRemoteScore() {
        List<Candidate> pools = List.of(pool("remote", "n2").allocatedGi(60).build(), pool("local", "n1").allocatedGi(50).build());
        Decision d = scheduler.decide(Request.of(volume("v", 10).consumerNode("n1").positionAdvice(PositionAdvice.PREFER_LOCAL).build()),
                pools, global, new BinPackPolicy(), false);
        assertThat(d.chosen().pool()).isEqualTo("local");
    }

    @Test
    void preferRemoteAvoidsTheConsumersNodeWhenAnotherFits() {
        List<Candidate> pools = List.of(pool("local", "n1").allocatedGi(60).build(), pool("remote", "n2").allocatedGi(50).build());
        Decision d = scheduler.decide(Request.of(volume("v", 10).consumerNode("n1").positionAdvice(PositionAdvice.PREFER_REMOTE).build()),
                pools, global, new BinPackPolicy(), false);
        assertThat(d.chosen().pool()).isEqualTo("remote");
    }

    @Test
    void tiesGoToTheFirstPoolNameSoDecisionsAreReproducible() {
        List<Candidate> pools = List.of(pool("pool-c", "n3").build(), pool("pool-a", "n1").build(), pool("pool-b", "n2").build());
        Decision d = scheduler.decide(Request.of(volume("v", 10).build()), pools, global, new BinPackPolicy(), false);
        assertThat(d.chosen().pool()).isEqualTo("pool-a");
    }

    @Test
    void noFitCountsEachPoolUnderTheFirstFilterItFailed() {
        List<Candidate> pools = List.of(
                pool("full-1", "n1").allocatedGi(100).build(),
                pool("full-2", "n2").allocatedGi(95).build(),
                pool("full-3", "n3").allocatedGi(99).build(),
                pool("dead", "n4").down().allocatedGi(100).build(),
                pool("off", "n5").unschedulable().build());
        Decision d = scheduler.decide(Request.of(volume("v", 10).build()), pools, global, new BinPackPolicy(), false);
        assertThat(d.pool()).isEmpty();
        assertThat(d.reasonCounts()).isEqualTo(Map.of("free space", 3, "node down", 1, "unschedulable", 1));
        assertThat(d.refusal()).isEqualTo("no pool fits: free space 3, node down 1, unschedulable 1");
    }

    @Test
    void anEmptyClusterSaysSo() {
        Decision d = scheduler.decide(Request.of(volume("v", 10).build()), List.of(), global, new BinPackPolicy(), false);
        assertThat(d.refusal()).isEqualTo("no pool fits: no pools are configured");
    }

    @Test
    void explainingListsEveryPoolPassedFirstThenRefusedWithReasons() {
        List<Candidate> pools = List.of(pool("b", "n2").allocatedGi(50).build(), pool("a", "n1").build(),
                pool("z", "n3").down().build());
        Decision d = scheduler.decide(Request.of(volume("v", 10).build()), pools, global, new BinPackPolicy(), true);
        assertThat(d.verdicts()).extracting(PoolVerdict::pool).containsExactly("b", "a", "z");
        assertThat(d.verdicts().get(0).score()).isGreaterThan(d.verdicts().get(1).score());
        assertThat(d.verdicts().get(2).failedReason()).isEqualTo("node down");
        assertThat(scheduler.decide(Request.of(volume("v", 10).build()), pools, global, new BinPackPolicy(), false).verdicts())
                .as("no per-pool verdicts unless asked").isEmpty();
    }

    // ------------------------------------------------------------ position advice as a tier

    private static Request preferLocal(String consumer, long gib) {
        return Request.of(volume("v", gib).consumerNode(consumer).positionAdvice(PositionAdvice.PREFER_LOCAL).build());
    }

    @Test
    void aPoolOnTheConsumersNodeWinsOverAMuchFullerRemotePool() {
        // Under binpack the remote pool scores 0.99 and the local one 0.11: far more than any bonus could bridge.
        List<Candidate> pools = List.of(pool("remote", "n2").allocatedGi(89).build(), pool("local", "n1").allocatedGi(1).build());
        for (ScoringPolicy policy : List.of(new BinPackPolicy(), new SpreadPolicy())) {
            Decision d = scheduler.decide(preferLocal("n1", 10), pools, global, policy, false);
            assertThat(d.chosen().pool()).as(policy.toString()).isEqualTo("local");
        }
    }

    @Test
    void amongThePoolsOnTheConsumersNodeThePolicyChooses() {
        List<Candidate> pools = List.of(pool("remote", "n2").allocatedGi(89).build(), pool("local-empty", "n1").build(),
                pool("local-half", "n1").allocatedGi(50).build());
        assertThat(scheduler.decide(preferLocal("n1", 10), pools, global, new BinPackPolicy(), false).chosen().pool())
                .isEqualTo("local-half");
        assertThat(scheduler.decide(preferLocal("n1", 10), pools, global, new SpreadPolicy(), false).chosen().pool())
                .isEqualTo("local-empty");
    }

    @Test
    void whenNoLocalPoolFitsTheOthersAreRankedByThePolicy() {
        List<Candidate> pools = List.of(pool("local", "n1").allocatedGi(95).build(), pool("remote-half", "n2").allocatedGi(50).build(),
                pool("remote-full", "n3").allocatedGi(80).build());
        Decision binpack = scheduler.decide(preferLocal("n1", 10), pools, global, new BinPackPolicy(), true);
        assertThat(binpack.chosen().pool()).isEqualTo("remote-full");
        assertThat(scheduler.decide(preferLocal("n1", 10), pools, global, new SpreadPolicy(), false).chosen().pool())
                .isEqualTo("remote-half");
        assertThat(binpack.verdicts()).filteredOn(PoolVerdict::passed).extracting(PoolVerdict::tier).containsOnly(1);
    }

    @Test
    void spreadRulesStillBindAPoolOnTheConsumersNode() {
        // The consumer's node already holds a member of the group: the local pool is refused, not preferred.
        Request request = new Request(volume("v", 10).consumerNode("n1").positionAdvice(PositionAdvice.PREFER_LOCAL)
                .spreadGroup("db").failureDomainLevel(FailureDomainLevel.RACK).build(), null, Set.of("r1"));
        List<Candidate> pools = List.of(pool("local", "n1").nodeLabel("rack", "r1").build(),
                pool("remote", "n2").nodeLabel("rack", "r2").allocatedGi(50).build());
        Decision d = scheduler.decide(request, pools, global, new BinPackPolicy(), false);
        assertThat(d.chosen().pool()).isEqualTo("remote");
        assertThat(d.reasonCounts()).containsEntry("spread rack", 1);
    }

    @Test
    void explainingRanksTheLocalTierFirst() {
        List<Candidate> pools = List.of(pool("remote", "n2").allocatedGi(89).build(), pool("local", "n1").build());
        Decision d = scheduler.decide(preferLocal("n1", 10), pools, global, new BinPackPolicy(), true);
        assertThat(d.verdicts()).extracting(PoolVerdict::pool).containsExactly("local", "remote");
        assertThat(d.verdicts()).extracting(PoolVerdict::tier).containsExactly(0, 1);
    }

    @Test
    void aPoolIsLocalByItsNodesNameNotByAHashThatHappensToMatch() {
        // "naan" and "nac0" have the same String hash: the precomputed hash only ever rules a node out.
        assertThat("naan".hashCode()).isEqualTo("nac0".hashCode());
        List<Candidate> pools = List.of(pool("on-nac0", "nac0").allocatedGi(50).build(), pool("on-naan", "naan").build());
        assertThat(scheduler.decide(preferLocal("naan", 10), pools, global, new BinPackPolicy(), false).chosen().pool())
                .isEqualTo("on-naan");
    }

    @Test
    void aTakenDomainIsRecognisedByItsNameNotByItsHash() {
        Request request = new Request(volume("v", 10).spreadGroup("db").failureDomainLevel(FailureDomainLevel.RACK)
                .build(), null, Set.of("naan"));
        assertThat(scheduler.firstFailure(request, pool("p", "n1").nodeLabel("rack", "nac0").build(), global)).isNull();
        assertThat(scheduler.firstFailure(request, pool("p", "n1").nodeLabel("rack", "naan").build(), global)).isEqualTo("spread rack");
    }

    @Test
    void aNewLedgerIsWhatFreeSpaceAndScoresRead() {
        Candidate pool = pool("p", "n1").build();
        Candidate fuller = pool.withLedger(pool.ledger().add(60 * Pools.GI), 8);
        assertThat(fuller.free(false)).isEqualTo(40 * Pools.GI);
        assertThat(scheduler.firstFailure(Request.of(volume("v", 50).build()), fuller, global)).isEqualTo("free space");
        assertThat(fuller.withRemoteServed(3).free(false)).isEqualTo(40 * Pools.GI);
    }

    @Test
    void aSpreadGroupMemberTakesEquallyGoodPoolsInAFixedScatteredOrderNotByName() {
        // Eight empty pools of one size, named in node order: a plain volume takes the first name, a
        // group member the pool whose name hashes lowest, the same one every time.
        List<Candidate> pools = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            pools.add(pool("pool-" + i, "n" + i).build());
        }
        String expected = pools.stream().map(Candidate::pool)
                .min(Comparator.comparingInt(n -> Scheduler.scatter(n.hashCode()))).orElseThrow();
        assertThat(expected).as("the test needs a scattered order that differs from name order").isNotEqualTo("pool-0");
        Request member = Request.of(volume("v", 10).spreadGroup("db").failureDomainLevel(FailureDomainLevel.NODE).build());
        assertThat(scheduler.decide(member, pools, global, new BinPackPolicy(), false).chosen().pool()).isEqualTo(expected);
        List<Candidate> reversed = new ArrayList<>(pools);
        Collections.reverse(reversed);
        assertThat(scheduler.decide(member, reversed, global, new BinPackPolicy(), false).chosen().pool()).isEqualTo(expected);
        assertThat(scheduler.decide(Request.of(volume("v", 10).build()), pools, global, new BinPackPolicy(), false).chosen().pool())
                .isEqualTo("pool-0");
    }

    @Test
    void policiesAreChosenByName() {
        assertThat(ScoringPolicy.named(SchedulerPolicyName.BINPACK)).isInstanceOf(BinPackPolicy.class);
        assertThat(ScoringPolicy.named(SchedulerPolicyName.SPREAD)).isInstanceOf(SpreadPolicy.class);
    }
}
