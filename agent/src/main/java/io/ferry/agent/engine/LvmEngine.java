package io.ferry.agent.engine;

import io.ferry.model.PoolReason;
import io.ferry.model.Condition;
import io.ferry.model.Engine;
import io.ferry.model.OrphanOwner;
import io.ferry.model.PoolConfig;
import io.ferry.runtime.device.SignatureProbe;
import io.ferry.runtime.exec.Command;
import io.ferry.runtime.exec.CommandFailedException;
import io.ferry.runtime.exec.CommandResult;
import io.ferry.runtime.exec.CommandRunner;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

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

    static final String LV_FIELDS = "lv_name,vg_name,lv_size,lv_tags,lv_path,data_percent,metadata_percent,pool_lv,lv_attr";
    static final String VG_FIELDS = "vg_name,vg_size,vg_free,vg_extent_size,vg_missing_pv_count";
    private static final String PARTIAL_SUFFIX = ".new";
    /** On a thick volume being grown: the byte offset from which its new extents are still to be zeroed. */
    static final String ZERO_FROM_TAG = "ferry.zero-from";
    private static final double HIGH_WATERMARK = 90.0;
    /** The slowest zeroing rate allowed for, in bytes per second: see {@link #zeroTimeout(long)}. */
    static final long ZERO_FLOOR_BYTES_PER_SECOND = 16L << 20;

    private final Engine kind;
    private final CommandRunner runner;
    private final SignatureProbe probe;
    /** The {@code --cluster} name LVs were tagged with before cluster ids. */
    private final String legacyCluster;
    /** This cluster's id, set by {@link #bindCluster}; every new tag carries it. */
    private volatile String cluster;
    private final Duration timeout;
    private final Duration copyTimeout;
    /** Pools found holding volumes at their last preparation, for the message of a missing group. */
    private final Set<String> waitingForStorage = ConcurrentHashMap.newKeySet();

    /** @param legacyCluster the {@code --cluster} name that tagged LVs before cluster ids existed */
    public LvmEngine(Engine kind, CommandRunner runner, String legacyCluster, Duration timeout, Duration copyTimeout) {
        if (kind != Engine.LVM && kind != Engine.LVM_THIN) {
            throw new IllegalArgumentException("not an LVM engine: " + kind);
        }
        this.kind = kind;
        this.runner = runner;
        this.probe = new SignatureProbe(runner);
        this.legacyCluster = legacyCluster;
        this.timeout = timeout;
        this.copyTimeout = copyTimeout;
    }

    public static LvmEngine of(Engine kind, CommandRunner runner, String legacyCluster) {
        return new LvmEngine(kind, runner, legacyCluster, Duration.ofSeconds(120), Duration.ofHours(6));
    }

    @Override
    public void bindCluster(String clusterId) {
        this.cluster = clusterId;
    }

    /** Called first by everything that tags, adopts or removes: without the id nothing is Ferry's. */
    private void requireCluster() {
        if (cluster == null) {
            throw EngineException.transientFailure("this agent does not know its cluster id yet; nothing is created,"
                    + " adopted or deleted until it does");
        }
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

    /**
     * A pool whose volumes live on this node is never prepared: its group missing means its disk is
     * missing (unplugged, not yet scanned, renamed), and a group made anew on whatever the device
     * paths name today would be empty and would take the returning disk's group name.
     */
    @Override
    public void preparePool(PoolConfig pool, boolean holdsVolumes) {
        if (holdsVolumes) {
            waitingForStorage.add(pool.name());
            return;
        }
        waitingForStorage.remove(pool.name());
        if (!pool.prepare()) {
            return;
        }
        requireCluster();
        String vg = vg(pool);
        if (findVg(vg).isEmpty()) {
            if (pool.source().devices().isEmpty()) {
                return;
            }
            if (!pool.force()) {
                refuseUnlessBlank(pool, vg);
            }
            // Without -y, vgcreate asks before wiping a signature it finds and, with no terminal to
            // answer, refuses: LVM itself never wipes silently unless the operator said force.
            List<String> argv = new ArrayList<>(List.of("vgcreate"));
            if (pool.force()) {
                argv.add("-y");
            }
            argv.addAll(List.of("--addtag", "ferry.cluster=" + cluster, vg));
            argv.addAll(pool.source().devices());
            run(argv, vg);
        }
        if (thin() && findLv(vg, pool.source().thinPool()).isEmpty()) {
            // --zero y: a chunk the pool provisions for a thin volume is zeroed before use, so the
            // part of it the volume has not written yet never shows an earlier volume's bytes.
            run(List.of("lvcreate", "-y", "--type", "thin-pool", "--zero", "y", "-l", "90%FREE", "-n",
                    pool.source().thinPool(), "--addtag", "ferry.cluster=" + cluster, vg), vg);
        }
    }

    /**
     * Only reached when the volume group does not exist yet, so a group Ferry already made is never
     * probed again. A device left as a bare PV by a vgcreate that died half-way is refused too: an
     * orphan PV looks the same whoever made it, and only the operator can say it is safe to reuse.
     */
    private void refuseUnlessBlank(PoolConfig pool, String vg) {
        List<String> found = new ArrayList<>();
        for (String device : pool.source().devices()) {
            List<SignatureProbe.Signature> signatures = probe.probe(device);
            if (!signatures.isEmpty()) {
                found.add(device + " carries " + SignatureProbe.describe(signatures));
            }
        }
        if (!found.isEmpty()) {
            throw EngineException.permanent("refusing to create volume group " + vg + ": " + String.join("; ", found)
                    + ". Wipe the device(s) yourself if the data is not needed, or set \"force\": true in pool "
                    + pool.name() + "'s config to let LVM overwrite them");
        }
    }

    @Override
    public PoolState poolState(PoolConfig pool) {
        String vg = vg(pool);
        Optional<LvmReport.Vg> group = findVg(vg);
        if (group.isEmpty()) {
            return PoolState.unavailable(PoolReason.VOLUME_GROUP_NOT_FOUND, "volume group " + vg + " does not exist"
                    + (waitingForStorage.contains(pool.name()) ? "; volumes of pool " + pool.name() + " live on"
                    + " this node, so it is not created again: bring its disk back" : ""));
        }
        if (group.get().missingPvs() > 0) {
            return PoolState.unavailable(PoolReason.MISSING_PHYSICAL_VOLUME, "volume group " + vg + " is missing "
                    + group.get().missingPvs() + " physical volume(s)");
        }
        if (!thin()) {
            LvmReport.Vg g = group.get();
            return new PoolState(g.sizeBytes(), g.freeBytes(), null, null, List.of(
                    Condition.of(Condition.AVAILABLE, true, PoolReason.VOLUME_GROUP_ACTIVE, vg + " is present"),
                    Condition.of(Condition.SPACE_OK, g.freeBytes() > 0, g.freeBytes() > 0 ? PoolReason.SPACE_AVAILABLE : PoolReason.FULL,
                            null)), true);
        }
        String poolLv = pool.source().thinPool();
        Optional<LvmReport.Lv> tp = findLv(vg, poolLv);
        if (tp.isEmpty()) {
            return PoolState.unavailable(PoolReason.THIN_POOL_NOT_FOUND, "thin pool " + vg + "/" + poolLv + " does not exist");
        }
        LvmReport.Lv t = tp.get();
        double data = t.dataPercent() == null ? 0 : t.dataPercent();
        double meta = t.metadataPercent() == null ? 0 : t.metadataPercent();
        long free = (long) (t.sizeBytes() * (100 - data) / 100);
        boolean spaceOk = data < HIGH_WATERMARK && meta < HIGH_WATERMARK;
        boolean zeroes = t.zeroesNewBlocks();
        return new PoolState(t.sizeBytes(), free, data, meta, List.of(
                Condition.of(Condition.AVAILABLE, t.active(), t.active() ? PoolReason.THIN_POOL_ACTIVE : PoolReason.THIN_POOL_INACTIVE,
                        vg + "/" + poolLv + (t.active() ? " is active" : " is not active")),
                Condition.of(Condition.SPACE_OK, spaceOk, spaceOk ? PoolReason.BELOW_WATERMARK : PoolReason.ABOVE_WATERMARK,
                        "data " + data + "%, metadata " + meta + "%"),
                // Reported, not refused: the pool predates Ferry or was changed by hand, and turning
                // zeroing on is the operator's call (it costs a write of every chunk provisioned).
                Condition.of(Condition.ZEROES_NEW_BLOCKS, zeroes, zeroes ? PoolReason.THIN_POOL_ZEROES : PoolReason.THIN_POOL_ZEROING_OFF,
                        zeroes ? null : "thin pool " + vg + "/" + poolLv + " does not zero the chunks it provisions:"
                        + " the unwritten part of a chunk a new volume writes to can show an earlier volume's bytes;"
                        + " lvchange --zero y " + vg + "/" + poolLv + " turns zeroing on")), t.active() && meta < 95);
    }

    // ---- volumes ----

    @Override
    public Optional<LocalVolume> findVolume(PoolConfig pool, String volume) {
        return findLv(vg(pool), volume).filter(lv -> isVolume(lv, volume)).map(lv -> restamp(vg(pool), lv))
                .map(lv -> new LocalVolume(volume, lv.sizeBytes(), lv.active() ? lv.path() : null));
    }

    @Override
    public LocalVolume createVolume(PoolConfig pool, String volume, long sizeBytes, boolean thinVolume,
            Content content) {
        requireCluster();
        String vg = vg(pool);
        Optional<LvmReport.Lv> existing = findLv(vg, volume);
        if (existing.isPresent()) {
            if (otherCluster(existing.get())) {
                throw EngineException.permanent("LV " + vg + "/" + volume + " belongs to another Ferry cluster ("
                        + existing.get().tag("ferry.cluster") + "), not this one (" + cluster + "); it is never"
                        + " adopted, changed or deleted here");
            }
            if (!isVolume(existing.get(), volume)) {
                throw EngineException.permanent("an LV named " + vg + "/" + volume + " exists but is not tagged as"
                        + " Ferry volume " + volume + " of cluster " + cluster + "; refusing to touch it");
            }
            return expandVolume(pool, volume, sizeBytes, thinVolume);
        }
        List<String> tags = List.of("--addtag", "ferry.volume=" + volume, "--addtag", "ferry.cluster=" + cluster);
        if (content.isEmpty() && !thin()) {
            createZeroedThick(vg, volume, sizeBytes);
        } else if (content.isEmpty()) {
            // Unprovisioned blocks of a thin volume read zeros, and the pool zeroes each chunk it
            // provisions (see preparePool and the ZeroesNewBlocks condition): nothing to wipe.
            List<String> argv = new ArrayList<>(List.of("lvcreate", "-y", "-n", volume, "-V", sizeBytes + "b",
                    "--thinpool", vg + "/" + pool.source().thinPool()));
            argv.addAll(tags);
            run(argv, vg);
        } else {
            String sourceLv = content.snapshot() != null ? snapshotLv(content.snapshot()) : content.volume();
            LvmReport.Lv source = findLv(vg, sourceLv).orElseThrow(() -> EngineException.transientFailure(
                    (content.snapshot() != null ? "snapshot " + content.snapshot() : "source volume " + content.volume())
                            + " does not exist in " + vg));
            if (thin()) {
                // A thin snapshot is an instant, writable copy: the clone is one metadata operation.
                List<String> argv = new ArrayList<>(List.of("lvcreate", "-y", "-s", "-kn", "-ay", "-n", volume));
                argv.addAll(tags);
                argv.add(vg + "/" + sourceLv);
                run(argv, vg);
            } else {
                cloneThick(vg, volume, source, sizeBytes);
            }
        }
        return expandVolume(pool, volume, sizeBytes, thinVolume);
    }

    /**
     * A new thick LV holds whatever its extents held before: another tenant's blocks, or data that
     * was on the disk before it became a PV ({@code -Z y} clears only the first 4 KiB). It is made
     * under the leftover name {@code <volume>.new}, zeroed whole, and only then tagged and renamed,
     * so the volume's name never points at unzeroed blocks: a crash before the rename leaves a
     * leftover that is removed and made again, never a volume that is served or zeroed later. Only
     * an LV this call just created is ever zeroed; a volume that exists is never touched.
     */
    private void createZeroedThick(String vg, String volume, long sizeBytes) {
        String partial = freshPartial(vg, volume);
        run(List.of("lvcreate", "-y", "-n", partial, "-L", sizeBytes + "b", "-W", "y", "-Z", "y",
                "--addtag", "ferry.cluster=" + cluster, vg), vg);
        zeroFrom(vg, partial, 0);
        run(List.of("lvchange", "--addtag", "ferry.volume=" + volume, vg + "/" + partial), vg);
        run(List.of("lvrename", vg, partial, volume), vg);
    }

    private void cloneThick(String vg, String volume, LvmReport.Lv source, long sizeBytes) {
        String partial = freshPartial(vg, volume);
        long size = Math.max(sizeBytes, source.sizeBytes());
        run(List.of("lvcreate", "-y", "-n", partial, "-L", size + "b", "-W", "y",
                "--addtag", "ferry.cluster=" + cluster, vg), vg);
        if (!source.active()) {
            run(List.of("lvchange", "-ay", "-K", vg + "/" + source.name()), vg);
        }
        runner.run(Command.of("dd", "if=/dev/" + vg + "/" + source.name(), "of=/dev/" + vg + "/" + partial, "bs=4M",
                "oflag=direct", "conv=fsync", "status=none").withTimeout(copyTimeout));
        // The copy covers the source's bytes only; a clone larger than its source would show its
        // extents' old contents past them. The LV can be larger still (rounded up to whole extents),
        // so the tail is zeroed to the LV's end, whatever its size.
        if (size > source.sizeBytes()) {
            zeroFrom(vg, partial, source.sizeBytes());
        }
        run(List.of("lvchange", "--addtag", "ferry.volume=" + volume, vg + "/" + partial), vg);
        run(List.of("lvrename", vg, partial, volume), vg);
    }

    /**
     * The name a new thick volume is built under, with any earlier attempt's LV of that name
     * removed: it is a leftover by definition, and starting over is the only way to know every
     * block of it was written by this attempt. An LV of that name without our cluster tag is not
     * ours to remove.
     */
    private String freshPartial(String vg, String volume) {
        String partial = volume + PARTIAL_SUFFIX;
        Optional<LvmReport.Lv> earlier = findLv(vg, partial);
        if (earlier.isPresent()) {
            if (!ours(earlier.get())) {
                throw EngineException.permanent("an LV named " + vg + "/" + partial + " exists but is not tagged"
                        + " ferry.cluster=" + cluster + "; refusing to remove it to build volume " + volume);
            }
            run(List.of("lvremove", "-y", vg + "/" + partial), vg);
        }
        return partial;
    }

    /**
     * Writes zeros from {@code offset} to the end of the LV. {@code blkdiscard --zeroout} issues
     * WRITE ZEROES, which thin-provisioned or SSD back ends do without moving data and the kernel
     * otherwise carries out by writing zero pages. Not serialized with the group's lvm commands: it
     * takes no LVM lock, and holding the key would stall every other volume of the group meanwhile.
     */
    private void zeroFrom(String vg, String lv, long offset) {
        zeroFrom(vg, lv, offset, false);
    }

    /**
     * @param inUse the LV may be open (mounted, exported): blkdiscard opens its device exclusively
     *              unless forced, and the range written is one no consumer has been given yet
     */
    private void zeroFrom(String vg, String lv, long offset, boolean inUse) {
        long size = findLv(vg, lv).map(LvmReport.Lv::sizeBytes).orElseThrow(() -> EngineException.transientFailure(
                "LV " + vg + "/" + lv + " vanished while it was being zeroed"));
        List<String> argv = new ArrayList<>(List.of("blkdiscard", "--zeroout"));
        if (inUse) {
            argv.add("--force");
        }
        if (offset > 0) {
            argv.addAll(List.of("--offset", Long.toString(offset)));
        }
        argv.add("/dev/" + vg + "/" + lv);
        runner.run(Command.of(argv).withTimeout(zeroTimeout(size - offset)));
    }

    /**
     * The time allowed for writing {@code bytes} of zeros: the lvm timeout plus the bytes at
     * {@link #ZERO_FLOOR_BYTES_PER_SECOND}, a rate even a busy spinning disk sustains, so that a
     * large volume is not killed half-way while a hung device is still noticed.
     */
    Duration zeroTimeout(long bytes) {
        return timeout.plusSeconds(Math.max(0, bytes) / ZERO_FLOOR_BYTES_PER_SECOND + 1);
    }

    @Override
    public LocalVolume expandVolume(PoolConfig pool, String volume, long sizeBytes, boolean thinVolume) {
        String vg = vg(pool);
        LvmReport.Lv lv = findLv(vg, volume).filter(l -> isVolume(l, volume)).map(l -> restamp(vg, l))
                .orElseThrow(() -> EngineException.transientFailure("volume " + vg + "/" + volume + " does not exist"));
        if (lv.sizeBytes() < sizeBytes) {
            if (!thin()) {
                // The extents lvextend adds held whatever was there before (a deleted volume's
                // blocks). The offset they start at is recorded on the LV first, so that a crash
                // between the extension and the zeroing is finished by whoever activates the
                // volume next, before it is served at its new size.
                lv = finishZeroingGrowth(vg, lv);
                run(List.of("lvchange", "--addtag", ZERO_FROM_TAG + "=" + lv.sizeBytes(), vg + "/" + volume), vg);
            }
            run(List.of("lvextend", "-L", sizeBytes + "b", vg + "/" + volume), vg);
        }
        return activate(pool, volume);
    }

    /**
     * Zeroes a thick volume from the offset its {@value #ZERO_FROM_TAG} tag records (where an
     * extension began) to its end, then drops the tag. The range has not been reported to anyone
     * yet: the volume's status carries the new size only after this returns.
     */
    private LvmReport.Lv finishZeroingGrowth(String vg, LvmReport.Lv lv) {
        String recorded = lv.tag(ZERO_FROM_TAG);
        if (recorded == null) {
            return lv;
        }
        long offset;
        try {
            offset = Long.parseLong(recorded);
        } catch (NumberFormatException e) {
            offset = -1;
        }
        if (offset <= 0) {
            // Zeroing from a guessed offset could wipe the volume's data; serving it could show
            // another tenant's blocks. Neither happens without a person looking.
            throw EngineException.permanent("LV " + vg + "/" + lv.name() + " carries the tag " + ZERO_FROM_TAG + "="
                    + recorded + ", which is not an offset Ferry wrote; its grown part may not be zeroed, so it is not"
                    + " served. Check the LV (lvs -o +lv_tags), then remove the tag (lvchange --deltag)");
        }
        if (offset < lv.sizeBytes()) {
            zeroFrom(vg, lv.name(), offset, true);
        }
        run(List.of("lvchange", "--deltag", ZERO_FROM_TAG + "=" + recorded, vg + "/" + lv.name()), vg);
        return findLv(vg, lv.name()).orElseThrow(() -> EngineException.transientFailure("volume " + vg + "/"
                + lv.name() + " vanished while its grown part was zeroed"));
    }

    @Override
    public LocalVolume activate(PoolConfig pool, String volume) {
        String vg = vg(pool);
        LvmReport.Lv lv = findLv(vg, volume).filter(l -> isVolume(l, volume)).map(l -> restamp(vg, l))
                .orElseThrow(() -> EngineException.transientFailure("volume " + vg + "/" + volume + " does not exist"));
        if (!lv.active()) {
            run(List.of("lvchange", "-ay", "-K", vg + "/" + volume), vg);
            lv = findLv(vg, volume).orElseThrow();
        }
        lv = finishZeroingGrowth(vg, lv);
        String path = lv.path() != null ? lv.path() : "/dev/" + vg + "/" + volume;
        return new LocalVolume(volume, lv.sizeBytes(), path);
    }

    @Override
    public void deleteVolume(PoolConfig pool, String volume) {
        requireCluster();
        String vg = vg(pool);
        for (String name : List.of(volume + PARTIAL_SUFFIX, volume)) {
            Optional<LvmReport.Lv> lv = findLv(vg, name);
            if (lv.isPresent() && (isVolume(lv.get(), volume) || (name.endsWith(PARTIAL_SUFFIX) && ours(lv.get())))) {
                run(List.of("lvremove", "-y", vg + "/" + name), vg);
            }
        }
    }

    // ---- snapshots ----

    @Override
    public Optional<LocalSnapshot> findSnapshot(PoolConfig pool, String snapshot) {
        return findLv(vg(pool), snapshotLv(snapshot)).filter(lv -> isSnapshot(lv, snapshot))
                .map(lv -> new LocalSnapshot(snapshot, null, lv.sizeBytes(), null));
    }

    @Override
    public LocalSnapshot createSnapshot(PoolConfig pool, String snapshot, String sourceVolume) {
        Optional<LocalSnapshot> existing = findSnapshot(pool, snapshot);
        if (existing.isPresent()) {
            return existing.get();
        }
        String vg = vg(pool);
        LvmReport.Lv source = findLv(vg, sourceVolume).filter(l -> isVolume(l, sourceVolume)).orElseThrow(() ->
                EngineException.transientFailure("source volume " + vg + "/" + sourceVolume + " does not exist"));
        List<String> argv = new ArrayList<>(List.of("lvcreate", "-y", "-s", "-n", snapshotLv(snapshot)));
        if (!thin()) {
            // A thick (COW) snapshot needs room for every block the origin may rewrite: size it
            // like the origin so it can never overflow and become invalid.
            argv.addAll(List.of("-L", source.sizeBytes() + "b"));
        }
        argv.addAll(List.of("--addtag", "ferry.snapshot=" + snapshot, "--addtag", "ferry.cluster=" + cluster,
                vg + "/" + sourceVolume));
        run(argv, vg);
        return new LocalSnapshot(snapshot, sourceVolume, source.sizeBytes(), Instant.now());
    }

    @Override
    public void deleteSnapshot(PoolConfig pool, String snapshot) {
        String vg = vg(pool);
        Optional<LvmReport.Lv> lv = findLv(vg, snapshotLv(snapshot));
        if (lv.isPresent() && isSnapshot(lv.get(), snapshot)) {
            run(List.of("lvremove", "-y", vg + "/" + snapshotLv(snapshot)), vg);
        }
    }

    // ---- inventory ----

    @Override
    public Inventory inventory(PoolConfig pool) {
        requireCluster();
        String vg = vg(pool);
        List<LocalVolume> volumes = new ArrayList<>();
        List<LocalSnapshot> snapshots = new ArrayList<>();
        List<String> leftovers = new ArrayList<>();
        List<Inventory.Unowned> unowned = new ArrayList<>();
        for (LvmReport.Lv lv : listLvs(vg)) {
            if (!inThisPool(lv, pool)) {
                continue;
            }
            String tagged = lv.tag("ferry.volume");
            if (!ours(lv)) {
                // Shaped like a Ferry volume but not this cluster's: reported, never touched.
                if (tagged != null && tagged.equals(lv.name()) && lv.tag("ferry.snapshot") == null) {
                    unowned.add(new Inventory.Unowned(tagged, lv.sizeBytes(), ownerOf(lv), lv.tag("ferry.cluster")));
                }
                continue;
            }
            String vol = lv.tag("ferry.volume");
            String snap = lv.tag("ferry.snapshot");
            if (lv.name().endsWith(PARTIAL_SUFFIX)) {
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
        requireCluster();
        return findLv(vg(pool), volume).filter(lv -> volume.equals(lv.tag("ferry.volume"))).map(this::ownerOf);
    }

    @Override
    public void removeOrphan(PoolConfig pool, String volume) {
        requireCluster();
        String vg = vg(pool);
        LvmReport.Lv lv = findLv(vg, volume).orElseThrow(() -> EngineException.permanent("LV " + vg + "/" + volume
                + " does not exist"));
        if (!ours(lv) || !volume.equals(lv.tag("ferry.volume"))) {
            throw EngineException.permanent("LV " + vg + "/" + volume + " does not carry this cluster's tags"
                    + " (ferry.cluster=" + cluster + ", ferry.volume=" + volume + "; it has "
                    + (lv.tags().isEmpty() ? "none" : String.join(",", lv.tags())) + "); it is never removed by Ferry");
        }
        run(List.of("lvremove", "-y", vg + "/" + volume), vg);
    }

    @Override
    public void removeLeftover(PoolConfig pool, String leftover) {
        if (!leftover.endsWith(PARTIAL_SUFFIX)) {
            throw new IllegalArgumentException("not a leftover of this engine: " + leftover);
        }
        String vg = vg(pool);
        Optional<LvmReport.Lv> lv = findLv(vg, leftover);
        if (lv.isPresent() && ours(lv.get())) {
            run(List.of("lvremove", "-y", vg + "/" + leftover), vg);
        }
    }

    // ---- helpers ----

    private boolean ours(LvmReport.Lv lv) {
        requireCluster();
        return cluster.equals(lv.tag("ferry.cluster"));
    }

    /** Tagged with the {@code --cluster} name of before cluster ids (and not already with the id). */
    private boolean legacy(LvmReport.Lv lv) {
        return legacyCluster != null && !legacyCluster.equals(cluster) && legacyCluster.equals(lv.tag("ferry.cluster"));
    }

    private boolean otherCluster(LvmReport.Lv lv) {
        return lv.tag("ferry.cluster") != null && !ours(lv) && !legacy(lv);
    }

    private OrphanOwner ownerOf(LvmReport.Lv lv) {
        if (ours(lv)) {
            return OrphanOwner.THIS_CLUSTER;
        }
        return otherCluster(lv) ? OrphanOwner.OTHER_CLUSTER : OrphanOwner.UNMARKED;
    }

    /**
     * Only ever called for an LV a work item of this cluster names: one with the legacy tag gets
     * this cluster's id in its place, so it is this cluster's from now on.
     */
    private LvmReport.Lv restamp(String vg, LvmReport.Lv lv) {
        if (!legacy(lv)) {
            return lv;
        }
        run(List.of("lvchange", "--deltag", "ferry.cluster=" + legacyCluster, "--addtag", "ferry.cluster=" + cluster,
                vg + "/" + lv.name()), vg);
        return findLv(vg, lv.name()).orElse(lv);
    }

    /** Used for a work item's volume: this cluster's, or legacy-tagged (re-tagged on use). */
    private boolean isVolume(LvmReport.Lv lv, String volume) {
        return (ours(lv) || legacy(lv)) && lv.name().equals(volume) && volume.equals(lv.tag("ferry.volume"));
    }

    private boolean isSnapshot(LvmReport.Lv lv, String snapshot) {
        return (ours(lv) || legacy(lv)) && lv.name().equals(snapshotLv(snapshot))
                && snapshot.equals(lv.tag("ferry.snapshot"));
    }

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

    private static String vg(PoolConfig pool) {
        return pool.source().volumeGroup();
    }

    private Optional<LvmReport.Vg> findVg(String vg) {
        CommandResult r = runner.execute(command(List.of("vgs", "--reportformat", "json", "--units", "b", "--nosuffix",
                "-o", VG_FIELDS, vg), vg));
        if (!r.succeeded()) {
            if (notFound(r)) {
                return Optional.empty();
            }
            throw new CommandFailedException(r);
        }
        return LvmReport.vgs(r.stdout()).stream().filter(g -> g.name().equals(vg)).findFirst();
    }

    private List<LvmReport.Lv> listLvs(String vg) {
        CommandResult r = runner.execute(command(List.of("lvs", "--reportformat", "json", "--units", "b", "--nosuffix",
                "-o", LV_FIELDS, vg), vg));
        if (!r.succeeded()) {
            if (notFound(r)) {
                return List.of();
            }
            throw new CommandFailedException(r);
        }
        return LvmReport.lvs(r.stdout());
    }

    private Optional<LvmReport.Lv> findLv(String vg, String name) {
        return listLvs(vg).stream().filter(lv -> lv.name().equals(name)).findFirst();
    }

    private static boolean notFound(CommandResult r) {
        String err = r.stderr();
        return err.contains("not found") || err.contains("Failed to find");
    }

    private void run(List<String> argv, String vg) {
        runner.run(command(argv, vg));
    }

    private Command command(List<String> argv, String vg) {
        return Command.of(argv).withTimeout(timeout).serializedBy("lvm:" + vg);
    }
}
