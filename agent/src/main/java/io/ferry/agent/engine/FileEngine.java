package io.ferry.agent.engine;

import io.ferry.model.Engine;
import io.ferry.model.OrphanOwner;
import io.ferry.model.PoolConfig;
import io.ferry.runtime.exec.Command;
import io.ferry.runtime.exec.CommandRunner;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * Volumes as files in a directory ({@code <dir>/<volume>.img}), each used through a loop device;
 * snapshots as copies ({@code <dir>/<snapshot>.snap}).
 *
 * <p>Crash safety comes from the file system: a volume or snapshot file with content (a copy, a
 * thick allocation) is first written under a hidden temporary name ({@code .<name>.tmp}) and
 * renamed into place only once complete, so a file with the final name is always whole, and a
 * temporary file is always garbage. An empty thin volume is created under its final name: it has
 * nothing to tear, and one left too short by a crash is grown by the next reconcile. The loop device is
 * found again through {@code losetup --associated}, so a restart never attaches a second one.
 *
 * <p>A deleted volume's file is emptied and kept as a spare for the next empty thin volume
 * ({@link FileSpares}); the pool's directory is claimed and measured by {@link FilePoolDirectory}.
 *
 * <p>Snapshots are copies made with {@code cp --sparse=always --reflink=auto}: on a file system
 * with reflinks (XFS, btrfs) the copy is instant and point-in-time; elsewhere it is a byte copy
 * that is only consistent if nothing writes to the volume meanwhile (the loop device's buffers are
 * flushed first, but a consumer writing during the copy yields a torn image). This engine is for
 * development and tests; production snapshots belong to the LVM thin and SPDK engines.
 */
public final class FileEngine implements VolumeEngine {

    private final CommandRunner runner;
    private final LoopDevices loops;
    private final LoopIndex loopIndex;
    private final FileSpares spares;
    private final FilePoolDirectory directories;
    private final FileInventory inventories;
    private final Duration timeout;
    private final Duration copyTimeout;
    /** This cluster's id, the ownership marker of the pool directory and of every file in it. */
    private final ClusterBinding cluster = new ClusterBinding();

    public FileEngine(CommandRunner runner, LoopDevices.Mechanism loopMechanism) {
        this(runner, LoopDevices.forHost(runner, Duration.ofSeconds(30), loopMechanism), Path.of("/sys/block"),
                Duration.ofSeconds(30), Duration.ofHours(2));
    }

    public FileEngine(CommandRunner runner, LoopDevices loops, Path sysBlock, Duration timeout, Duration copyTimeout) {
        this.runner = runner;
        this.loops = loops;
        this.loopIndex = new LoopIndex(loops, sysBlock);
        this.spares = new FileSpares(cluster);
        this.directories = new FilePoolDirectory(cluster, runner, timeout);
        this.inventories = new FileInventory(cluster, loops, loopIndex, spares, directories);
        this.timeout = timeout;
        this.copyTimeout = copyTimeout;
    }

    @Override
    public Engine kind() {
        return Engine.FILE;
    }

    @Override
    public boolean available() {
        return Tools.exists("losetup") && Tools.exists("cp");
    }

    public LoopDevices loopDevices() {
        return loops;
    }

    @Override
    public void bindCluster(String clusterId) {
        cluster.bind(clusterId);
    }

    // ---- pool ----

    @Override
    public void preparePool(PoolConfig pool) {
        preparePool(pool, false);
    }

    /**
     * Claims the pool's directory with a marker file, but only a directory that is provably
     * Ferry's to use; see {@link FilePoolDirectory#prepare}.
     */
    @Override
    public void preparePool(PoolConfig pool, boolean holdsVolumes) {
        directories.prepare(pool, holdsVolumes);
    }

    @Override
    public PoolState poolState(PoolConfig pool) {
        return poolState(pool, List.of(pool));
    }

    /** Capacity and free space of the pool, shared fairly with the pools on its file system. */
    @Override
    public PoolState poolState(PoolConfig pool, List<PoolConfig> allPools) {
        return directories.state(pool, allPools);
    }

    /** See {@link FileMarker#claim}: a file of another cluster is refused, an unmarked one marked. */
    private void claimFile(Path file, String what) {
        FileMarker.claim(file, cluster.require(), what);
    }


    // ---- volumes ----

    @Override
    public Optional<LocalVolume> findVolume(PoolConfig pool, String volume) {
        Path file = volumeFile(pool, volume);
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        if (FileMarker.owner(file, cluster.require()) == OrphanOwner.OTHER_CLUSTER) {
            claimFile(file, "volume " + volume);
        }
        String device = loopIndex.devicesFor(file).stream().findFirst().orElse(null);
        return Optional.of(new LocalVolume(volume, FileIo.length(file), device));
    }

