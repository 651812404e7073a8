package io.ferry.controller;

import io.ferry.model.Layout;
import io.ferry.model.Placement;
import io.ferry.model.VolumeParts;

import java.util.Collection;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * The multi-part volumes counted by layout and by what their parts' nodes allow, for the
 * {@code ferry.volumes.multipart} gauge: {@code healthy} (every part's node registered),
 * {@code degraded} (a mirror served by fewer legs than it has) and {@code unreachable} (a linear
 * volume missing a segment, or a mirror missing every leg). The same rule as a volume's
 * {@code Reachable} condition ({@link RecordConditions#partsReachable}); the node plugin's own
 * view of each mirror's legs is in its volume condition.
 */
final class PartsCensus {

    static final String HEALTHY = "healthy";
    static final String DEGRADED = "degraded";
    static final String UNREACHABLE = "unreachable";

    private PartsCensus() {
    }

    /**
     * @param placement  a part's placement, if it has one (a part without one serves nothing)
     * @param nodeAlive  whether a node's agent is registered
     * @return for each multi-part layout, each state with its count, zeros included
     */
    static Map<Layout, Map<String, Integer>> count(Collection<VolumeParts> records,
                                                   Function<String, Optional<Placement>> placement,
                                                   Predicate<String> nodeAlive) {
        Map<Layout, Map<String, Integer>> counts = new EnumMap<>(Layout.class);
        for (Layout layout : Layout.values()) {
            if (layout.multiPart()) {
                Map<String, Integer> states = new LinkedHashMap<>();
                states.put(HEALTHY, 0);
                states.put(DEGRADED, 0);
                states.put(UNREACHABLE, 0);
                counts.put(layout, states);
            }
        }
        for (VolumeParts record : records) {
            Map<String, Integer> states = counts.get(record.layout());
            if (states == null) {
                continue;
            }
            // A leg joining by a move holds no data until rebuilt: it is not one of the legs that serve.
            List<String> serving = record.parts().stream().filter(p -> p.movesFrom() == null)
                    .map(VolumeParts.Part::name).toList();
            long down = serving.stream()
                    .filter(part -> placement.apply(part).map(p -> !nodeAlive.test(p.node())).orElse(true)).count();
            String state = down == 0 ? HEALTHY
                    : record.layout() == Layout.MIRROR && down < serving.size() ? DEGRADED : UNREACHABLE;
            states.merge(state, 1, Integer::sum);
        }
        return counts;
    }
}
