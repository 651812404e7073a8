package io.ferry.agent.engine;

import io.ferry.model.Condition;
import io.ferry.model.Engine;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolReason;
import io.ferry.runtime.exec.Command;
import io.ferry.runtime.exec.CommandFailedException;
import io.ferry.runtime.exec.CommandResult;
import io.ferry.runtime.exec.CommandRunner;
import io.ferry.runtime.pool.PoolMarker;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A file pool's directory: whether the agent may claim it (its marker file), why it is refused,
 * and what it holds and has free. Volumes and snapshots are created only in a directory this class
 * has found carrying the pool's marker.
 */
final class FilePoolDirectory {

    private final ClusterBinding cluster;
    private final CommandRunner runner;
    private final Duration timeout;
    /** Why a pool's directory was refused at the last preparation, by directory. */
    private final Map<Path, PoolState> refusals = new ConcurrentHashMap<>();

    FilePoolDirectory(ClusterBinding cluster, CommandRunner runner, Duration timeout) {
        this.cluster = cluster;
        this.runner = runner;
        this.timeout = timeout;
    }

    /**
     * Claims the pool's directory with a marker file, but only a directory that is provably
     * Ferry's to use: one the agent creates itself, an empty one for a pool that holds no volumes
     * yet, or (pools made before markers existed) one that holds only Ferry's files for a pool that
     * does hold volumes. Anything else is refused and reported by {@link #state}: a directory
     * with somebody else's files, and above all an empty, unmarked directory of a pool whose volumes
     * live on this node, which is what a file system that did not mount at boot looks like. Creating
     * volumes there would hand out empty disks in place of the real ones.
     */
    void prepare(PoolConfig pool, boolean holdsVolumes) {
        Path dir = FileLayout.dir(pool);
        refusals.remove(dir);
        if (!Files.isDirectory(dir)) {
            if (pool.prepare() && !holdsVolumes) {
                FileIo.io(() -> Files.createDirectories(dir));
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
            if (claimedBy != null && !claimedBy.equals(cluster.require())) {
                refusals.put(dir, PoolState.unavailable(PoolReason.MARKER_OF_ANOTHER_CLUSTER, dir + " is claimed by pool "
                        + claim.get().pool() + " of another Ferry cluster (" + claimedBy + "); this is cluster "
                        + cluster.require() + ", and nothing of the other cluster's is ever touched"));
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
                if (file && (FileLayout.isSpareName(name) || FileLayout.isTmpName(name))) {
                    continue;
                }
                if (file && (FileLayout.volumeOf(name) != null || FileLayout.snapshotOf(name) != null)) {
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
        Path tmp = dir.resolve(PoolMarker.FILE_NAME + FileLayout.TMP_SUFFIX);
        FileIo.io(() -> Files.writeString(tmp, PoolMarker.text(pool.name(), pool.node(), cluster.require()), StandardCharsets.UTF_8));
        // The marker file carries the attribute too: a file system without user attributes is found
        // out here, before the pool is claimed, rather than at the first volume.
        try {
            FileMarker.write(tmp, cluster.require());
        } catch (EngineException e) {
            FileIo.io(() -> Files.deleteIfExists(tmp));
            refusals.put(dir, PoolState.unavailable(PoolReason.NO_EXTENDED_ATTRIBUTES, e.getMessage()));
            return;
        }
        FileIo.publish(tmp, dir.resolve(PoolMarker.FILE_NAME));
    }

    /** True when the directory carries this pool's marker naming this cluster. */
    boolean claimedByThisPool(Path dir, PoolConfig pool) {
        Optional<PoolMarker.Claim> claim = Files.isDirectory(dir) ? PoolMarker.claim(dir) : Optional.empty();
        return claim.isPresent() && claim.get().pool().equals(pool.name()) && cluster.require().equals(claim.get().cluster());
    }

    /** Volumes and snapshots are created only in a directory that carries this pool's marker. */
    void requireMarker(PoolConfig pool) {
        Path dir = FileLayout.dir(pool);
        if (!claimedByThisPool(dir, pool)) {
            PoolState refused = refusals.get(dir);
            throw EngineException.permanent(refused != null ? refused.conditions().get(0).message()
                    : dir + " does not carry the marker of pool " + pool.name() + " of this cluster ("
                    + PoolMarker.FILE_NAME + "); nothing is created there");
        }
    }

    /** Why the pool's directory cannot be used now, or null when it can. */
    private PoolState unusable(PoolConfig pool) {
        Path dir = FileLayout.dir(pool);
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
                    + ") does not name pool " + pool.name() + " of this cluster (" + cluster.require() + ")");
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
    PoolState state(PoolConfig pool, List<PoolConfig> allPools) {
        PoolState unusable = unusable(pool);
        return unusable != null ? unusable : measure(pool, allPools);
    }

    private PoolState measure(PoolConfig pool, List<PoolConfig> allPools) {
        Path dir = FileLayout.dir(pool);
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
        Path otherDir = FileLayout.dir(other);
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
    /**
     * The bytes the pool's files take on disk. du walks the directory while the agent may be
     * deleting or creating a volume's file in it: an entry that vanished between listing and
     * measuring makes du exit 1 with "No such file or directory", though its total is right for
     * what is there. Such a run counts; taking it for a broken file system would report the pool
     * unhealthy until the next measurement and refuse volumes meanwhile.
     */
    private long usedBytes(Path dir) {
        CommandResult result = runner.execute(Command.of("du", "--summarize", "--block-size=1", dir.toString())
                .withTimeout(timeout));
        String total = result.stdout().strip();
        boolean onlyVanishedEntries = result.exitCode() == 1 && !total.isEmpty() && !result.stderr().isBlank()
                && result.stderr().lines().filter(line -> !line.isBlank())
                        .allMatch(line -> line.endsWith("No such file or directory"));
        if (!result.succeeded() && !onlyVanishedEntries) {
            throw new CommandFailedException(result);
        }
        return Long.parseLong(total.split("\\s+")[0]);
    }
}
