package io.ferry.agent.engine;

import io.ferry.model.OrphanOwner;

import java.util.List;

/**
 * Everything Ferry-shaped an engine found in one pool.
 *
 * @param volumes   volumes carrying this cluster's ownership marker, named after their Ferry volume
 * @param snapshots snapshots, named after their Ferry snapshot
 * @param leftovers objects that are Ferry's but belong to no volume or snapshot any more (a
 *                  half-written file of a create that crashed, a loop device whose file is gone);
 *                  {@link VolumeEngine#removeLeftover} may delete them without losing data
 * @param unowned   objects shaped like a volume that do not carry this cluster's marker: another
 *                  cluster's, or unmarked (somebody's file, a volume made before cluster ids). They
 *                  are reported, and adopted only when a work item of this cluster names an unmarked one
 */
public record Inventory(List<LocalVolume> volumes, List<LocalSnapshot> snapshots, List<String> leftovers,
        List<Unowned> unowned) {

    /** A volume-shaped object without this cluster's marker; {@code owner} is never THIS_CLUSTER. */
    public record Unowned(String volume, long sizeBytes, OrphanOwner owner, String markedBy) {
    }

    public Inventory {
        volumes = List.copyOf(volumes);
        snapshots = List.copyOf(snapshots);
        leftovers = List.copyOf(leftovers);
        unowned = List.copyOf(unowned);
    }

    public Inventory(List<LocalVolume> volumes, List<LocalSnapshot> snapshots, List<String> leftovers) {
        this(volumes, snapshots, leftovers, List.of());
    }

    public static Inventory empty() {
        return new Inventory(List.of(), List.of(), List.of());
    }
}
