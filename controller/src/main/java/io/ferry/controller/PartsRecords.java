package io.ferry.controller;

import io.ferry.etcd.store.Versioned;
import io.ferry.model.Condition;
import io.ferry.model.Placement;
import io.ferry.model.VolumeParts;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * What a multi-part volume's record says of its parts: where each is placed and which parts' nodes
 * are down, read from the controller's view. The placing step passes the placements it is about to
 * commit instead, so the record written with them already names them.
 */
final class PartsRecords {

    private final ClusterState state;

    PartsRecords(ClusterState state) {
        this.state = state;
    }

    /** The first part that has a placement: its node and pool stand for the volume's in its record. */
    Placement firstPlaced(VolumeParts parts) {
        for (String part : parts.partNames()) {
            Optional<Versioned<Placement>> placement = state.placement(part);
            if (placement.isPresent()) {
                return placement.get().value();
            }
        }
        return null;
    }

    String describe(VolumeParts parts) {
        return describe(parts, this::placementOf);
    }

    /** {@code mirror of 2 parts: v--p0 on node-1/pool-1, v--p1 on node-2/pool-2}. */
    static String describe(VolumeParts parts, Function<String, Placement> placements) {
        List<String> each = new ArrayList<>();
        for (VolumeParts.Part part : parts.parts()) {
            Placement p = placements.apply(part.name());
            each.add(part.name() + (p == null ? " (not placed)" : " on " + p.node() + "/" + p.pool())
                    + (part.movesFrom() == null ? "" : " (joining, moves from " + part.movesFrom() + ")"));
        }
        // Retired by a loss or by a move: either way no longer assembled, and deleted.
        String retired = parts.retired().isEmpty() ? ""
                : "; retired (deleted): " + String.join(", ", parts.retired().stream()
                .map(VolumeParts.Part::name).toList());
        return parts.layout() + " of " + parts.parts().size() + " parts: " + String.join(", ", each) + retired;
    }

    Condition reachability(VolumeParts parts) {
        return reachability(parts, this::placementOf);
    }

    Condition reachability(VolumeParts parts, Function<String, Placement> placements) {
        TreeMap<String, String> down = new TreeMap<>();
        for (String part : parts.partNames()) {
            Placement p = placements.apply(part);
            if (p != null && !state.nodeAlive(p.node())) {
                down.put(part, p.node());
            }
        }
        long observed = state.intent(parts.volume()).map(Versioned::modRevision).orElse(0L);
        String joining = parts.joining().map(VolumeParts.Part::name).orElse(null);
        return RecordConditions.partsReachable(parts.layout(), parts.parts().size() - (joining == null ? 0 : 1), down,
                joining, observed);
    }

    private Placement placementOf(String volume) {
        return state.placement(volume).map(Versioned::value).orElse(null);
    }
}
