package io.ferry.placement;

import io.ferry.model.GlobalConfig;
import io.ferry.model.PositionAdvice;
import io.ferry.model.SchedulerPolicyName;
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

    @Test
    void policiesAreChosenByName() {
        assertThat(ScoringPolicy.named(SchedulerPolicyName.BINPACK)).isInstanceOf(BinPackPolicy.class);
        assertThat(ScoringPolicy.named(SchedulerPolicyName.SPREAD)).isInstanceOf(SpreadPolicy.class);
    }
}
