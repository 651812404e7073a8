package io.ferry.runtime.pool;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The file that marks a directory as a file pool's: written by the agent when it claims the
 * directory, read by the agent before it creates or hands out anything there and by the CSI node
 * plugin before it trusts a loop device backed by a file in it. One format, one place.
 */
public final class PoolMarker {

    public static final String FILE_NAME = ".ferry-pool";

    private PoolMarker() {
    }

    /**
     * What a marker says: the pool, and the cluster whose agent claimed the directory (null in a
     * marker written before cluster ids existed).
     */
    public record Claim(String pool, String cluster) {
    }

    /** The marker's content for a pool of a node of a cluster. */
    public static String text(String pool, String node, String cluster) {
        return "# This directory holds the volumes of Ferry pool " + pool + " on node " + node + " of cluster "
                + cluster + ".\n"
                + "# Ferry creates volumes only in a directory with this file; do not copy it elsewhere.\n"
                + "pool=" + pool + "\nnode=" + node + "\ncluster=" + cluster + "\n";
    }

    /**
     * The directory's claim: empty when there is no marker (a symbolic link does not count); an empty
     * pool name when the marker names none.
     *
     * @throws UncheckedIOException when the marker exists but cannot be read
     */
    public static Optional<Claim> claim(Path dir) {
        Path marker = dir.resolve(FILE_NAME);
        if (!Files.isRegularFile(marker, LinkOption.NOFOLLOW_LINKS)) {
            return Optional.empty();
        }
        try {
            String pool = "";
            String cluster = null;
            for (String line : Files.readAllLines(marker, StandardCharsets.UTF_8)) {
                if (line.startsWith("pool=")) {
                    pool = line.substring(5).strip();
                } else if (line.startsWith("cluster=")) {
                    cluster = line.substring(8).strip();
                }
            }
            return Optional.of(new Claim(pool, cluster == null || cluster.isEmpty() ? null : cluster));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + marker, e);
        }
    }

    /**
     * The pool named by the directory's marker: empty when there is no marker (a symbolic link does
     * not count), an empty name when the marker names none.
     *
     * @throws UncheckedIOException when the marker exists but cannot be read
     */
    public static Optional<String> owner(Path dir) {
        return claim(dir).map(Claim::pool);
    }
}
