package io.ferry.tools.bench;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Runs the simulator on a small cluster: Ferry's policies never break a spread group, never put two legs of a mirror
 * in one failure domain and never overcommit.
 */
class PlacementSimulatorTest {

    @Test
    void ferryPoliciesKeepSpreadGroupsApart() {
        PlacementSimulator.Config small = new PlacementSimulator.Config(5, 3, 1, 2, 3, 1.3);
        Map<String, PlacementSimulator.Result> results = PlacementSimulator.run(small).stream()
                .collect(Collectors.toMap(PlacementSimulator.Result::strategy, Function.identity()));

        assertThat(results.keySet()).containsExactlyInAnyOrder("ferry-binpack", "ferry-spread", "liteio-leastresource",
                "openebs-spaceweighted");
        for (String ferry : List.of("ferry-binpack", "ferry-spread")) {
            PlacementSimulator.Result r = results.get(ferry);
            assertThat(r.spreadViolations()).as(ferry).isZero();
            assertThat(r.placed()).as(ferry).isPositive();
            // The stream asks for 130 % of the capacity, so something must be refused.
            assertThat(r.refusals()).as(ferry).isPositive();
            assertThat(r.filledAtEnd()).as(ferry).isLessThanOrEqualTo(1.0);
        }
        // The spread-unaware baselines do break groups on a cluster this small.
        assertThat(results.get("liteio-leastresource").spreadViolations()).isPositive();
    }

    @Test
    void ferryPoliciesKeepTheLegsOfEveryMirrorApartAndOvercommitNoPool() {
        PlacementSimulator.Config small = new PlacementSimulator.Config(5, 3, 1, 2, 3, 1.3);
        for (int legs : List.of(2, 3)) {
            Map<String, PlacementSimulator.Result> results = PlacementSimulator.run(small, legs).stream()
                    .collect(Collectors.toMap(PlacementSimulator.Result::strategy, Function.identity()));
            for (String ferry : List.of("ferry-binpack", "ferry-spread")) {
                PlacementSimulator.Result r = results.get(ferry);
                assertThat(r.legViolations()).as(ferry + ", " + legs + " legs").isZero();
                assertThat(r.spreadViolations()).as(ferry + ", " + legs + " legs").isZero();
                assertThat(r.placed()).as(ferry + ", " + legs + " legs").isPositive();
                assertThat(r.refusals()).as(ferry + ", " + legs + " legs").isPositive();
            }
            for (PlacementSimulator.Result r : results.values()) {
                assertThat(r.overcommits()).as(r.strategy() + ", " + legs + " legs").isZero();
                assertThat(r.filledAtEnd()).as(r.strategy() + ", " + legs + " legs").isLessThanOrEqualTo(1.0);
            }
            // Without the spread rule nothing keeps two legs of one volume off one node.
            assertThat(results.get("liteio-leastresource").legViolations()).as(legs + " legs").isPositive();
        }
    }

    @Test
    void volumesOfOnePartCountNoLegViolations() {
        PlacementSimulator.Config small = new PlacementSimulator.Config(5, 3, 1, 2, 3, 1.3);
        for (PlacementSimulator.Result r : PlacementSimulator.run(small)) {
            assertThat(r.legViolations()).as(r.strategy()).isZero();
            assertThat(r.overcommits()).as(r.strategy()).isZero();
        }
    }
}
