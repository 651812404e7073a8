package io.ferry.agent.engine;

import io.ferry.model.PoolReason;
import io.ferry.model.Condition;
import io.ferry.model.Engine;
import io.ferry.model.Names;
import io.ferry.model.OrphanOwner;
import io.ferry.model.PoolConfig;
import io.ferry.runtime.exec.Command;
import io.ferry.runtime.exec.CommandRunner;
import io.ferry.runtime.pool.PoolMarker;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

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
 * <p>A deleted volume's file is emptied (truncated to nothing, so no byte of it survives) and kept
 * under a hidden spare name ({@code .spare-<n>}) for the next empty thin volume, which takes it by a
 * rename. Creating an inode is the expensive part of a new file: on ext4 without a journal the
 * allocator skips every inode freed in the last 30 seconds, one by one, so under churn each create
 * cost a millisecond of kernel CPU, a quarter of an agent's work in the provisioning benchmark.
 * Spares are empty and never mistaken for volumes; one left by a crash is picked up again.
 *
 * <p>Snapshots are copies made with {@code cp --sparse=always --reflink=auto}: on a file system
 * with reflinks (XFS, btrfs) the copy is instant and point-in-time; elsewhere it is a byte copy
 * that is only consistent if nothing writes to the volume meanwhile (the loop device's buffers are
 * flushed first, but a consumer writing during the copy yields a torn image). This engine is for
 * development and tests; production snapshots belong to the LVM thin and SPDK engines.
 */
public final class FileEngine implements VolumeEngine {

    private static final String VOLUME_SUFFIX = ".img";
    private static final String SNAPSHOT_SUFFIX = ".snap";
    private static final String TMP_SUFFIX = ".tmp";
    private static final String SPARE_PREFIX = ".spare-";
    /** Spares kept per pool directory; more deleted files than this are unlinked as before. */
    static final int MAX_SPARES = 1024;

    private final CommandRunner runner;
    private final LoopDevices loops;
    private final Path sysBlock;
    private final Duration timeout;
    private final Duration copyTimeout;
    /**
     * Which loop device serves which file, as last seen. Rebuilt from one {@code losetup --list}
     * per inventory and kept current by this engine's own attaches and detaches; every hit is
     * verified against sysfs before use. Without it each lookup would be a {@code losetup
     * --associated}, which scans every loop device: quadratic on a node with a thousand volumes.
     */
    private final Map<Path, String> deviceIndex = new ConcurrentHashMap<>();
    /** Emptied files ready for reuse, per pool directory; filled by deletes and by each inventory. */
    private final Map<Path, Set<Path>> spares = new ConcurrentHashMap<>();
    /** Why a pool's directory was refused at the last preparation, by directory. */
    private final Map<Path, PoolState> refusals = new ConcurrentHashMap<>();
    private final AtomicLong spareSequence = new AtomicLong(System.currentTimeMillis());
    private volatile boolean indexed;
    /** This cluster's id, the ownership marker of the pool directory and of every file in it. */
    private volatile String cluster;

    public FileEngine(CommandRunner runner, LoopDevices.Mechanism loopMechanism) {
        this(runner, LoopDevices.forHost(runner, Duration.ofSeconds(30), loopMechanism), Path.of("/sys/block"),
                Duration.ofSeconds(30), Duration.ofHours(2));
    }

    public FileEngine(CommandRunner runner, LoopDevices loops, Path sysBlock, Duration timeout, Duration copyTimeout) {
        this.runner = runner;
        this.loops = loops;
        this.sysBlock = sysBlock;
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
        this.cluster = clusterId;
    }

    private String cluster() {
        String id = cluster;
        if (id == null) {
            throw EngineException.transientFailure("this agent does not know its cluster id yet; nothing is created,"
                    + " adopted or deleted until it does");
        }
        return id;
    }

    // ---- pool ----

    @Override
    public void preparePool(PoolConfig pool) {
        preparePool(pool, false);
    }

