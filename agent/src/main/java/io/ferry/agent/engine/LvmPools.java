package io.ferry.agent.engine;

import io.ferry.model.Condition;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolReason;
import io.ferry.runtime.device.SignatureProbe;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * An LVM pool's volume group (and thin pool): made from blank devices when the config asks for it,
 * never over a signature unless forced, never again for a pool whose volumes live on this node;
 * and its state, from the group's or the thin pool's report.
 */
final class LvmPools {

    private static final double HIGH_WATERMARK = 90.0;

    private final boolean thin;
    private final ClusterBinding cluster;
    private final LvmCommands lvm;
    private final SignatureProbe probe;
    /** Pools found holding volumes at their last preparation, for the message of a missing group. */
    private final Set<String> waitingForStorage = ConcurrentHashMap.newKeySet();

    LvmPools(boolean thin, ClusterBinding cluster, LvmCommands lvm, SignatureProbe probe) {
        this.thin = thin;
        this.cluster = cluster;
        this.lvm = lvm;
        this.probe = probe;
    }

    /**
     * A pool whose volumes live on this node is never prepared: its group missing means its disk is
     * missing (unplugged, not yet scanned, renamed), and a group made anew on whatever the device
     * paths name today would be empty and would take the returning disk's group name.
     */
    void prepare(PoolConfig pool, boolean holdsVolumes) {
        if (holdsVolumes) {
            waitingForStorage.add(pool.name());
            return;
        }
        waitingForStorage.remove(pool.name());
        if (!pool.prepare()) {
            return;
        }
        cluster.require();
        String vg = LvmEngine.vg(pool);
        if (lvm.findVg(vg).isEmpty()) {
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
            argv.addAll(List.of("--addtag", "ferry.cluster=" + cluster.require(), vg));
            argv.addAll(pool.source().devices());
            lvm.run(argv, vg);
        }
        if (thin && lvm.findLv(vg, pool.source().thinPool()).isEmpty()) {
            // --zero y: a chunk the pool provisions for a thin volume is zeroed before use, so the
            // part of it the volume has not written yet never shows an earlier volume's bytes.
            lvm.run(List.of("lvcreate", "-y", "--type", "thin-pool", "--zero", "y", "-l", "90%FREE", "-n",
                    pool.source().thinPool(), "--addtag", "ferry.cluster=" + cluster.require(), vg), vg);
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

    PoolState state(PoolConfig pool) {
        String vg = LvmEngine.vg(pool);
        Optional<LvmReport.Vg> group = lvm.findVg(vg);
        if (group.isEmpty()) {
            return PoolState.unavailable(PoolReason.VOLUME_GROUP_NOT_FOUND, "volume group " + vg + " does not exist"
                    + (waitingForStorage.contains(pool.name()) ? "; volumes of pool " + pool.name() + " live on"
                    + " this node, so it is not created again: bring its disk back" : ""));
        }
        if (group.get().missingPvs() > 0) {
            return PoolState.unavailable(PoolReason.MISSING_PHYSICAL_VOLUME, "volume group " + vg + " is missing "
                    + group.get().missingPvs() + " physical volume(s)");
        }
        if (!thin) {
            LvmReport.Vg g = group.get();
            return new PoolState(g.sizeBytes(), g.freeBytes(), null, null, List.of(
                    Condition.of(Condition.AVAILABLE, true, PoolReason.VOLUME_GROUP_ACTIVE, vg + " is present"),
                    Condition.of(Condition.SPACE_OK, g.freeBytes() > 0, g.freeBytes() > 0 ? PoolReason.SPACE_AVAILABLE : PoolReason.FULL,
                            null)), true);
        }
        String poolLv = pool.source().thinPool();
        Optional<LvmReport.Lv> tp = lvm.findLv(vg, poolLv);
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
}
