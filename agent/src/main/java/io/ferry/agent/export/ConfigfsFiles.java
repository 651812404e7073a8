package io.ferry.agent.export;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reading and writing configfs attributes the way nvmet needs them: an attribute reads back with a
 * trailing newline, a missing one reads as empty, and every failure names the file. The same calls
 * work on a plain directory tree, which is what the unit tests export into.
 */
final class ConfigfsFiles {

    /** What {@link #clearSecret} writes; a plain tree standing in for configfs keeps it as it is. */
    static final String NO_KEY = "\0";

    private ConfigfsFiles() {
    }

    static void mkdir(Path dir) {
        if (!Files.isDirectory(dir)) {
            io(() -> Files.createDirectories(dir));
        }
    }

    static String read(Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8).strip();
        } catch (NoSuchFileException e) {
            return "";
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    static void writeIfDifferent(Path file, String value) {
        if (!value.equals(read(file))) {
            write(file, value);
        }
    }

    static void write(Path file, String value) {
        try {
            Files.writeString(file, value + "\n", StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write '" + value + "' to " + file + ": " + e.getMessage(), e);
        }
    }

    /** Like {@link #writeIfDifferent}, but no message ever carries the value. */
    static void writeSecretIfDifferent(Path file, String secret) {
        if (secret.equals(read(file))) {
            return;
        }
        try {
            Files.writeString(file, secret + "\n", StandardCharsets.UTF_8);
        } catch (IOException e) {
            // The exception names the file and the kernel's answer (e.g. EINVAL), never the data written.
            throw new UncheckedIOException("cannot write a DH-HMAC-CHAP key to " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Empties a DH-HMAC-CHAP key attribute. nvmet takes a lone NUL byte as "no key": an empty write
     * never reaches the attribute, and a newline is refused (EINVAL), as checked on the 6.12 kernel.
     */
    static void clearSecret(Path file) {
        String current = read(file);
        if (current.isEmpty() || current.equals(NO_KEY)) {
            return;
        }
        try {
            Files.writeString(file, NO_KEY, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot clear the DH-HMAC-CHAP key in " + file + ": " + e.getMessage(), e);
        }
    }

    static List<Path> list(Path dir) {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            List<Path> out = new ArrayList<>();
            entries.forEach(out::add);
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir + ": " + e.getMessage(), e);
        }
    }

    /** configfs removes an item's attributes and default groups with the rmdir; a plain tree does not. */
    static void removeDir(Path dir) {
        try {
            Files.deleteIfExists(dir);
        } catch (DirectoryNotEmptyException e) {
            clearPlainTree(dir);
            io(() -> Files.deleteIfExists(dir));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove " + dir + ": " + e.getMessage(), e);
        }
    }

    private static void clearPlainTree(Path dir) {
        for (Path p : list(dir)) {
            if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                clearPlainTree(p);
            }
            io(() -> Files.deleteIfExists(p));
        }
    }

    interface IoAction {
        Object run() throws IOException;
    }

    static void io(IoAction action) {
        try {
            action.run();
        } catch (IOException e) {
            throw new UncheckedIOException(e.getMessage(), e);
        }
    }
}
