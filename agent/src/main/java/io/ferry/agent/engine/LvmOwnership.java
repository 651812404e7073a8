package io.ferry.agent.engine;

import io.ferry.model.OrphanOwner;

import java.util.List;

/**
 * Whose an LV is, read from its tags: {@code ferry.cluster=<id>} for this cluster's, the legacy
 * {@code --cluster} name for one made before cluster ids (re-tagged with the id the first time a
 * work item uses it), anything else another cluster's, never touched.
 */
final class LvmOwnership {

    private final ClusterBinding cluster;
    /** The {@code --cluster} name LVs were tagged with before cluster ids. */
    private final String legacyCluster;
    private final LvmCommands lvm;

    LvmOwnership(ClusterBinding cluster, String legacyCluster, LvmCommands lvm) {
        this.cluster = cluster;
        this.legacyCluster = legacyCluster;
        this.lvm = lvm;
    }

    boolean ours(LvmReport.Lv lv) {
        return cluster.require().equals(lv.tag("ferry.cluster"));
    }

    /** Tagged with the {@code --cluster} name of before cluster ids (and not already with the id). */
    boolean legacy(LvmReport.Lv lv) {
        return legacyCluster != null && !legacyCluster.equals(cluster.require()) && legacyCluster.equals(lv.tag("ferry.cluster"));
    }

    boolean otherCluster(LvmReport.Lv lv) {
        return lv.tag("ferry.cluster") != null && !ours(lv) && !legacy(lv);
    }

    OrphanOwner ownerOf(LvmReport.Lv lv) {
        if (ours(lv)) {
            return OrphanOwner.THIS_CLUSTER;
        }
        return otherCluster(lv) ? OrphanOwner.OTHER_CLUSTER : OrphanOwner.UNMARKED;
    }

    /**
     * Only ever called for an LV a work item of this cluster names: one with the legacy tag gets
     * this cluster's id in its place, so it is this cluster's from now on.
     */
    LvmReport.Lv restamp(String vg, LvmReport.Lv lv) {
        if (!legacy(lv)) {
            return lv;
        }
        lvm.run(List.of("lvchange", "--deltag", "ferry.cluster=" + legacyCluster, "--addtag", "ferry.cluster=" + cluster.require(),
                vg + "/" + lv.name()), vg);
        return lvm.findLv(vg, lv.name()).orElse(lv);
    }

    /** Used for a work item's volume: this cluster's, or legacy-tagged (re-tagged on use). */
    boolean isVolume(LvmReport.Lv lv, String volume) {
        return (ours(lv) || legacy(lv)) && lv.name().equals(volume) && volume.equals(lv.tag("ferry.volume"));
    }

    boolean isSnapshot(LvmReport.Lv lv, String snapshot) {
        return (ours(lv) || legacy(lv)) && lv.name().equals(LvmEngine.snapshotLv(snapshot))
                && snapshot.equals(lv.tag("ferry.snapshot"));
    }
}
