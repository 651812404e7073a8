package io.ferry.tools.bench;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The benchmark's smoke test: one placement decision over 10,000 pools and 100,000 placements,
 * measured against the bare loop over the same pools in this same process. It fails when the ratio
 * is more than twice the one recorded in docs/benchmarks.md: the decision went from 14x to over
 * 100x the floor once unnoticed, each new filter adding a cache miss per pool.
 */
class PlacementBenchmarkTest {

    @Test
    void aDecisionCostsNoMoreThanTwiceTheRecordedMultipleOfTheFloor() {
        double limit = 2 * PlacementBenchmark.RECORDED_RATIO_10K;
        // Other processes on a shared machine only ever make a measurement worse: up to three tries,
        // the first within the limit counts, so that a regression fails and a noisy neighbour does not.
        Map<String, Double> ratios = Map.of();
        for (int attempt = 1; attempt <= 3; attempt++) {
            ratios = PlacementBenchmark.ratiosToFloor(10_000, 100_000, 0.4, 5);
            System.out.println("placement decision / floor at 10,000 pools, try " + attempt + ": " + ratios);
            if (ratios.get("binpack") < limit && ratios.get("spread") < limit) {
                break;
            }
        }
        assertThat(ratios.get("binpack")).as("binpack decision / floor, recorded %s", PlacementBenchmark.RECORDED_RATIO_10K)
                .isLessThan(limit);
        assertThat(ratios.get("spread")).as("spread decision / floor, recorded %s", PlacementBenchmark.RECORDED_RATIO_10K)
                .isLessThan(limit);
    }
}
