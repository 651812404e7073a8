package io.ferry.runtime.auth;

import com.fasterxml.jackson.annotation.JsonProperty;
import io.ferry.model.DhchapKey;
import io.ferry.model.HostSecret;
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
import java.nio.file.StandardCopyOption;
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
 *
 * <p>During a key rotation the file holds two generations: the pair in use and the next one
 * ({@link #prepareNext}). The host switches one key at a time (see {@code HostKeyStep}): first the
 * controller key ({@link #useNextCtrlKey}: from then on connects use the old host key with the new
 * controller key), then the host key with {@link #promoteNext}, which makes the next pair the one in
 * use and drops the old one. {@link #read} is always what a connect must use. Every change replaces
 * the file the same way it was created (a private temporary file, synced, renamed over it), so a
 * crash leaves either the old content or the new, and a restarted agent carries on from whichever.
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

    /**
     * The pair in use and, during a rotation, the next one, with whether the host has switched to
     * the next one's controller key already.
     */
    public record Generations(Pair current, Optional<Pair> next, boolean nextCtrlKeyInUse) {

        public Generations {
            nextCtrlKeyInUse = nextCtrlKeyInUse && next.isPresent();
        }

        /** The keys a connect uses now (named by the generation of its host key). */
        public Pair connectPair() {
            return nextCtrlKeyInUse ? new Pair(current.generation(), current.hostKey(), next.orElseThrow().ctrlKey(),
                    current.createdAt()) : current;
        }

        /**
         * What the host publishes for its targets to serve: the pair in use; during a rotation, the
         * next controller key with the host key in use until the host uses that controller key, then
         * the whole next pair. Each target is thus always one key ahead of the host's live
         * controllers, the key their next write gives them.
         */
        public HostSecret published(String node, String hostNqn) {
            if (next.isEmpty()) {
                return HostSecret.of(node, hostNqn, current.generation(), current.hostKey(), current.ctrlKey(),
                        current.createdAt());
            }
            Pair n = next.get();
            return nextCtrlKeyInUse ? HostSecret.of(node, hostNqn, n.generation(), n.hostKey(), n.ctrlKey(), n.createdAt())
                    : HostSecret.mixed(node, hostNqn, n.generation(), current.generation(), current.hostKey(), n.ctrlKey(),
                            n.createdAt());
        }
    }

    record StoredPair(@JsonProperty("generation") long generation, @JsonProperty("hostKey") String hostKey,
                      @JsonProperty("ctrlKey") String ctrlKey, @JsonProperty("createdAt") Instant createdAt,
                      @JsonProperty("ctrlKeyInUse") Boolean ctrlKeyInUse) {
    }

    record Stored(@JsonProperty("generation") long generation, @JsonProperty("hostKey") String hostKey,
                  @JsonProperty("ctrlKey") String ctrlKey, @JsonProperty("createdAt") Instant createdAt,
                  @JsonProperty("next") StoredPair next) {
    }

    private HostKeyFile() {
    }

    /**
     * The keys a connect uses, or empty when there is no file: the pair in use, but half-way through
     * a rotation its host key with the next controller key ({@link Generations#connectPair}).
     */
    public static Optional<Pair> read(Path file) {
        return readGenerations(file).map(Generations::connectPair);
    }

    /** Both generations in {@code file}, or empty when there is no file. */
    public static Optional<Generations> readGenerations(Path file) {
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
        if (stored == null) {
            throw unusable(file, "it is empty");
        }
        Pair current = pair(file, new StoredPair(stored.generation(), stored.hostKey(), stored.ctrlKey(), stored.createdAt(),
                false));
        Optional<Pair> next = Optional.ofNullable(stored.next()).map(n -> pair(file, n));
        if (next.isPresent() && next.get().generation() <= current.generation()) {
            throw unusable(file, "its next generation is not after the one in use");
        }
        return Optional.of(new Generations(current, next, stored.next() != null
                && Boolean.TRUE.equals(stored.next().ctrlKeyInUse())));
    }

    private static Pair pair(Path file, StoredPair stored) {
        if (stored.generation() < 1 || !DhchapKey.isValid(stored.hostKey()) || !DhchapKey.isValid(stored.ctrlKey())
                || stored.createdAt() == null) {
            throw unusable(file, "it does not hold a generation and two valid DHHC-1 keys");
        }
        return new Pair(stored.generation(), DhchapKey.parse(stored.hostKey(), "hostKey"),
                DhchapKey.parse(stored.ctrlKey(), "ctrlKey"), stored.createdAt());
    }

    /** The pair in {@code file}, generated (generation 1) and kept there first if there is none. */
    public static Pair ensure(Path file, Instant now) {
        Optional<Pair> kept = read(file);
        if (kept.isPresent()) {
            return kept.get();
        }
        Pair pair = new Pair(1, DhchapKey.generate(), DhchapKey.generate(), now);
        // A hard link fails when the name exists: whoever linked first wins, nobody replaces it.
        write(file, new Generations(pair, Optional.empty(), false), false);
        return read(file).orElseThrow(() -> new IllegalStateException(file + " vanished right after it was created"));
    }

    /**
     * Keeps a new pair of generation {@code generation} beside the one in use (the first step of a
     * rotation) and returns it; when the file already holds that next generation, returns it as it
     * is (a restarted agent publishes the pair it had generated, never a third one).
     *
     * @throws IllegalStateException when the pair in use is already at or past {@code generation},
     *                               or another next generation is kept
     */
    public static Pair prepareNext(Path file, long generation, Instant now) {
        Generations kept = readGenerations(file).orElseThrow(() -> new IllegalStateException(file
                + " holds no pair to rotate from"));
        if (kept.next().isPresent()) {
            if (kept.next().get().generation() == generation) {
                return kept.next().get();
            }
            throw new IllegalStateException(file + " already keeps generation " + kept.next().get().generation()
                    + " as the next one; generation " + generation + " waits until that one is in use");
        }
        if (generation <= kept.current().generation()) {
            throw new IllegalStateException("generation " + generation + " is not after generation "
                    + kept.current().generation() + ", the one in use");
        }
        Pair next = new Pair(generation, DhchapKey.generate(), DhchapKey.generate(), now);
        write(file, new Generations(kept.current(), Optional.of(next), false), true);
        return next;
    }

    /**
     * Records that the host's live controllers now hold the next generation's controller key, so
     * that connects use it too (with the host key in use) and the host publishes the whole next pair.
     * Nothing to do when that is recorded already, or when {@code generation} is in use already.
     *
     * @throws IllegalStateException when the file keeps no next generation {@code generation}
     */
    public static void useNextCtrlKey(Path file, long generation) {
        Generations kept = readGenerations(file).orElseThrow(() -> new IllegalStateException(file
                + " holds no pair"));
        if (kept.current().generation() >= generation || kept.nextCtrlKeyInUse()
                && kept.next().get().generation() == generation) {
            return;
        }
        Pair next = kept.next().filter(n -> n.generation() == generation).orElseThrow(() -> new IllegalStateException(
                file + " keeps no generation " + generation + " whose controller key could be used"));
        write(file, new Generations(kept.current(), Optional.of(next), true), true);
    }

    /**
     * Makes the next generation the pair in use and forgets the old one (the last step of a
     * rotation, once the host's live controllers use the next one). Nothing to do when the pair in
     * use is already {@code generation}.
     *
     * @return the pair in use afterwards
     * @throws IllegalStateException when neither the pair in use nor the next one is {@code generation}
     */
    public static Pair promoteNext(Path file, long generation) {
        Generations kept = readGenerations(file).orElseThrow(() -> new IllegalStateException(file
                + " holds no pair"));
        if (kept.current().generation() == generation && kept.next().isEmpty()) {
            return kept.current();
        }
        Pair next = kept.next().filter(n -> n.generation() == generation).orElseThrow(() -> new IllegalStateException(
                file + " keeps no generation " + generation + " to switch to"));
        write(file, new Generations(next, Optional.empty(), false), true);
        return next;
    }

    /**
     * Writes a private temporary file, syncs it, and puts it in place: by hard link when the file
     * must not exist yet ({@code replace} false, the loser of a race keeps the winner's pair), by an
     * atomic rename over it otherwise.
     */
    private static void write(Path file, Generations generations, boolean replace) {
        Path dir = file.toAbsolutePath().getParent();
        Path tmp = dir.resolve(file.getFileName() + ".tmp-" + ProcessHandle.current().pid());
        Pair current = generations.current();
        StoredPair next = generations.next().map(n -> new StoredPair(n.generation(), n.hostKey().value(),
                n.ctrlKey().value(), n.createdAt(), generations.nextCtrlKeyInUse())).orElse(null);
        try {
            Files.createDirectories(dir);
            Files.deleteIfExists(tmp);
            Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            Files.write(tmp, Json.encode(new Stored(current.generation(), current.hostKey().value(),
                    current.ctrlKey().value(), current.createdAt(), next)));
            try (var channel = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                channel.force(true);
            }
            if (replace) {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } else {
                try {
                    Files.createLink(file, tmp);
                } catch (FileAlreadyExistsException raced) {
                    // Another process created it meanwhile; its pair is the host's.
                }
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
    }

    private static UnusableException unusable(Path file, String why) {
        return new UnusableException(file + " is there but " + why + "; Ferry never replaces it, because the targets"
                + " that export to this host hold its pair. Restore it, or move it away to have a new pair generated"
                + " (and published) at the next start");
    }
}
