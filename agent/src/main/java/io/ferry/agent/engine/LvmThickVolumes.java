package io.ferry.agent.engine;

import io.ferry.runtime.exec.Command;
import io.ferry.runtime.exec.CommandRunner;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Thick LVs never show blocks they did not write: a new or cloned one is built under a leftover
 * name, zeroed (or copied, then its tail zeroed) and only then given the volume's name; a grown
 * one records where its new extents start before it is extended, and they are zeroed before it is
 * served at its new size, after a crash too.
 */
final class LvmThickVolumes {

    static final String PARTIAL_SUFFIX = ".new";
    /** On a thick volume being grown: the byte offset from which its new extents are still to be zeroed. */
    static final String ZERO_FROM_TAG = "ferry.zero-from";
    /** The slowest zeroing rate allowed for, in bytes per second: see {@link #zeroTimeout(long)}. */
    static final long ZERO_FLOOR_BYTES_PER_SECOND = 16L << 20;

    private final ClusterBinding cluster;
    private final LvmCommands lvm;
    private final LvmOwnership ownership;
    private final CommandRunner runner;
    private final Duration copyTimeout;

    LvmThickVolumes(ClusterBinding cluster, LvmCommands lvm, LvmOwnership ownership, CommandRunner runner,
            Duration copyTimeout) {
        this.cluster = cluster;
        this.lvm = lvm;
        this.ownership = ownership;
        this.runner = runner;
        this.copyTimeout = copyTimeout;
    }

    /**
     * A new thick LV holds whatever its extents held before: another tenant's blocks, or data that
     * was on the disk before it became a PV ({@code -Z y} clears only the first 4 KiB). It is made
     * under the leftover name {@code <volume>.new}, zeroed whole, and only then tagged and renamed,
     * so the volume's name never points at unzeroed blocks: a crash before the rename leaves a
     * leftover that is removed and made again, never a volume that is served or zeroed later. Only
     * an LV this call just created is ever zeroed; a volume that exists is never touched.
     */
    void createZeroed(String vg, String volume, long sizeBytes) {
        String partial = freshPartial(vg, volume);
        lvm.run(List.of("lvcreate", "-y", "-n", partial, "-L", sizeBytes + "b", "-W", "y", "-Z", "y",
                "--addtag", "ferry.cluster=" + cluster.require(), vg), vg);
        zeroFrom(vg, partial, 0);
        lvm.run(List.of("lvchange", "--addtag", "ferry.volume=" + volume, vg + "/" + partial), vg);
        lvm.run(List.of("lvrename", vg, partial, volume), vg);
    }

    void cloneFrom(String vg, String volume, LvmReport.Lv source, long sizeBytes) {
        String partial = freshPartial(vg, volume);
        long size = Math.max(sizeBytes, source.sizeBytes());
        lvm.run(List.of("lvcreate", "-y", "-n", partial, "-L", size + "b", "-W", "y",
                "--addtag", "ferry.cluster=" + cluster.require(), vg), vg);
        if (!source.active()) {
            lvm.run(List.of("lvchange", "-ay", "-K", vg + "/" + source.name()), vg);
        }
        runner.run(Command.of("dd", "if=/dev/" + vg + "/" + source.name(), "of=/dev/" + vg + "/" + partial, "bs=4M",
                "oflag=direct", "conv=fsync", "status=none").withTimeout(copyTimeout));
        // The copy covers the source's bytes only; a clone larger than its source would show its
        // extents' old contents past them. The LV can be larger still (rounded up to whole extents),
        // so the tail is zeroed to the LV's end, whatever its size.
        if (size > source.sizeBytes()) {
            zeroFrom(vg, partial, source.sizeBytes());
        }
        lvm.run(List.of("lvchange", "--addtag", "ferry.volume=" + volume, vg + "/" + partial), vg);
        lvm.run(List.of("lvrename", vg, partial, volume), vg);
    }

    /**
     * The name a new thick volume is built under, with any earlier attempt's LV of that name
     * removed: it is a leftover by definition, and starting over is the only way to know every
     * block of it was written by this attempt. An LV of that name without our cluster tag is not
     * ours to remove.
     */
    private String freshPartial(String vg, String volume) {
        String partial = volume + PARTIAL_SUFFIX;
        Optional<LvmReport.Lv> earlier = lvm.findLv(vg, partial);
        if (earlier.isPresent()) {
            if (!ownership.ours(earlier.get())) {
                throw EngineException.permanent("an LV named " + vg + "/" + partial + " exists but is not tagged"
                        + " ferry.cluster=" + cluster.require() + "; refusing to remove it to build volume " + volume);
            }
            lvm.run(List.of("lvremove", "-y", vg + "/" + partial), vg);
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
        long size = lvm.findLv(vg, lv).map(LvmReport.Lv::sizeBytes).orElseThrow(() -> EngineException.transientFailure(
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
        return lvm.timeout().plusSeconds(Math.max(0, bytes) / ZERO_FLOOR_BYTES_PER_SECOND + 1);
    }

    /**
     * Zeroes a thick volume from the offset its {@value #ZERO_FROM_TAG} tag records (where an
     * extension began) to its end, then drops the tag. The range has not been reported to anyone
     * yet: the volume's status carries the new size only after this returns.
     */
    LvmReport.Lv finishGrowth(String vg, LvmReport.Lv lv) {
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
        lvm.run(List.of("lvchange", "--deltag", ZERO_FROM_TAG + "=" + recorded, vg + "/" + lv.name()), vg);
        return lvm.findLv(vg, lv.name()).orElseThrow(() -> EngineException.transientFailure("volume " + vg + "/"
                + lv.name() + " vanished while its grown part was zeroed"));
    }
}