    /**
     * Claims the pool's directory with a marker file, but only a directory that is provably
     * Ferry's to use: one the agent creates itself, an empty one for a pool that holds no volumes
     * yet, or (pools made before markers existed) one that holds only Ferry's files for a pool that
     * does hold volumes. Anything else is refused and reported by {@link #poolState}: a directory
     * with somebody else's files, and above all an empty, unmarked directory of a pool whose volumes
     * live on this node, which is what a file system that did not mount at boot looks like. Creating
     * volumes there would hand out empty disks in place of the real ones.
     */
    @Override
    public void preparePool(PoolConfig pool, boolean holdsVolumes) {
        Path dir = dir(pool);
        refusals.remove(dir);
        if (!Files.isDirectory(dir)) {
            if (pool.prepare() && !holdsVolumes) {
                io(() -> Files.createDirectories(dir));
                writeMarker(dir, pool);
            } else if (holdsVolumes) {
                refusals.put(dir, PoolState.unavailable(PoolReason.DIRECTORY_NOT_FOUND, dir + " does not exist, but volumes of"
                        + " pool " + pool.name() + " live on this node; it is not re-created (is its file system"
                        + " mounted?)"));
            }
            return;
        }
        Optional<PoolMarker.Claim> claim = PoolMarker.claim(dir);
        if (claim.isPresent()) {
            String claimedBy = claim.get().cluster();
            if (claimedBy != null && !claimedBy.equals(cluster())) {
                refusals.put(dir, PoolState.unavailable(PoolReason.MARKER_OF_ANOTHER_CLUSTER, dir + " is claimed by pool "
                        + claim.get().pool() + " of another Ferry cluster (" + claimedBy + "); this is cluster "
                        + cluster() + ", and nothing of the other cluster's is ever touched"));
            } else if (!claim.get().pool().equals(pool.name())) {
                refusals.put(dir, PoolState.unavailable(PoolReason.MARKER_OF_ANOTHER_POOL, dir + " is marked as the directory of"
                        + " pool " + claim.get().pool() + ", not " + pool.name()));
            } else if (claimedBy == null) {
                // Written before cluster ids existed, by this pool: from now on it names this cluster.
                writeMarker(dir, pool);
            }
            return;
        }
        DirectoryContent content = contentOf(dir);
        if (!content.foreign().isEmpty()) {
            refusals.put(dir, PoolState.unavailable(PoolReason.FOREIGN_FILES, dir + " has no pool marker (" + PoolMarker.FILE_NAME
                    + ") and holds files that are not Ferry's (" + String.join(", ", content.foreign())
                    + "); use an empty directory"));
        } else if (holdsVolumes && !content.hasData()) {
            refusals.put(dir, PoolState.unavailable(PoolReason.MARKER_MISSING, dir + " is empty and has no pool marker ("
                    + PoolMarker.FILE_NAME + "), but volumes of pool " + pool.name() + " live on this node: the file system"
                    + " that holds them is probably not mounted; nothing is created there"));
        } else if (!holdsVolumes && content.hasData()) {
            refusals.put(dir, PoolState.unavailable(PoolReason.FOREIGN_FILES, dir + " has no pool marker and holds volume"
                    + " files no volume of this node accounts for; use an empty directory"));
        } else {
            writeMarker(dir, pool);
        }
    }

    /** What an unmarked directory holds: Ferry's volume or snapshot files, and anything else. */
    private record DirectoryContent(boolean hasData, List<String> foreign) {
    }

