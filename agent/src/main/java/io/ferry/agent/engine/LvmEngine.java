package io.ferry.agent.engine;

import io.ferry.model.Engine;
import io.ferry.model.OrphanOwner;
import io.ferry.model.PoolConfig;
import io.ferry.runtime.device.SignatureProbe;
import io.ferry.runtime.exec.CommandRunner;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Thick LVM ({@code lvm}) and LVM thin ({@code lvm-thin}) volumes.
 *
 * <p>An LV is Ferry's volume {@code v} when it is named {@code v} and tagged
 * {@code ferry.volume=v} and {@code ferry.cluster=<cluster id>}; a snapshot {@code s} is the LV
 * {@code s.snap} tagged {@code ferry.snapshot=s}. LVs made before cluster ids existed carry the
 * agent's {@code --cluster} name instead (the legacy tag): one that a work item of this cluster
 * names is re-tagged with the id once, when it is next used; one no work item names is reported
 * as an unmarked orphan and left alone. An LV tagged with any other cluster is never adopted,
 * changed or removed. Both conditions are required, so an LV that only
 * inherited a tag (thin snapshots copy their origin's tags) or an operator's LV that happens to
 * share a name is never taken for Ferry's. Every command on one volume group carries the same lock
 * key, because concurrent lvm commands on one VG queue on LVM's own lock and then time out.
 *
 * <p>Thick clones need a byte copy, which can be interrupted: they are copied into
 * {@code <volume>.new} and renamed (an atomic metadata change) only when complete; a {@code .new}
 * LV is a leftover by definition.
 */
public final class LvmEngine implements VolumeEngine {

    static final String LV_FIELDS = LvmCommands.LV_FIELDS;
    static final String VG_FIELDS = LvmCommands.VG_FIELDS;

    private final Engine kind;
    /** This cluster's id, set by {@link #bindCluster}; every new tag carries it. */
    private final ClusterBinding cluster = new ClusterBinding();
    private final LvmCommands lvm;
    private final LvmOwnership ownership;
    private final LvmPools pools;
    private final LvmThickVolumes thick;

    /** @param legacyCluster the {@code --cluster} name that tagged LVs before cluster ids existed */
    public LvmEngine(Engine kind, CommandRunner runner, String legacyCluster, Duration timeout, Duration copyTimeout) {
        if (kind != Engine.LVM && kind != Engine.LVM_THIN) {
            throw new IllegalArgumentException("not an LVM engine: " + kind);
        }
        this.kind = kind;
        this.lvm = new LvmCommands(runner, timeout);
        this.ownership = new LvmOwnership(cluster, legacyCluster, lvm);
        this.pools = new LvmPools(kind == Engine.LVM_THIN, cluster, lvm, new SignatureProbe(runner));
        this.thick = new LvmThickVolumes(cluster, lvm, ownership, runner, copyTimeout);
    }

    public static LvmEngine of(Engine kind, CommandRunner runner, String legacyCluster) {
        return new LvmEngine(kind, runner, legacyCluster, Duration.ofSeconds(120), Duration.ofHours(6));
    }

    @Override
    public void bindCluster(String clusterId) {
        cluster.bind(clusterId);
    }

    @Override
    public Engine kind() {
        return kind;
    }

    @Override
    public boolean available() {
        return Tools.exists("lvm") && Tools.exists("lvcreate") && (kind == Engine.LVM || Tools.exists("thin_check"));
    }

    private boolean thin() {
        return kind == Engine.LVM_THIN;
    }

    // ---- pool ----

    @Override
    public void preparePool(PoolConfig pool) {
        preparePool(pool, false);
    }

    /** See {@link LvmPools#prepare}: a pool whose volumes live on this node is never prepared. */
    @Override
    public void preparePool(PoolConfig pool, boolean holdsVolumes) {
        pools.prepare(pool, holdsVolumes);
    }

    @Override
    public PoolState poolState(PoolConfig pool) {
        return pools.state(pool);
    }

    // ---- volumes ----

    @Override
    public Optional<LocalVolume> findVolume(PoolConfig pool, String volume) {
        return lvm.findLv(vg(pool), volume).filter(lv -> ownership.isVolume(lv, volume)).map(lv -> ownership.restamp(vg(pool), lv))
                .map(lv -> new LocalVolume(volume, lv.sizeBytes(), lv.active() ? lv.path() : null));
    }

    @Override
    public LocalVolume createVolume(PoolConfig pool, String volume, long sizeBytes, boolean thinVolume,
            Content content) {
        cluster.require();
        String vg = vg(pool);
        Optional<LvmReport.Lv> existing = lvm.findLv(vg, volume);
        if (existing.isPresent()) {
            if (ownership.otherCluster(existing.get())) {
                throw EngineException.permanent("LV " + vg + "/" + volume + " belongs to another Ferry cluster ("
                        + existing.get().tag("ferry.cluster") + "), not this one (" + cluster.require() + "); it is never"
                        + " adopted, changed or deleted here");
            }
            if (!ownership.isVolume(existing.get(), volume)) {
                throw EngineException.permanent("an LV named " + vg + "/" + volume + " exists but is not tagged as"
                        + " Ferry volume " + volume + " of cluster " + cluster.require() + "; refusing to touch it");
            }
            return expandVolume(pool, volume, sizeBytes, thinVolume);
        }
        List<String> tags = List.of("--addtag", "ferry.volume=" + volume, "--addtag", "ferry.cluster=" + cluster.require());
        if (content.isEmpty() && !thin()) {
            thick.createZeroed(vg, volume, sizeBytes);
        } else if (content.isEmpty()) {
            // Unprovisioned blocks of a thin volume read zeros, and the pool zeroes each chunk it
            // provisions (see preparePool and the ZeroesNewBlocks condition): nothing to wipe.
            List<String> argv = new ArrayList<>(List.of("lvcreate", "-y", "-n", volume, "-V", sizeBytes + "b",
                    "--thinpool", vg + "/" + pool.source().thinPool()));
            argv.addAll(tags);
            lvm.run(argv, vg);
        } else {
            String sourceLv = content.snapshot() != null ? snapshotLv(content.snapshot()) : content.volume();
            LvmReport.Lv source = lvm.findLv(vg, sourceLv).orElseThrow(() -> EngineException.transientFailure(
                    (content.snapshot() != null ? "snapshot " + content.snapshot() : "source volume " + content.volume())
                            + " does not exist in " + vg));
            if (thin()) {
                // A thin snapshot is an instant, writable copy: the clone is one metadata operation.
                List<String> argv = new ArrayList<>(List.of("lvcreate", "-y", "-s", "-kn", "-ay", "-n", volume));
                argv.addAll(tags);
                argv.add(vg + "/" + sourceLv);
                lvm.run(argv, vg);
            } else {
                thick.cloneFrom(vg, volume, source, sizeBytes);
            }
        }
        return expandVolume(pool, volume, sizeBytes, thinVolume);
    }

    @Override
    public LocalVolume expandVolume(PoolConfig pool, String volume, long sizeBytes, boolean thinVolume) {
        String vg = vg(pool);
        LvmReport.Lv lv = lvm.findLv(vg, volume).filter(l -> ownership.isVolume(l, volume)).map(l -> ownership.restamp(vg, l))
                .orElseThrow(() -> EngineException.transientFailure("volume " + vg + "/" + volume + " does not exist"));
        if (lv.sizeBytes() < sizeBytes) {
            if (!thin()) {
                // The extents lvextend adds held whatever was there before (a deleted volume's
                // blocks). The offset they start at is recorded on the LV first, so that a crash
                // between the extension and the zeroing is finished by whoever activates the
                // volume next, before it is served at its new size.
                lv = thick.finishGrowth(vg, lv);
                lvm.run(List.of("lvchange", "--addtag", LvmThickVolumes.ZERO_FROM_TAG + "=" + lv.sizeBytes(), vg + "/" + volume), vg);
            }
            lvm.run(List.of("lvextend", "-L", sizeBytes + "b", vg + "/" + volume), vg);
        }
        return activate(pool, volume);
    }

    /** The time allowed for zeroing {@code bytes}: see {@link LvmThickVolumes#zeroTimeout}. */
    Duration zeroTimeout(long bytes) {
        return thick.zeroTimeout(bytes);
    }

    @Override
    public LocalVolume activate(PoolConfig pool, String volume) {
        String vg = vg(pool);
        LvmReport.Lv lv = lvm.findLv(vg, volume).filter(l -> ownership.isVolume(l, volume)).map(l -> ownership.restamp(vg, l))
                .orElseThrow(() -> EngineException.transientFailure("volume " + vg + "/" + volume + " does not exist"));
        if (!lv.active()) {
            lvm.run(List.of("lvchange", "-ay", "-K", vg + "/" + volume), vg);
            lv = lvm.findLv(vg, volume).orElseThrow();
        }
        lv = thick.finishGrowth(vg, lv);
        String path = lv.path() != null ? lv.path() : "/dev/" + vg + "/" + volume;
        return new LocalVolume(volume, lv.sizeBytes(), path);
    }

    @Override
    public void deleteVolume(PoolConfig pool, String volume) {
        cluster.require();
        String vg = vg(pool);
        for (String name : List.of(volume + LvmThickVolumes.PARTIAL_SUFFIX, volume)) {
            Optional<LvmReport.Lv> lv = lvm.findLv(vg, name);
            if (lv.isPresent() && (ownership.isVolume(lv.get(), volume) || (name.endsWith(LvmThickVolumes.PARTIAL_SUFFIX) && ownership.ours(lv.get())))) {
                lvm.run(List.of("lvremove", "-y", vg + "/" + name), vg);
            }
        }
    }

    // ---- snapshots ----

    @Override
    public Optional<LocalSnapshot> findSnapshot(PoolConfig pool, String snapshot) {
        return lvm.findLv(vg(pool), snapshotLv(snapshot)).filter(lv -> ownership.isSnapshot(lv, snapshot))
                .map(lv -> new LocalSnapshot(snapshot, null, lv.sizeBytes(), null));
    }

    @Override
    public LocalSnapshot createSnapshot(PoolConfig pool, String snapshot, String sourceVolume) {
        Optional<LocalSnapshot> existing = findSnapshot(pool, snapshot);
        if (existing.isPresent()) {
            return existing.get();
        }
        String vg = vg(pool);
        LvmReport.Lv source = lvm.findLv(vg, sourceVolume).filter(l -> ownership.isVolume(l, sourceVolume)).orElseThrow(() ->
                EngineException.transientFailure("source volume " + vg + "/" + sourceVolume + " does not exist"));
        List<String> argv = new ArrayList<>(List.of("lvcreate", "-y", "-s", "-n", snapshotLv(snapshot)));
        if (!thin()) {
            // A thick (COW) snapshot needs room for every block the origin may rewrite: size it
            // like the origin so it can never overflow and become invalid.
            argv.addAll(List.of("-L", source.sizeBytes() + "b"));
        }
        argv.addAll(List.of("--addtag", "ferry.snapshot=" + snapshot, "--addtag", "ferry.cluster=" + cluster.require(),
                vg + "/" + sourceVolume));
        lvm.run(argv, vg);
        return new LocalSnapshot(snapshot, sourceVolume, source.sizeBytes(), Instant.now());
    }

    @Override
    public void deleteSnapshot(PoolConfig pool, String snapshot) {
        String vg = vg(pool);
        Optional<LvmReport.Lv> lv = lvm.findLv(vg, snapshotLv(snapshot));
        if (lv.isPresent() && ownership.isSnapshot(lv.get(), snapshot)) {
            lvm.run(List.of("lvremove", "-y", vg + "/" + snapshotLv(snapshot)), vg);
        }
    }

    // ---- inventory ----

    @Override
    public Inventory inventory(PoolConfig pool) {
        cluster.require();
        String vg = vg(pool);
        List<LocalVolume> volumes = new ArrayList<>();
        List<LocalSnapshot> snapshots = new ArrayList<>();
        List<String> leftovers = new ArrayList<>();
        List<Inventory.Unowned> unowned = new ArrayList<>();
        for (LvmReport.Lv lv : lvm.listLvs(vg)) {
            if (!inThisPool(lv, pool)) {
                continue;
            }
            String tagged = lv.tag("ferry.volume");
            if (!ownership.ours(lv)) {
                // Shaped like a Ferry volume but not this cluster's: reported, never touched.
                if (tagged != null && tagged.equals(lv.name()) && lv.tag("ferry.snapshot") == null) {
                    unowned.add(new Inventory.Unowned(tagged, lv.sizeBytes(), ownership.ownerOf(lv), lv.tag("ferry.cluster")));
                }
                continue;
            }
            String vol = lv.tag("ferry.volume");
            String snap = lv.tag("ferry.snapshot");
            if (lv.name().endsWith(LvmThickVolumes.PARTIAL_SUFFIX)) {
                leftovers.add(lv.name());
            } else if (vol != null && vol.equals(lv.name())) {
                volumes.add(new LocalVolume(vol, lv.sizeBytes(), lv.active() ? lv.path() : null));
            } else if (snap != null && lv.name().equals(snapshotLv(snap))) {
                snapshots.add(new LocalSnapshot(snap, null, lv.sizeBytes(), null));
            }
        }
        return new Inventory(volumes, snapshots, leftovers, unowned);
    }

    @Override
    public Optional<OrphanOwner> owner(PoolConfig pool, String volume) {
        cluster.require();
        return lvm.findLv(vg(pool), volume).filter(lv -> volume.equals(lv.tag("ferry.volume"))).map(ownership::ownerOf);
    }

    @Override
    public void removeOrphan(PoolConfig pool, String volume) {
        cluster.require();
        String vg = vg(pool);
        LvmReport.Lv lv = lvm.findLv(vg, volume).orElseThrow(() -> EngineException.permanent("LV " + vg + "/" + volume
                + " does not exist"));
        if (!ownership.ours(lv) || !volume.equals(lv.tag("ferry.volume"))) {
            throw EngineException.permanent("LV " + vg + "/" + volume + " does not carry this cluster's tags"
                    + " (ferry.cluster=" + cluster.require() + ", ferry.volume=" + volume + "; it has "
                    + (lv.tags().isEmpty() ? "none" : String.join(",", lv.tags())) + "); it is never removed by Ferry");
        }
        lvm.run(List.of("lvremove", "-y", vg + "/" + volume), vg);
    }

    @Override
    public void removeLeftover(PoolConfig pool, String leftover) {
        if (!leftover.endsWith(LvmThickVolumes.PARTIAL_SUFFIX)) {
            throw new IllegalArgumentException("not a leftover of this engine: " + leftover);
        }
        String vg = vg(pool);
        Optional<LvmReport.Lv> lv = lvm.findLv(vg, leftover);
        if (lv.isPresent() && ownership.ours(lv.get())) {
            lvm.run(List.of("lvremove", "-y", vg + "/" + leftover), vg);
        }
    }

    // ---- helpers ----

    /** A thin pool's volumes live in it; thick volumes are plain LVs of the group. */
    private boolean inThisPool(LvmReport.Lv lv, PoolConfig pool) {
        return thin() ? pool.source().thinPool().equals(lv.poolLv()) : lv.poolLv() == null;
    }

    /**
     * The LV of a snapshot. A prefix rather than a suffix: LVM reserves names that start with
     * "snapshot", and Kubernetes names its snapshots snapshot-&lt;uuid&gt;.
     */
    static String snapshotLv(String snapshot) {
        return "snap." + snapshot;
    }

    static String vg(PoolConfig pool) {
        return pool.source().volumeGroup();
    }


}
