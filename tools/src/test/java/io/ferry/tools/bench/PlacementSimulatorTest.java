package io.ferry.tools.bench;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/** Runs the simulator on a small cluster: Ferry's policies never break a spread group and never overcommit. */
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
}
