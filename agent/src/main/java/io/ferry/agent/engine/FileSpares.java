package io.ferry.agent.engine;

import io.ferry.model.OrphanOwner;
import io.ferry.model.PoolConfig;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Emptied files of deleted volumes, kept under a hidden spare name for the next empty thin volume,
 * which takes one by a rename. Creating an inode is the expensive part of a new file: on ext4
 * without a journal the allocator skips every inode freed in the last 30 seconds, one by one, so
 * under churn each create cost a millisecond of kernel CPU. A spare is emptied before it loses its
 * volume's name and again before reuse, and only one marked as this cluster's is ever reused.
 */
final class FileSpares {

    /** Spares kept per pool directory; more deleted files than this are unlinked as before. */
    static final int MAX_SPARES = 1024;

    private final ClusterBinding cluster;
    /** Per pool directory; filled by deletes and by each inventory. */
    private final Map<Path, Set<Path>> spares = new ConcurrentHashMap<>();
    private final AtomicLong sequence = new AtomicLong(System.currentTimeMillis());

    FileSpares(ClusterBinding cluster) {
        this.cluster = cluster;
    }

    /**
     * Empties a deleted volume's file and keeps it for reuse. False (the caller unlinks it) when
     * the pool has enough spares, the file is gone, or emptying it fails.
     */
    boolean keep(PoolConfig pool, Path file) {
        Set<Path> known = of(FileLayout.dir(pool));
        if (known.size() >= MAX_SPARES) {
            return false;
        }
        Path spare = file.resolveSibling(FileLayout.SPARE_PREFIX + sequence.incrementAndGet());
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
    boolean reuse(PoolConfig pool, Path file, long sizeBytes) {
        Set<Path> known = of(FileLayout.dir(pool));
        for (Path spare : known) {
            if (!known.remove(spare)) {
                continue;
            }
            if (FileMarker.owner(spare, cluster.require()) != OrphanOwner.THIS_CLUSTER) {
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

    /** A spare an inventory found (left by an earlier run of the agent): as good as this run's own. */
    void found(Path dir, Path spare) {
        Set<Path> known = of(dir);
        if (known.size() < MAX_SPARES && FileMarker.owner(spare, cluster.require()) == OrphanOwner.THIS_CLUSTER) {
            known.add(spare);
        }
    }

    private Set<Path> of(Path dir) {
        return spares.computeIfAbsent(dir, d -> ConcurrentHashMap.newKeySet());
    }
}
