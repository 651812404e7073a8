package io.ferry.agent.engine;

import io.ferry.model.OrphanOwner;
import io.ferry.model.PoolConfig;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What a file pool's directory holds, read in one pass: this cluster's volumes (with the loop
 * device serving each, from one {@code losetup --list}), snapshots, files of other or no cluster,
 * and the leftovers of interrupted operations (temporary files, loop devices on deleted files).
 * Spares it comes across are handed to {@link FileSpares}.
 */
final class FileInventory {

    private final ClusterBinding cluster;
    private final LoopDevices loops;
    private final LoopIndex devices;
    private final FileSpares spares;
    private final FilePoolDirectory directories;

    FileInventory(ClusterBinding cluster, LoopDevices loops, LoopIndex devices, FileSpares spares,
            FilePoolDirectory directories) {
        this.cluster = cluster;
        this.loops = loops;
        this.devices = devices;
        this.spares = spares;
        this.directories = directories;
    }

    Inventory inventory(PoolConfig pool) {
        Path dir = FileLayout.dir(pool);
        if (!Files.isDirectory(dir)) {
            return Inventory.empty();
        }
        Map<String, String> deviceByFile = new HashMap<>();
        List<String> leftovers = new ArrayList<>();
        List<LoopDevices.Loop> all = loops.all();
        devices.rebuild(all);
        for (LoopDevices.Loop loop : all) {
            Path back = Path.of(loop.backingFile());
            if (!dir.equals(back.getParent())) {
                continue;
            }
            if (loop.backingFileDeleted() || back.getFileName().toString().endsWith(FileLayout.TMP_SUFFIX)) {
                leftovers.add(loop.device());
            } else {
                deviceByFile.merge(back.toString(), loop.device(), (a, b) -> a.compareTo(b) <= 0 ? a : b);
            }
        }
        List<LocalVolume> volumes = new ArrayList<>();
        List<LocalSnapshot> snapshots = new ArrayList<>();
        List<Inventory.Unowned> unowned = new ArrayList<>();
        String us = cluster.require();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            for (Path p : entries) {
                String name = p.getFileName().toString();
                if (!Files.isRegularFile(p)) {
                    continue;
                }
                if (FileLayout.isSpareName(name)) {
                    spares.found(dir, p);
                    continue;
                }
                if (FileLayout.isTmpName(name)) {
                    if (FileLayout.isDataTmpName(name)) {
                        leftovers.add(name);
                    }
                    continue;
                }
                String vol = FileLayout.volumeOf(name);
                if (vol != null) {
                    OrphanOwner owner = FileMarker.owner(p, us);
                    if (owner == OrphanOwner.THIS_CLUSTER) {
                        volumes.add(new LocalVolume(vol, FileIo.length(p), deviceByFile.get(p.toString())));
                    } else {
                        unowned.add(new Inventory.Unowned(vol, FileIo.length(p), owner, FileMarker.read(p).orElse(null)));
                    }
                    continue;
                }
                String snap = FileLayout.snapshotOf(name);
                if (snap != null) {
                    snapshots.add(FileIo.describeSnapshot(snap, p));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir, e);
        }
        // Leftovers are removed without asking anyone: only in a directory this pool has claimed.
        boolean claimed = directories.claimedByThisPool(dir, pool);
        return new Inventory(volumes, snapshots, claimed ? leftovers : List.of(), unowned);
    }
}
