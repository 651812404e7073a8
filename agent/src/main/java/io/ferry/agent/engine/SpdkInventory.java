package io.ferry.agent.engine;

import io.ferry.agent.engine.SpdkLvolNames.ParsedLvol;
import io.ferry.model.OrphanOwner;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * An lvstore's lvols sorted by what their names say: this cluster's volumes and snapshots; an
 * origin of this cluster whose volume is gone (under either name) is a leftover; volumes of another
 * cluster or of before cluster ids are {@link Inventory#unowned()}. Others' snapshots and origins
 * are nobody's business here.
 */
final class SpdkInventory {

    private SpdkInventory() {
    }

    /**
     * @param marker       this cluster's marker
     * @param sizes        each lvol's size
     * @param markedOrigin the lvol name of this cluster's origin of a volume
     */
    static Inventory of(String marker, List<ParsedLvol> all, Map<ParsedLvol, Long> sizes,
            UnaryOperator<String> markedOrigin) {
        List<LocalVolume> volumes = new ArrayList<>();
        List<LocalSnapshot> snapshots = new ArrayList<>();
        List<Inventory.Unowned> unowned = new ArrayList<>();
        List<String> origins = new ArrayList<>();
        Set<String> volumeNames = new HashSet<>();
        for (ParsedLvol p : all) {
            boolean ours = marker.equals(p.marker());
            switch (p.kind()) {
                case VOLUME -> {
                    volumeNames.add(p.name());
                    if (ours) {
                        volumes.add(new LocalVolume(p.name(), sizes.get(p), null));
                    } else {
                        unowned.add(new Inventory.Unowned(p.name(), sizes.get(p), p.marker() == null
                                ? OrphanOwner.UNMARKED : OrphanOwner.OTHER_CLUSTER, p.marker()));
                    }
                }
                case SNAPSHOT -> {
                    if (ours) {
                        snapshots.add(new LocalSnapshot(p.name(), null, sizes.get(p), null));
                    }
                }
                case ORIGIN -> {
                    if (ours) {
                        origins.add(p.name());
                    }
                }
            }
        }
        List<String> leftovers = new ArrayList<>();
        for (String v : origins) {
            if (!volumeNames.contains(v)) {
                leftovers.add(markedOrigin.apply(v));
            }
        }
        return new Inventory(volumes, snapshots, leftovers, unowned);
    }
}