    private DirectoryContent contentOf(Path dir) {
        boolean data = false;
        List<String> foreign = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            for (Path p : entries) {
                String name = p.getFileName().toString();
                boolean file = Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS);
                if (file && (name.startsWith(SPARE_PREFIX) || name.startsWith(".") && name.endsWith(TMP_SUFFIX))) {
                    continue;
                }
                String vol = baseName(name, VOLUME_SUFFIX);
                String snap = baseName(name, SNAPSHOT_SUFFIX);
                if (file && (vol != null && Names.isValidVolumeName(vol) || snap != null && Names.isValidSnapshotName(snap))) {
                    data = true;
                } else if (foreign.size() < 5) {
                    foreign.add(name);
                } else {
                    foreign.set(4, "...");
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir, e);
        }
        return new DirectoryContent(data, foreign);
    }

    private void writeMarker(Path dir, PoolConfig pool) {
        Path tmp = dir.resolve(PoolMarker.FILE_NAME + TMP_SUFFIX);
        io(() -> Files.writeString(tmp, PoolMarker.text(pool.name(), pool.node(), cluster()), StandardCharsets.UTF_8));
        // The marker file carries the attribute too: a file system without user attributes is found
        // out here, before the pool is claimed, rather than at the first volume.
        try {
            FileMarker.write(tmp, cluster());
        } catch (EngineException e) {
            io(() -> Files.deleteIfExists(tmp));
            refusals.put(dir, PoolState.unavailable(PoolReason.NO_EXTENDED_ATTRIBUTES, e.getMessage()));
            return;
        }
        publish(tmp, dir.resolve(PoolMarker.FILE_NAME));
    }

    /** True when the directory carries this pool's marker naming this cluster. */
    private boolean claimedByThisPool(Path dir, PoolConfig pool) {
        Optional<PoolMarker.Claim> claim = Files.isDirectory(dir) ? PoolMarker.claim(dir) : Optional.empty();
        return claim.isPresent() && claim.get().pool().equals(pool.name()) && cluster().equals(claim.get().cluster());
    }

    /** Volumes and snapshots are created only in a directory that carries this pool's marker. */
    private void requireMarker(PoolConfig pool) {
        Path dir = dir(pool);
        if (!claimedByThisPool(dir, pool)) {
            PoolState refused = refusals.get(dir);
            throw EngineException.permanent(refused != null ? refused.conditions().get(0).message()
                    : dir + " does not carry the marker of pool " + pool.name() + " of this cluster ("
                    + PoolMarker.FILE_NAME + "); nothing is created there");
        }
    }

    /**
     * A volume or snapshot file a work item of this cluster names may be used only if it carries
     * this cluster's marker. One without any marker (made before cluster ids existed) is marked now,
     * once; one of another cluster is refused, and that refusal becomes the volume's status.
     */
    private void claimFile(Path file, String what) {
        OrphanOwner owner = FileMarker.owner(file, cluster());
        if (owner == OrphanOwner.OTHER_CLUSTER) {
            throw EngineException.permanent(what + " (" + file + ") carries the ownership marker of another Ferry"
                    + " cluster (" + FileMarker.read(file).orElse("?") + "), not this one (" + cluster()
                    + "); it is never adopted, changed or deleted here");
        }
        if (owner == OrphanOwner.UNMARKED) {
            FileMarker.write(file, cluster());
        }
    }

    @Override
    public PoolState poolState(PoolConfig pool) {
        return poolState(pool, List.of(pool));
    }

    /** Why the pool's directory cannot be used now, or null when it can. */
    private PoolState unusable(PoolConfig pool) {
        Path dir = dir(pool);
        PoolState refused = refusals.get(dir);
        if (refused != null) {
            return refused;
        }
        if (!Files.isDirectory(dir)) {
            return PoolState.unavailable(PoolReason.DIRECTORY_NOT_FOUND, dir + " does not exist"
                    + (pool.prepare() ? "" : "; set prepare to let the agent create it"));
        }
        if (!Files.isWritable(dir)) {
            return PoolState.unavailable(PoolReason.DIRECTORY_NOT_WRITABLE, dir + " is not writable by the agent");
        }
        if (PoolMarker.owner(dir).isEmpty()) {
            return PoolState.unavailable(PoolReason.MARKER_MISSING, dir + " has no pool marker (" + PoolMarker.FILE_NAME
                    + "); set prepare to let the agent claim it if it is empty");
        }
        if (!claimedByThisPool(dir, pool)) {
            return PoolState.unavailable(PoolReason.MARKER_MISMATCH, dir + "'s pool marker (" + PoolMarker.FILE_NAME
                    + ") does not name pool " + pool.name() + " of this cluster (" + cluster() + ")");
        }
        return null;
    }

    /**
     * A file pool's capacity is its {@code capacityBytes}, else an even share of its file system among
     * the pools on it that set none (after those that do have taken theirs), and never more than the
     * file system. The pools on it are this node's file pools whose directories are on it, and other
     * nodes' file pools whose directories are on it here with their own pool marker: agents of one
     * machine (such as those of {@code ferry up}) see each other's pools that way, while the same
     * path on another machine, without that pool's marker here, says nothing about this disk.
     *
     * <p>Free space is the smaller of what is left of the pool's capacity after its own files and the
     * pool's share (in proportion to its capacity) of what the file system really has free, so the
     * pools on one disk, or a disk shared with etcd and the system, are never promised together more
     * than is there.
     */
    @Override
    public PoolState poolState(PoolConfig pool, List<PoolConfig> allPools) {
        PoolState unusable = unusable(pool);
        return unusable != null ? unusable : measure(pool, allPools);
    }

    private PoolState measure(PoolConfig pool, List<PoolConfig> allPools) {
        Path dir = dir(pool);
        try {
            FileStore store = Files.getFileStore(dir);
            long total = store.getTotalSpace();
            long usable = store.getUsableSpace();
            Object device = fileSystemOf(dir);
            long claimed = pool.capacityBytes() != null ? Math.min(pool.capacityBytes(), total) : 0;
            int unset = pool.capacityBytes() != null ? 0 : 1;
            List<String> sharers = new ArrayList<>();
            for (PoolConfig other : allPools) {
                if (other.engine() != Engine.FILE || other.name().equals(pool.name()) || !onThisDisk(other, pool,
                        device)) {
                    continue;
                }
                sharers.add(other.node().equals(pool.node()) ? other.name() : other.name() + " (node " + other.node()
                        + ")");
                if (other.capacityBytes() != null) {
                    claimed += Math.min(other.capacityBytes(), total);
                } else {
                    unset++;
                }
            }
            long evenShare = unset == 0 ? 0 : Math.max(0, total - claimed) / unset;
            long capacity = pool.capacityBytes() != null ? Math.min(pool.capacityBytes(), total) : evenShare;
            long allCapacities = Math.max(1, claimed + unset * evenShare);
            long usableShare = sharers.isEmpty() ? usable
                    : (long) ((double) usable * Math.min(1.0, (double) capacity / allCapacities));
            long used = usedBytes(dir);
            long free = Math.max(0, Math.min(capacity - used, usableShare));
            boolean spaceOk = capacity > 0 && free * 20 >= capacity;
            List<Condition> conditions = new ArrayList<>();
            conditions.add(Condition.of(Condition.AVAILABLE, true, PoolReason.DIRECTORY_READY, dir.toString()));
            conditions.add(Condition.of(Condition.SPACE_OK, spaceOk, spaceOk ? PoolReason.SPACE_AVAILABLE : PoolReason.LOW_SPACE,
                    free + " of " + capacity + " bytes free (" + used + " used by the pool's files, " + usable
                            + " free on the file system" + (sharers.isEmpty() ? "" : ", " + usableShare
                            + " of it this pool's share") + ")"));
            if (pool.capacityBytes() != null && pool.capacityBytes() > total) {
                conditions.add(Condition.of(Condition.CAPACITY_CLAMPED, true, PoolReason.LARGER_THAN_FILE_SYSTEM, "capacityBytes "
                        + pool.capacityBytes() + " is more than the file system's " + total + " bytes"));
            }
            if (!sharers.isEmpty()) {
                conditions.add(Condition.of(Condition.SHARED_FILE_SYSTEM, true, PoolReason.SHARED, "the file system is shared with pool(s) "
                        + String.join(", ", sharers) + "; each counts only its share of its size and free space"));
            }
            // Volume files are sparse and fill as they are written, like a thin pool's data: how much
            // of the pool's capacity its disk can no longer give is its data usage, so the thin
            // high watermark stops placing thin volumes on a disk that is filling up, whoever fills it.
            Double dataPercent = capacity > 0 ? Math.min(100.0, 100.0 * (capacity - free) / capacity) : null;
            return new PoolState(capacity, free, dataPercent, null, conditions, true);
        } catch (IOException e) {
            return PoolState.unavailable(PoolReason.FILE_SYSTEM_ERROR, dir + ": " + e.getMessage());
        }
    }

    private boolean onThisDisk(PoolConfig other, PoolConfig pool, Object device) throws IOException {
        Path otherDir = dir(other);
        if (!Files.isDirectory(otherDir) || !device.equals(fileSystemOf(otherDir))) {
            return false;
        }
        if (other.node().equals(pool.node())) {
            return true;
        }
        try {
            return PoolMarker.owner(otherDir).filter(other.name()::equals).isPresent();
        } catch (UncheckedIOException e) {
            return false;
        }
    }

    private static Object fileSystemOf(Path dir) throws IOException {
        return Files.getAttribute(dir, "unix:dev");
    }

    /** Bytes the pool's files really occupy (allocated blocks, not their apparent sizes). */
    private long usedBytes(Path dir) {
        String out = runner.run(Command.of("du", "--summarize", "--block-size=1", dir.toString()).withTimeout(timeout))
                .stdout().strip();
        return Long.parseLong(out.split("\\s+")[0]);
    }

    // ---- volumes ----

    @Override
    public Optional<LocalVolume> findVolume(PoolConfig pool, String volume) {
        Path file = volumeFile(pool, volume);
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        if (FileMarker.owner(file, cluster()) == OrphanOwner.OTHER_CLUSTER) {
            claimFile(file, "volume " + volume);
        }
        String device = devicesFor(file).stream().findFirst().orElse(null);
        return Optional.of(new LocalVolume(volume, length(file), device));
    }

    @Override
    public LocalVolume createVolume(PoolConfig pool, String volume, long sizeBytes, boolean thin, Content content) {
        Path file = volumeFile(pool, volume);
        requireMarker(pool);
        if (!Files.isRegularFile(file) && thin && content.snapshot() == null && content.volume() == null) {
            // An empty sparse file has no content a crash could tear, so it skips the temporary name
            // and the two fsyncs, which waited behind etcd's own on a shared disk. A crash can at
            // worst leave it shorter than asked, and the next reconcile grows it. A consumer's
            // fsync through the loop device makes the file durable along with its data.
            if (!reuseSpare(pool, file, sizeBytes)) {
                setLength(file, sizeBytes);
                // A crash before this leaves an unmarked file the work item names; its next
                // reconcile marks it (claimFile) like any volume made before cluster ids.
                FileMarker.write(file, cluster());
            }
            return attachNew(pool, volume, file);
        }
        if (!Files.isRegularFile(file)) {
            Path source = null;
            if (content.snapshot() != null) {
                source = snapshotFile(pool, content.snapshot());
                requireExists(source, "snapshot " + content.snapshot());
            } else if (content.volume() != null) {
                source = volumeFile(pool, content.volume());
                requireExists(source, "source volume " + content.volume());
                flushLoops(source, pool);
            }
            Path tmp = tmpFile(file);
            // A temporary file is the remains of a create that crashed: start over.
            io(() -> Files.deleteIfExists(tmp));
            if (source != null) {
                copy(source, tmp);
            } else {
                io(() -> Files.createFile(tmp));
            }
            if (length(tmp) < sizeBytes) {
                setLength(tmp, sizeBytes);
            }
            if (!thin) {
                runner.run(Command.of("fallocate", "--length", Long.toString(sizeBytes), tmp.toString())
                        .withTimeout(copyTimeout));
            }
            // cp does not carry attributes over: a copy is marked as this cluster's like a new file.
            FileMarker.write(tmp, cluster());
            publish(tmp, file);
            // The file is a new inode: no loop device can serve it yet, so skip the lookup.
            return attachNew(pool, volume, file);
        }
        return activate(pool, volume);
    }

    private LocalVolume attachNew(PoolConfig pool, String volume, Path file) {
        if (!Files.isDirectory(sysBlock)) {
            return activate(pool, volume);
        }
        String device = loops.attach(file, lockKey(pool));
        deviceIndex.put(file, device);
        return new LocalVolume(volume, length(file), device);
    }

    @Override
    public LocalVolume expandVolume(PoolConfig pool, String volume, long sizeBytes, boolean thin) {
        Path file = volumeFile(pool, volume);
        requireMarker(pool);
        requireExists(file, "volume " + volume);
        claimFile(file, "volume " + volume);
        if (length(file) < sizeBytes) {
            if (thin) {
                setLength(file, sizeBytes);
            } else {
                runner.run(Command.of("fallocate", "--length", Long.toString(sizeBytes), file.toString())
                        .withTimeout(copyTimeout));
            }
            sync(file);
        }
        for (String device : devicesFor(file)) {
            if (deviceBytes(device) != length(file)) {
                loops.refreshCapacity(device, lockKey(pool));
            }
        }
        return activate(pool, volume);
    }

    @Override
    public LocalVolume activate(PoolConfig pool, String volume) {
        Path file = volumeFile(pool, volume);
        // A file of the right name in a directory that is not the pool's (somebody else's image, a
        // directory the pool was pointed at by mistake) is not a volume to hand out.
        requireMarker(pool);
        requireExists(file, "volume " + volume);
        claimFile(file, "volume " + volume);
        List<String> devices = devicesFor(file);
        String device;
        if (devices.isEmpty()) {
            device = loops.attach(file, lockKey(pool));
            deviceIndex.put(file, device);
        } else {
            device = devices.get(0);
            // Two devices on one file would let two writers cache the same blocks independently.
            for (String extra : devices.subList(1, devices.size())) {
                loops.detach(extra, lockKey(pool));
            }
            deviceIndex.put(file, device);
        }
        long size = length(file);
        long seen = deviceBytes(device);
        if (seen >= 0 && seen != size) {
            loops.refreshCapacity(device, lockKey(pool));
        }
        return new LocalVolume(volume, size, device);
    }

    @Override
    public void deleteVolume(PoolConfig pool, String volume) {
        Path file = volumeFile(pool, volume);
        if (Files.isRegularFile(file)) {
            claimFile(file, "volume " + volume);
        }
        for (Path f : List.of(file, tmpFile(file))) {
            List<String> devices = devicesFor(f);
            for (String device : devices) {
                loops.detach(device, lockKey(pool));
            }
            deviceIndex.remove(f);
            // The kernel only defers the detach of an open loop device (a mount, a process holding
            // it): its user can go on reading and writing the file. Emptying or recycling the file
            // then would hand live data to the next volume, so the deletion waits until it is closed.
            List<String> open = devices.stream().filter(device -> stillServes(device, f)).toList();
            if (!open.isEmpty()) {
                throw EngineException.transientFailure("volume " + volume + " is in use: loop device "
                        + String.join(", ", open) + " is still open (mounted, or held by a process); the kernel"
                        + " detaches it once it is closed, and the volume is deleted then");
            }
            if (!f.equals(file) || !keepAsSpare(pool, f)) {
                io(() -> Files.deleteIfExists(f));
            }
        }
    }

    /**
     * Empties a deleted volume's file and keeps it for reuse. False (the caller unlinks it) when
     * the pool has enough spares, the file is gone, or emptying it fails.
     */
    private boolean keepAsSpare(PoolConfig pool, Path file) {
        Set<Path> known = sparesOf(dir(pool));
        if (known.size() >= MAX_SPARES) {
            return false;
        }
        Path spare = file.resolveSibling(SPARE_PREFIX + spareSequence.incrementAndGet());
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
            // Emptied before it loses its name: a spare never holds a byte of an old volume.
            channel.truncate(0);
        } catch (IOException e) {
            return false;
        }
        try {
            Files.move(file, spare, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            return false;
        }
        known.add(spare);
        return true;
    }

    /** Gives {@code file} the inode of a spare, emptied again and sized; false when there is none. */
    private boolean reuseSpare(PoolConfig pool, Path file, long sizeBytes) {
        Set<Path> known = sparesOf(dir(pool));
        for (Path spare : known) {
            if (!known.remove(spare)) {
                continue;
            }
            if (FileMarker.owner(spare, cluster()) != OrphanOwner.THIS_CLUSTER) {
                continue; // not provably ours (copied in, or left by another cluster): never reused
            }
            try {
                Files.move(spare, file, StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException e) {
                continue;
            }
            try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
                // Truncating first keeps the promise even for a spare someone wrote to by hand.
                raf.setLength(0);
                raf.setLength(sizeBytes);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot set the size of " + file + " to " + sizeBytes + " bytes: "
                        + e.getMessage(), e);
            }
            return true;
        }
        return false;
    }

    private Set<Path> sparesOf(Path dir) {
        return spares.computeIfAbsent(dir, d -> ConcurrentHashMap.newKeySet());
    }

    // ---- snapshots ----

    @Override
    public Optional<LocalSnapshot> findSnapshot(PoolConfig pool, String snapshot) {
        Path file = snapshotFile(pool, snapshot);
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        return Optional.of(describeSnapshot(snapshot, file));
    }

    @Override
    public LocalSnapshot createSnapshot(PoolConfig pool, String snapshot, String sourceVolume) {
        requireMarker(pool);
        Path file = snapshotFile(pool, snapshot);
        if (!Files.isRegularFile(file)) {
            Path source = volumeFile(pool, sourceVolume);
            requireExists(source, "source volume " + sourceVolume);
            flushLoops(source, pool);
            claimFile(source, "source volume " + sourceVolume);
            Path tmp = tmpFile(file);
            io(() -> Files.deleteIfExists(tmp));
            copy(source, tmp);
            FileMarker.write(tmp, cluster());
            publish(tmp, file);
        }
        return describeSnapshot(snapshot, file);
    }

    @Override
    public void deleteSnapshot(PoolConfig pool, String snapshot) {
        Path file = snapshotFile(pool, snapshot);
        if (Files.isRegularFile(file)) {
            claimFile(file, "snapshot " + snapshot);
        }
        io(() -> Files.deleteIfExists(file));
        io(() -> Files.deleteIfExists(tmpFile(file)));
    }

    // ---- inventory ----

    @Override
    public Inventory inventory(PoolConfig pool) {
        Path dir = dir(pool);
        if (!Files.isDirectory(dir)) {
            return Inventory.empty();
        }
        Map<String, String> deviceByFile = new HashMap<>();
        List<String> leftovers = new ArrayList<>();
        List<LoopDevices.Loop> all = loops.all();
        rebuildIndex(all);
        for (LoopDevices.Loop loop : all) {
            Path back = Path.of(loop.backingFile());
            if (!dir.equals(back.getParent())) {
                continue;
            }
            if (loop.backingFileDeleted() || back.getFileName().toString().endsWith(TMP_SUFFIX)) {
                leftovers.add(loop.device());
            } else {
                deviceByFile.merge(back.toString(), loop.device(), (a, b) -> a.compareTo(b) <= 0 ? a : b);
            }
        }
        List<LocalVolume> volumes = new ArrayList<>();
        List<LocalSnapshot> snapshots = new ArrayList<>();
        List<Inventory.Unowned> unowned = new ArrayList<>();
        String us = cluster();
        Set<Path> knownSpares = sparesOf(dir);
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            for (Path p : entries) {
                String name = p.getFileName().toString();
                if (!Files.isRegularFile(p)) {
                    continue;
                }
                if (name.startsWith(SPARE_PREFIX)) {
                    // Spares left by an earlier run of the agent are as good as this run's own.
                    if (knownSpares.size() < MAX_SPARES && FileMarker.owner(p, us) == OrphanOwner.THIS_CLUSTER) {
                        knownSpares.add(p);
                    }
                    continue;
                }
                if (name.startsWith(".") && name.endsWith(TMP_SUFFIX)) {
                    String inner = name.substring(1, name.length() - TMP_SUFFIX.length());
                    if (baseName(inner, VOLUME_SUFFIX) != null || baseName(inner, SNAPSHOT_SUFFIX) != null) {
                        leftovers.add(name);
                    }
                    continue;
                }
                String vol = baseName(name, VOLUME_SUFFIX);
                if (vol != null && Names.isValidVolumeName(vol)) {
                    OrphanOwner owner = FileMarker.owner(p, us);
                    if (owner == OrphanOwner.THIS_CLUSTER) {
                        volumes.add(new LocalVolume(vol, length(p), deviceByFile.get(p.toString())));
                    } else {
                        unowned.add(new Inventory.Unowned(vol, length(p), owner, FileMarker.read(p).orElse(null)));
                    }
                    continue;
                }
                String snap = baseName(name, SNAPSHOT_SUFFIX);
                if (snap != null && Names.isValidSnapshotName(snap)) {
                    snapshots.add(describeSnapshot(snap, p));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir, e);
        }
        // Leftovers are removed without asking anyone: only in a directory this pool has claimed.
        boolean claimed = claimedByThisPool(dir, pool);
        return new Inventory(volumes, snapshots, claimed ? leftovers : List.of(), unowned);
    }

    @Override
    public Optional<OrphanOwner> owner(PoolConfig pool, String volume) {
        Path file = volumeFile(pool, volume);
        return Files.isRegularFile(file) ? Optional.of(FileMarker.owner(file, cluster())) : Optional.empty();
    }

    @Override
    public void removeOrphan(PoolConfig pool, String volume) {
        Path file = volumeFile(pool, volume);
        requireMarker(pool);
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
            loops.detach(leftover, lockKey(pool));
            return;
        }
        if (!leftover.startsWith(".") || !leftover.endsWith(TMP_SUFFIX) || leftover.contains("/")) {
            throw new IllegalArgumentException("not a leftover of this engine: " + leftover);
        }
        Path file = dir(pool).resolve(leftover);
        for (LoopDevices.Loop loop : loops.backedBy(file)) {
            loops.detach(loop.device(), lockKey(pool));
        }
        deviceIndex.remove(file);
        io(() -> Files.deleteIfExists(file));
    }

    // ---- helpers ----

    /**
     * Loop devices serving {@code file}, first one first. Uses the index when sysfs can confirm its
     * answer; otherwise (no sysfs, as in unit tests) asks losetup directly.
     */
    private List<String> devicesFor(Path file) {
        if (!Files.exists(file)) {
            // Only a device attached to an earlier, deleted inode can name a missing path, and such a
            // device serves nothing this path will ever hold (the orphan scan detaches it). Skipping
            // losetup here matters: it scans every loop device, and creates and deletes ask this for
            // temporary files that never have one.
            deviceIndex.remove(file);
            return List.of();
        }
        if (!Files.isDirectory(sysBlock)) {
            return loops.backedBy(file).stream().map(LoopDevices.Loop::device).sorted().toList();
        }
        if (!indexed) {
            rebuildIndex(loops.all());
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

    private boolean stillServes(String device, Path file) {
        if (!Files.isDirectory(sysBlock)) {
            return loops.backedBy(file).stream().anyMatch(l -> l.device().equals(device));
        }
        return file.toString().equals(sysfsBackingFile(device));
    }

    /** Adds what a full listing shows; stale entries are harmless because every hit is verified. */
    private void rebuildIndex(List<LoopDevices.Loop> all) {
        for (LoopDevices.Loop loop : all) {
            if (!loop.backingFileDeleted()) {
                deviceIndex.merge(Path.of(loop.backingFile()), loop.device(), (a, b) -> a.compareTo(b) <= 0 ? a : b);
            }
        }
        indexed = true;
    }

    private String sysfsBackingFile(String device) {
        try {
            return Files.readString(sysBlock.resolve(Path.of(device).getFileName()).resolve("loop/backing_file"))
                    .strip();
        } catch (IOException e) {
            return null;
        }
    }

    public static Path dir(PoolConfig pool) {
        return Path.of(pool.source().directory());
    }

    public static Path volumeFile(PoolConfig pool, String volume) {
        return dir(pool).resolve(Names.volumeName(volume) + VOLUME_SUFFIX);
    }

    public static Path snapshotFile(PoolConfig pool, String snapshot) {
        return dir(pool).resolve(Names.snapshotName(snapshot) + SNAPSHOT_SUFFIX);
    }

    static Path tmpFile(Path file) {
        return file.resolveSibling("." + file.getFileName() + TMP_SUFFIX);
    }

    private static String baseName(String file, String suffix) {
        return file.endsWith(suffix) && file.length() > suffix.length()
                ? file.substring(0, file.length() - suffix.length()) : null;
    }

    private static String lockKey(PoolConfig pool) {
        return "file:" + pool.source().directory();
    }

    private LocalSnapshot describeSnapshot(String snapshot, Path file) {
        try {
            return new LocalSnapshot(snapshot, null, Files.size(file), Files.getLastModifiedTime(file).toInstant());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
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
        for (String device : devicesFor(file)) {
            runner.run(Command.of("blockdev", "--flushbufs", device).withTimeout(timeout));
        }
    }

    /** fsync, then an atomic rename: the final name only ever points at complete content. */
    private static void publish(Path tmp, Path file) {
        sync(tmp);
        io(() -> Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE));
        try (FileChannel d = FileChannel.open(file.getParent(), StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException e) {
            // Some file systems refuse fsync on a directory; the rename is still atomic.
        }
    }

    private static void sync(Path file) {
        try (FileChannel c = FileChannel.open(file, StandardOpenOption.WRITE)) {
            c.force(true);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot sync " + file, e);
        }
    }

    private static void setLength(Path file, long size) {
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(size);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot set the size of " + file + " to " + size + " bytes: "
                    + e.getMessage(), e);
        }
    }

    private static long length(Path file) {
        try {
            return Files.size(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The loop device's size from sysfs, or -1 when sysfs does not say (tests, odd hosts). */
    private long deviceBytes(String device) {
        Path size = sysBlock.resolve(Path.of(device).getFileName()).resolve("size");
        try {
            return Long.parseLong(Files.readString(size).strip()) * 512;
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
    }

    private static void requireExists(Path file, String what) {
        if (!Files.isRegularFile(file)) {
            throw EngineException.transientFailure(what + " does not exist (" + file + ")");
        }
    }

    private interface IoAction {
        void run() throws IOException;
    }

    private static void io(IoAction action) {
        try {
            action.run();
        } catch (NoSuchFileException e) {
            throw new UncheckedIOException(e.getFile() + " does not exist", e);
        } catch (IOException e) {
            throw new UncheckedIOException(e.getMessage(), e);
        }
    }

}
