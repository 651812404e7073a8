package io.ferry.tools.up;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** The one way {@code ferry up} keeps a second run off its data directory and its etcd. */
final class FileLocks {
    private FileLocks() {
    }

    /**
     * An exclusive lock on {@code file}, held until the channel is closed or this process ends
     * (the kernel releases it however the process ends, so a killed run leaves no stale lock).
     *
     * @param taken the error when another holder, in this JVM or another, has it
     */
    static FileChannel exclusive(Path file, String taken) throws IOException {
        FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        try {
            if (channel.tryLock() != null) {
                return channel;
            }
        } catch (OverlappingFileLockException e) {
            // Held by this JVM: taken all the same.
        }
        channel.close();
        throw new IllegalStateException(taken);
    }
}
