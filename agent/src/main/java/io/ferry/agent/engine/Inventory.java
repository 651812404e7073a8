package io.ferry.agent.engine;

import java.util.List;

/**
 * Everything Ferry-shaped an engine found in one pool.
 *
 * @param volumes   volumes, named after their Ferry volume
 * @param snapshots snapshots, named after their Ferry snapshot
 * @param leftovers objects that are Ferry's but belong to no volume or snapshot any more (a
 *                  half-written file of a create that crashed, a loop device whose file is gone);
 *                  {@link VolumeEngine#removeLeftover} may delete them without losing data
 */
public record Inventory(List<LocalVolume> volumes, List<LocalSnapshot> snapshots, List<String> leftovers) {

    public Inventory {
        volumes = List.copyOf(volumes);
        snapshots = List.copyOf(snapshots);
        leftovers = List.copyOf(leftovers);
    }

    public static Inventory empty() {
        return new Inventory(List.of(), List.of(), List.of());
    }
}
