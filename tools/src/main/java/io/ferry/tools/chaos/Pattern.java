package io.ferry.tools.chaos;

import com.sun.nio.file.ExtendedOpenOption;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.SplittableRandom;

/**
 * A checksummed pattern written to a block device and acknowledged once the device has flushed it.
 * Written and read with {@code O_DIRECT}, so a read-back sees what the device holds, not this host's
 * page cache.
 *
 * @param offset where on the device (a multiple of {@link #ALIGN})
 * @param length bytes (a multiple of {@link #ALIGN})
 * @param seed   what the bytes are generated from
 * @param sha256 their checksum
 */
record Pattern(long offset, int length, long seed, String sha256) {

    static final int ALIGN = 4096;

    static Pattern of(long offset, int length, long seed) {
        return new Pattern(offset, length, seed, sha256(bytes(length, seed)));
    }

    private static ByteBuffer bytes(int length, long seed) {
        ByteBuffer buffer = ByteBuffer.allocateDirect(length + ALIGN).alignedSlice(ALIGN);
        buffer.limit(length);
        SplittableRandom random = new SplittableRandom(seed);
        while (buffer.remaining() >= 8) {
            buffer.putLong(random.nextLong());
        }
        return buffer.flip();
    }

    /** Writes the pattern and returns once the device says it is durable (the write is acknowledged). */
    void write(Path device) throws IOException {
        ByteBuffer buffer = bytes(length, seed);
        try (FileChannel channel = FileChannel.open(device, StandardOpenOption.WRITE, ExtendedOpenOption.DIRECT)) {
            long at = offset;
            while (buffer.hasRemaining()) {
                at += channel.write(buffer, at);
            }
            channel.force(true);
        }
    }

    /** The checksum of what the device holds where the pattern was written. */
    String readBack(Path device) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocateDirect(length + ALIGN).alignedSlice(ALIGN);
        buffer.limit(length);
        try (FileChannel channel = FileChannel.open(device, StandardOpenOption.READ, ExtendedOpenOption.DIRECT)) {
            long at = offset;
            while (buffer.hasRemaining()) {
                int n = channel.read(buffer, at);
                if (n < 0) {
                    throw new IOException(device + " ends at " + at + ", before the pattern's end at " + (offset + length));
                }
                at += n;
            }
        }
        return sha256(buffer.flip());
    }

    private static String sha256(ByteBuffer data) {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            digest.update(data.duplicate());
            return HexFormat.of().formatHex(digest.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
