package io.ferry.agent.engine;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Which loop device serves which file, as last seen. Rebuilt from one {@code losetup --list} per
 * inventory and kept current by the engine's own attaches and detaches; every hit is verified
 * against sysfs before use. Without it each lookup would be a {@code losetup --associated}, which
 * scans every loop device: quadratic on a node with a thousand volumes.
 */
final class LoopIndex {

    private final LoopDevices loops;
    private final Path sysBlock;
    private final Map<Path, String> deviceIndex = new ConcurrentHashMap<>();
    private volatile boolean indexed;

    LoopIndex(LoopDevices loops, Path sysBlock) {
        this.loops = loops;
        this.sysBlock = sysBlock;
    }

    /** False where sysfs cannot confirm an answer (unit tests, odd hosts): then losetup is asked each time. */
    boolean sysfsAvailable() {
        return Files.isDirectory(sysBlock);
    }

    void remember(Path file, String device) {
        deviceIndex.put(file, device);
    }

    void forget(Path file) {
        deviceIndex.remove(file);
    }

    /**
     * Loop devices serving {@code file}, first one first. Uses the index when sysfs can confirm its
     * answer; otherwise asks losetup directly.
     */
    List<String> devicesFor(Path file) {
        if (!Files.exists(file)) {
            // Only a device attached to an earlier, deleted inode can name a missing path, and such a
            // device serves nothing this path will ever hold (the orphan scan detaches it). Skipping
            // losetup here matters: it scans every loop device, and creates and deletes ask this for
            // temporary files that never have one.
            deviceIndex.remove(file);
            return List.of();
        }
        if (!sysfsAvailable()) {
            return loops.backedBy(file).stream().map(LoopDevices.Loop::device).sorted().toList();
        }
        if (!indexed) {
            rebuild(loops.all());
        }
        String device = deviceIndex.get(file);
        if (device != null && file.toString().equals(sysfsBackingFile(device))) {
            return List.of(device);
        }
        // A miss is rare (a device lost at reboot, a concurrent inventory): ask losetup itself,
        // since attaching on a wrong "no device" would give the file a second device.
        List<String> found = loops.backedBy(file).stream().map(LoopDevices.Loop::device).sorted().toList();
        if (found.isEmpty()) {
            deviceIndex.remove(file);
        } else {
            deviceIndex.put(file, found.get(0));
        }
        return found;
    }

    /** True while {@code device} still serves {@code file} (a detach of an open device is deferred). */
    boolean stillServes(String device, Path file) {
        if (!sysfsAvailable()) {
            return loops.backedBy(file).stream().anyMatch(l -> l.device().equals(device));
        }
        return file.toString().equals(sysfsBackingFile(device));
    }

    /** Adds what a full listing shows; stale entries are harmless because every hit is verified. */
    void rebuild(List<LoopDevices.Loop> all) {
        for (LoopDevices.Loop loop : all) {
            if (!loop.backingFileDeleted()) {
                deviceIndex.merge(Path.of(loop.backingFile()), loop.device(), (a, b) -> a.compareTo(b) <= 0 ? a : b);
            }
        }
        indexed = true;
    }

    /** The loop device's size from sysfs, or -1 when sysfs does not say (tests, odd hosts). */
    long deviceBytes(String device) {
        Path size = sysBlock.resolve(Path.of(device).getFileName()).resolve("size");
        try {
            return Long.parseLong(Files.readString(size).strip()) * 512;
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
    }

    private String sysfsBackingFile(String device) {
        try {
            return Files.readString(sysBlock.resolve(Path.of(device).getFileName()).resolve("loop/backing_file"))
                    .strip();
        } catch (IOException e) {
            return null;
        }
    }
}