    @Override
    public LocalVolume createVolume(PoolConfig pool, String volume, long sizeBytes, boolean thin, Content content) {
        Path file = volumeFile(pool, volume);
        directories.requireMarker(pool);
        if (!Files.isRegularFile(file) && thin && content.snapshot() == null && content.volume() == null) {
            // An empty sparse file has no content a crash could tear, so it skips the temporary name
            // and the two fsyncs, which waited behind etcd's own on a shared disk. A crash can at
            // worst leave it shorter than asked, and the next reconcile grows it. A consumer's
            // fsync through the loop device makes the file durable along with its data.
            if (!spares.reuse(pool, file, sizeBytes)) {
                FileIo.setLength(file, sizeBytes);
                // A crash before this leaves an unmarked file the work item names; its next
                // reconcile marks it (claimFile) like any volume made before cluster ids.
                FileMarker.write(file, cluster.require());
            }
            return attachNew(pool, volume, file);
        }
        if (!Files.isRegularFile(file)) {
            Path source = null;
            if (content.snapshot() != null) {
                source = snapshotFile(pool, content.snapshot());
                FileIo.requireExists(source, "snapshot " + content.snapshot());
            } else if (content.volume() != null) {
                source = volumeFile(pool, content.volume());
                FileIo.requireExists(source, "source volume " + content.volume());
                flushLoops(source, pool);
            }
            Path tmp = FileLayout.tmpFile(file);
            // A temporary file is the remains of a create that crashed: start over.
            FileIo.io(() -> Files.deleteIfExists(tmp));
            if (source != null) {
                copy(source, tmp);
            } else {
                FileIo.io(() -> Files.createFile(tmp));
            }
            if (FileIo.length(tmp) < sizeBytes) {
                FileIo.setLength(tmp, sizeBytes);
            }
            if (!thin) {
                runner.run(Command.of("fallocate", "--length", Long.toString(sizeBytes), tmp.toString())
                        .withTimeout(copyTimeout));
            }
            // cp does not carry attributes over: a copy is marked as this cluster's like a new file.
            FileMarker.write(tmp, cluster.require());
            FileIo.publish(tmp, file);
            // The file is a new inode: no loop device can serve it yet, so skip the lookup.
            return attachNew(pool, volume, file);
        }
        return activate(pool, volume);
    }

    private LocalVolume attachNew(PoolConfig pool, String volume, Path file) {
        if (!loopIndex.sysfsAvailable()) {
            return activate(pool, volume);
        }
        String device = loops.attach(file, FileLayout.lockKey(pool));
        loopIndex.remember(file, device);
        return new LocalVolume(volume, FileIo.length(file), device);
    }

    @Override
    public LocalVolume expandVolume(PoolConfig pool, String volume, long sizeBytes, boolean thin) {
        Path file = volumeFile(pool, volume);
        directories.requireMarker(pool);
        FileIo.requireExists(file, "volume " + volume);
        claimFile(file, "volume " + volume);
        if (FileIo.length(file) < sizeBytes) {
            if (thin) {
                FileIo.setLength(file, sizeBytes);
            } else {
                runner.run(Command.of("fallocate", "--length", Long.toString(sizeBytes), file.toString())
                        .withTimeout(copyTimeout));
            }
            FileIo.sync(file);
        }
        for (String device : loopIndex.devicesFor(file)) {
            if (loopIndex.deviceBytes(device) != FileIo.length(file)) {
                loops.refreshCapacity(device, FileLayout.lockKey(pool));
            }
        }
        return activate(pool, volume);
    }

    @Override
    public LocalVolume activate(PoolConfig pool, String volume) {
        Path file = volumeFile(pool, volume);
        // A file of the right name in a directory that is not the pool's (somebody else's image, a
        // directory the pool was pointed at by mistake) is not a volume to hand out.
        directories.requireMarker(pool);
        FileIo.requireExists(file, "volume " + volume);
        claimFile(file, "volume " + volume);
        List<String> devices = loopIndex.devicesFor(file);
        String device;
        if (devices.isEmpty()) {
            device = loops.attach(file, FileLayout.lockKey(pool));
            loopIndex.remember(file, device);
        } else {
            device = devices.get(0);
            // Two devices on one file would let two writers cache the same blocks independently.
            for (String extra : devices.subList(1, devices.size())) {
                loops.detach(extra, FileLayout.lockKey(pool));
            }
            loopIndex.remember(file, device);
        }
        long size = FileIo.length(file);
        long seen = loopIndex.deviceBytes(device);
        if (seen >= 0 && seen != size) {
            loops.refreshCapacity(device, FileLayout.lockKey(pool));
        }
        return new LocalVolume(volume, size, device);
    }

