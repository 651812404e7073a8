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

    /** The marker's content for a pool of a node. */
    public static String text(String pool, String node) {
        return "# This directory holds the volumes of Ferry pool " + pool + " on node " + node + ".\n"
                + "# Ferry creates volumes only in a directory with this file; do not copy it elsewhere.\n"
                + "pool=" + pool + "\nnode=" + node + "\n";
    }

    /**
     * The pool named by the directory's marker: empty when there is no marker (a symbolic link does
     * not count), an empty name when the marker names none.
     *
     * @throws UncheckedIOException when the marker exists but cannot be read
     */
    public static Optional<String> owner(Path dir) {
        Path marker = dir.resolve(FILE_NAME);
        if (!Files.isRegularFile(marker, LinkOption.NOFOLLOW_LINKS)) {
            return Optional.empty();
        }
        try {
            for (String line : Files.readAllLines(marker, StandardCharsets.UTF_8)) {
                if (line.startsWith("pool=")) {
                    return Optional.of(line.substring(5).strip());
                }
            }
            return Optional.of("");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + marker, e);
        }
    }
}
