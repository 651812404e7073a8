package io.ferry.agent.engine;

import io.ferry.agent.engine.SpdkLvolNames.ParsedLvol;
import io.ferry.model.OrphanOwner;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

/** How an lvstore's lvols are sorted by their names: whose they are and what is left over. */
class SpdkInventoryTest {

    static final String OURS = SpdkLvolNames.marker("cluster-a");
    static final String THEIRS = SpdkLvolNames.marker("cluster-b");

    final Map<ParsedLvol, Long> sizes = new LinkedHashMap<>();

    void lvol(String name, long size) {
        sizes.put(SpdkLvolNames.parse(name).orElseThrow(), size);
    }

    Inventory inventory() {
        return SpdkInventory.of(OURS, List.copyOf(sizes.keySet()), sizes, v -> OURS + "_" + v + ".origin");
    }

    @Test
    void thisClustersVolumesAndSnapshotsAreItsOwnAndOthersVolumesAreReportedUnowned() {
        lvol(OURS + "_vol-a", 100);
        lvol(OURS + "_snap-a.snap", 50);
        lvol(THEIRS + "_vol-b", 200);
        lvol(THEIRS + "_snap-b.snap", 20);
        lvol("vol-c", 300);

        Inventory inv = inventory();

        assertThat(inv.volumes()).extracting(LocalVolume::name).containsExactly("vol-a");
        assertThat(inv.snapshots()).extracting(LocalSnapshot::name).containsExactly("snap-a");
        assertThat(inv.unowned()).extracting(Inventory.Unowned::volume, Inventory.Unowned::owner).containsExactly(
                tuple("vol-b", OrphanOwner.OTHER_CLUSTER),
                tuple("vol-c", OrphanOwner.UNMARKED));
        assertThat(inv.leftovers()).isEmpty();
    }

    @Test
    void anOriginOfOursIsALeftoverOnlyOnceItsVolumeIsGoneUnderEitherName() {
        lvol(OURS + "_vol-a.origin", 10);
        lvol(OURS + "_vol-b.origin", 10);
        lvol("vol-b", 10);
        lvol(OURS + "_vol-c.origin", 10);
        lvol(THEIRS + "_vol-d.origin", 10);

        assertThat(inventory().leftovers()).containsExactly(OURS + "_vol-a.origin", OURS + "_vol-c.origin");
    }
}