    @Override
    public void deleteVolume(PoolConfig pool, String volume) {
        Path file = volumeFile(pool, volume);
        if (Files.isRegularFile(file)) {
            claimFile(file, "volume " + volume);
        }
        for (Path f : List.of(file, FileLayout.tmpFile(file))) {
            List<String> devices = loopIndex.devicesFor(f);
            for (String device : devices) {
                loops.detach(device, FileLayout.lockKey(pool));
            }
            loopIndex.forget(f);
            // The kernel only defers the detach of an open loop device (a mount, a process holding
            // it): its user can go on reading and writing the file. Emptying or recycling the file
            // then would hand live data to the next volume, so the deletion waits until it is closed.
            List<String> open = devices.stream().filter(device -> loopIndex.stillServes(device, f)).toList();
            if (!open.isEmpty()) {
                throw EngineException.transientFailure("volume " + volume + " is in use: loop device "
                        + String.join(", ", open) + " is still open (mounted, or held by a process); the kernel"
                        + " detaches it once it is closed, and the volume is deleted then");
            }
            if (!f.equals(file) || !spares.keep(pool, f)) {
                FileIo.io(() -> Files.deleteIfExists(f));
            }
        }
    }

    // ---- snapshots ----

    @Override
    public Optional<LocalSnapshot> findSnapshot(PoolConfig pool, String snapshot) {
        Path file = snapshotFile(pool, snapshot);
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        return Optional.of(FileIo.describeSnapshot(snapshot, file));
    }

    @Override
    public LocalSnapshot createSnapshot(PoolConfig pool, String snapshot, String sourceVolume) {
        directories.requireMarker(pool);
        Path file = snapshotFile(pool, snapshot);
        if (!Files.isRegularFile(file)) {
            Path source = volumeFile(pool, sourceVolume);
            FileIo.requireExists(source, "source volume " + sourceVolume);
            flushLoops(source, pool);
            claimFile(source, "source volume " + sourceVolume);
            Path tmp = FileLayout.tmpFile(file);
            FileIo.io(() -> Files.deleteIfExists(tmp));
            copy(source, tmp);
            FileMarker.write(tmp, cluster.require());
            FileIo.publish(tmp, file);
        }
        return FileIo.describeSnapshot(snapshot, file);
    }

    @Override
    public void deleteSnapshot(PoolConfig pool, String snapshot) {
        Path file = snapshotFile(pool, snapshot);
        if (Files.isRegularFile(file)) {
            claimFile(file, "snapshot " + snapshot);
        }
        FileIo.io(() -> Files.deleteIfExists(file));
        FileIo.io(() -> Files.deleteIfExists(FileLayout.tmpFile(file)));
    }

    // ---- inventory ----

    @Override
    public Inventory inventory(PoolConfig pool) {
        return inventories.inventory(pool);
    }

    @Override
    public Optional<OrphanOwner> owner(PoolConfig pool, String volume) {
        Path file = volumeFile(pool, volume);
        return Files.isRegularFile(file) ? Optional.of(FileMarker.owner(file, cluster.require())) : Optional.empty();
    }

    @Override
    public void removeOrphan(PoolConfig pool, String volume) {
        Path file = volumeFile(pool, volume);
        directories.requireMarker(pool);
        OrphanOwner owner = owner(pool, volume).orElseThrow(() -> EngineException.permanent(file
                + " does not exist"));
        if (owner != OrphanOwner.THIS_CLUSTER) {
            throw EngineException.permanent(file + " does not carry this cluster's ownership marker (it is "
                    + owner + "); it is never removed by Ferry");
        }
        deleteVolume(pool, volume);
    }

    @Override
    public void removeLeftover(PoolConfig pool, String leftover) {
        if (leftover.startsWith("/dev/")) {
            loops.detach(leftover, FileLayout.lockKey(pool));
            return;
        }
        if (!FileLayout.isTmpName(leftover) || leftover.contains("/")) {
            throw new IllegalArgumentException("not a leftover of this engine: " + leftover);
        }
        Path file = dir(pool).resolve(leftover);
        for (LoopDevices.Loop loop : loops.backedBy(file)) {
            loops.detach(loop.device(), FileLayout.lockKey(pool));
        }
        loopIndex.forget(file);
        FileIo.io(() -> Files.deleteIfExists(file));
    }

    // ---- helpers ----

    public static Path dir(PoolConfig pool) {
        return FileLayout.dir(pool);
    }

    public static Path volumeFile(PoolConfig pool, String volume) {
        return FileLayout.volumeFile(pool, volume);
    }

    public static Path snapshotFile(PoolConfig pool, String snapshot) {
        return FileLayout.snapshotFile(pool, snapshot);
    }

    private void copy(Path source, Path target) {
        runner.run(Command.of("cp", "--sparse=always", "--reflink=auto", source.toString(), target.toString())
                .withTimeout(copyTimeout));
    }

    /**
     * Writes what a consumer left in the loop device's page cache through to the file, so a copy of
     * the file sees it. Without this a snapshot would miss recent, acknowledged writes.
     */
    private void flushLoops(Path file, PoolConfig pool) {
        for (String device : loopIndex.devicesFor(file)) {
            runner.run(Command.of("blockdev", "--flushbufs", device).withTimeout(timeout));
        }
    }
}
