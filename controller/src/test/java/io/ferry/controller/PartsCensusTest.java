package io.ferry.controller;

import io.ferry.model.Engine;
import io.ferry.model.Layout;
import io.ferry.model.PartNames;
import io.ferry.model.Placement;
import io.ferry.model.VolumeParts;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/** The multi-part volumes counted for the gauge, by what their parts' nodes allow. */
class PartsCensusTest {

    static final long GIB = 1L << 30;
    final Map<String, Placement> placements = new HashMap<>();
    final Set<String> alive = new HashSet<>(Set.of("node-1", "node-2", "node-3"));

    VolumeParts volume(String name, Layout layout, String... nodes) {
        List<VolumeParts.Part> parts = new ArrayList<>();
        for (int i = 0; i < nodes.length; i++) {
            String part = PartNames.of(name, i);
            parts.add(new VolumeParts.Part(part, i, GIB));
            if (nodes[i] != null) {
                placements.put(part, Placement.of(part, "pool-" + nodes[i], nodes[i], Engine.LVM, GIB, true, 1, "node-9",
                        null, null, Instant.EPOCH));
            }
        }
        return VolumeParts.of(name, layout, parts, layout == Layout.MIRROR ? "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9" : null,
                Instant.EPOCH);
    }

    Map<Layout, Map<String, Integer>> count(VolumeParts... records) {
        return PartsCensus.count(List.of(records), part -> Optional.ofNullable(placements.get(part)), alive::contains);
    }

    @Test
    void everyStateOfEveryMultiPartLayoutIsThereZerosIncluded() {
        assertThat(count()).containsOnlyKeys(Layout.LINEAR, Layout.STRIPED, Layout.MIRROR);
        assertThat(count().get(Layout.MIRROR)).containsExactly(Map.entry("healthy", 0), Map.entry("degraded", 0),
                Map.entry("unreachable", 0));
    }

    @Test
    void aMirrorWithALegsNodeDownIsDegradedAndWithEveryLegsNodeDownUnreachable() {
        VolumeParts whole = volume("a", Layout.MIRROR, "node-1", "node-2");
        VolumeParts oneDown = volume("b", Layout.MIRROR, "node-1", "node-3");
        VolumeParts allDown = volume("c", Layout.MIRROR, "node-3", "node-4");
        alive.remove("node-3");

        assertThat(count(whole, oneDown, allDown).get(Layout.MIRROR))
                .containsExactly(Map.entry("healthy", 1), Map.entry("degraded", 1), Map.entry("unreachable", 1));
    }

    @Test
    void aLinearVolumeMissingOneSegmentOrOneUnplacedPartIsUnreachable() {
        VolumeParts segmentDown = volume("d", Layout.LINEAR, "node-1", "node-3");
        VolumeParts unplaced = volume("e", Layout.MIRROR, "node-1", null);
        alive.remove("node-3");

        assertThat(count(segmentDown, unplaced).get(Layout.LINEAR)).containsEntry("unreachable", 1);
        assertThat(count(segmentDown, unplaced).get(Layout.MIRROR)).as("a leg without a placement serves nothing")
                .containsEntry("degraded", 1);
    }

    @Test
    void aLegJoiningByAMoveIsNoLegThatServes() {
        VolumeParts moving = volume("f", Layout.MIRROR, "node-1", "node-3")
                .withJoining(new VolumeParts.Part("f--p2", 2, GIB, null, "f--p1"));
        placements.put("f--p2", Placement.of("f--p2", "pool-node-2", "node-2", Engine.LVM, GIB, true, 1, "node-9", null,
                null, Instant.EPOCH));
        alive.remove("node-3");
        assertThat(count(moving).get(Layout.MIRROR)).containsEntry("degraded", 1);
        alive.remove("node-1");
        assertThat(count(moving).get(Layout.MIRROR)).as("the joining leg has no data to serve").containsEntry("unreachable", 1);
        alive.add("node-1");
        alive.add("node-3");
        alive.remove("node-2");
        assertThat(count(moving).get(Layout.MIRROR)).containsEntry("healthy", 1);
    }
}
