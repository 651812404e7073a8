package io.ferry.runtime.auth;

import com.fasterxml.jackson.annotation.JsonProperty;
import io.ferry.model.DhchapKey;
import io.ferry.model.Json;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.Optional;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;

/**
 * This host's DH-HMAC-CHAP pair, kept in a file of the node's state directory (default
 * {@value #DEFAULT_PATH}): the agent creates it, the CSI node plugin and {@code ferryctl attach}
 * read it (a bare host without an agent has {@code ferryctl attach} create it). Like the host NQN
 * it must not change by itself: every target that exports to this host holds a copy of the pair,
 * so a new one would lock the host out of its volumes until each target has the new copy.
 *
 * <p>The file is created once, mode 0600, by writing a temporary file and hard-linking it into
 * place: a crash never leaves a half-written pair that a later start would replace, and of two
 * processes creating it at once (an agent and {@code ferryctl attach}) exactly one wins and both
 * use its pair. A file that does not hold a valid pair is never overwritten: it is reported, and
 * an operator decides (moving it away makes the next start generate a new pair).
 */
public final class HostKeyFile {

    public static final String FILE_NAME = "nvme-auth.json";
    public static final String DEFAULT_PATH = "/var/lib/ferry/" + FILE_NAME;

    /** The pair and its generation; {@link #toString()} never shows the keys. */
    public record Pair(long generation, DhchapKey hostKey, DhchapKey ctrlKey, Instant createdAt) {
        @Override
        public String toString() {
            return "Pair[generation=" + generation + ", keys=<hidden>]";
        }
    }

    /** A file is there and does not hold a pair; the message never quotes its content. */
    public static final class UnusableException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        UnusableException(String message) {
            super(message);
        }
    }

    record Stored(@JsonProperty("generation") long generation, @JsonProperty("hostKey") String hostKey,
                          @JsonProperty("ctrlKey") String ctrlKey, @JsonProperty("createdAt") Instant createdAt) {
    }

    private HostKeyFile() {
    }

    /** The pair in {@code file}, or empty when there is no file. */
    public static Optional<Pair> read(Path file) {
        if (!Files.exists(file)) {
            return Optional.empty();
        }
        Stored stored;
        try {
            stored = Json.decode(Files.readAllBytes(file), Stored.class);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read this host's NVMe authentication keys " + file + ": "
                    + e.getMessage(), e);
        } catch (RuntimeException e) {
            throw unusable(file, "it is not the JSON Ferry writes");
        }
        if (stored == null || stored.generation() < 1 || !DhchapKey.isValid(stored.hostKey())
                || !DhchapKey.isValid(stored.ctrlKey()) || stored.createdAt() == null) {
            throw unusable(file, "it does not hold a generation and two valid DHHC-1 keys");
        }
        return Optional.of(new Pair(stored.generation(), DhchapKey.parse(stored.hostKey(), "hostKey"),
                DhchapKey.parse(stored.ctrlKey(), "ctrlKey"), stored.createdAt()));
    }

    /** The pair in {@code file}, generated (generation 1) and kept there first if there is none. */
    public static Pair ensure(Path file, Instant now) {
        Optional<Pair> kept = read(file);
        if (kept.isPresent()) {
            return kept.get();
        }
        Pair pair = new Pair(1, DhchapKey.generate(), DhchapKey.generate(), now);
        Path dir = file.toAbsolutePath().getParent();
        Path tmp = dir.resolve(file.getFileName() + ".tmp-" + ProcessHandle.current().pid());
        try {
            Files.createDirectories(dir);
            Files.deleteIfExists(tmp);
            Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            Files.write(tmp, Json.encode(new Stored(pair.generation(), pair.hostKey().value(), pair.ctrlKey().value(),
                    pair.createdAt())));
            try (var channel = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                channel.force(true);
            }
            try {
                // A hard link fails when the name exists: whoever linked first wins, nobody replaces it.
                Files.createLink(file, tmp);
            } catch (FileAlreadyExistsException raced) {
                // Another process created it meanwhile; its pair is the host's.
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot keep this host's NVMe authentication keys in " + file + ": "
                    + e.getMessage(), e);
        } finally {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // A leftover temporary file is harmless: it is never read.
            }
        }
        return read(file).orElseThrow(() -> new IllegalStateException(file + " vanished right after it was created"));
    }

    private static UnusableException unusable(Path file, String why) {
        return new UnusableException(file + " is there but " + why + "; Ferry never replaces it, because the targets"
                + " that export to this host hold its pair. Restore it, or move it away to have a new pair generated"
                + " (and published) at the next start");
    }
}
