package io.ferry.agent.engine;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/** The file operations a file pool is built from, with errors that name the file. */
final class FileIo {

    private FileIo() {
    }

    interface IoAction {
        void run() throws IOException;
    }

    static void io(IoAction action) {
        try {
            action.run();
        } catch (NoSuchFileException e) {
            throw new UncheckedIOException(e.getFile() + " does not exist", e);
        } catch (IOException e) {
            throw new UncheckedIOException(e.getMessage(), e);
        }
    }

    /** fsync, then an atomic rename: the final name only ever points at complete content. */
    static void publish(Path tmp, Path file) {
        sync(tmp);
        io(() -> Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE));
        try (FileChannel d = FileChannel.open(file.getParent(), StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException e) {
            // Some file systems refuse fsync on a directory; the rename is still atomic.
        }
    }

    static void sync(Path file) {
        try (FileChannel c = FileChannel.open(file, StandardOpenOption.WRITE)) {
            c.force(true);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot sync " + file, e);
        }
    }

    static void setLength(Path file, long size) {
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(size);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot set the size of " + file + " to " + size + " bytes: "
                    + e.getMessage(), e);
        }
    }

    static long length(Path file) {
        try {
            return Files.size(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static void requireExists(Path file, String what) {
        if (!Files.isRegularFile(file)) {
            throw EngineException.transientFailure(what + " does not exist (" + file + ")");
        }
    }

    /** A snapshot as its file describes it: its size, and its time of creation as the file's. */
    static LocalSnapshot describeSnapshot(String snapshot, Path file) {
        try {
            return new LocalSnapshot(snapshot, null, Files.size(file), Files.getLastModifiedTime(file).toInstant());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
