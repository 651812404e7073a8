package io.ferry.runtime.device;

import io.ferry.runtime.exec.Command;
import io.ferry.runtime.exec.CommandRunner;
import io.ferry.runtime.exec.ProcessCommandRunner;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

/**
 * Real loop devices over sparse files, with what a host disk may really
 * carry: nothing, a filesystem made by the real mkfs, or only a partition table. Needs root and the
 * loop driver. The files are in a temporary directory of its own; {@link #close()} detaches every
 * device it attached and deletes the directory. Registered as an extension, it is closed after each
 * test, also after a failed one:
 * <pre>{@code @RegisterExtension final TestDisks disks = new TestDisks();}</pre>
 */
public final class TestDisks implements AutoCloseable, AfterEachCallback {

    public static final long MIB = 1L << 20;

    private final Path dir;
    private final CommandRunner runner = new ProcessCommandRunner();
    private final List<String> attached = new ArrayList<>();

    public TestDisks() {
        try {
            this.dir = Files.createTempDirectory("ferry-disks-");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Where the backing files are. */
    public Path directory() {
        return dir;
    }

    /** A zero-filled device of {@code bytes}. */
    public String blank(String name, long bytes) throws IOException {
        Path file = dir.resolve(name + ".img");
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(bytes);
        }
        String device = runner.run(Command.of("losetup", "--find", "--show", file.toString())).stdout().strip();
        attached.add(device);
        return device;
    }

    /** A device formatted by the real {@code mkfs.<fsType>}. */
    public String withFilesystem(String name, long bytes, String fsType) throws IOException {
        String device = blank(name, bytes);
        runner.run(Command.of("mkfs." + fsType, "-q", device));
        return device;
    }

    /** A device made an LVM physical volume by the real pvcreate (no volume group: needs no device-mapper). */
    public String withLvmPhysicalVolume(String name, long bytes) throws IOException {
        String device = blank(name, bytes);
        runner.run(Command.of("pvcreate", "-y", device));
        return device;
    }

    /**
     * A device whose only content is an MS-DOS partition table with one Linux partition from
     * sector 2048 to the end: what {@code sfdisk} or {@code fdisk} leaves before anyone makes a
     * filesystem in the partition. Written straight into the device.
     */
    public String withDosPartitionTable(String name, long bytes) throws IOException {
        String device = blank(name, bytes);
        writeDosPartitionTable(device, bytes);
        return device;
    }

    /** Writes the partition table of {@link #withDosPartitionTable} into an existing device of {@code bytes}. */
    public static void writeDosPartitionTable(String device, long bytes) throws IOException {
        ByteBuffer mbr = ByteBuffer.allocate(512).order(ByteOrder.LITTLE_ENDIAN);
        mbr.putInt(440, 0x5eed0001);
        mbr.put(446, (byte) 0x00);
        mbr.put(447, (byte) 0x00).put(448, (byte) 0x21).put(449, (byte) 0x00);
        mbr.put(450, (byte) 0x83);
        mbr.put(451, (byte) 0xfe).put(452, (byte) 0xff).put(453, (byte) 0xff);
        mbr.putInt(454, 2048);
        mbr.putInt(458, (int) (bytes / 512 - 2048));
        mbr.put(510, (byte) 0x55).put(511, (byte) 0xaa);
        try (RandomAccessFile raf = new RandomAccessFile(device, "rw")) {
            raf.write(mbr.array());
            raf.getFD().sync();
        }
    }

    /** SHA-256 of every byte of the device, read through the block layer. */
    public static String sha256(String device) throws IOException {
        try (InputStream in = Files.newInputStream(Path.of(device))) {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            byte[] buffer = new byte[1 << 16];
            int n;
            while ((n = in.read(buffer)) > 0) {
                digest.update(buffer, 0, n);
            }
            return HexFormat.of().formatHex(digest.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Writes one MiB of bytes drawn from {@code seed} at the start of {@code device} and syncs them,
     * so that a test can later tell by {@link #sha256OfFirstMiB} that a volume's data survived.
     */
    public static void writeFirstMiB(String device, long seed) throws IOException {
        byte[] data = new byte[(int) MIB];
        new Random(seed).nextBytes(data);
        try (RandomAccessFile raf = new RandomAccessFile(device, "rw")) {
            raf.write(data);
            raf.getFD().sync();
        }
    }

    /** SHA-256 of the first MiB of {@code file}: a volume's image or its device. */
    public static String sha256OfFirstMiB(Path file) throws IOException {
        byte[] head = new byte[(int) MIB];
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "r")) {
            raf.readFully(head);
        }
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(head));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void afterEach(ExtensionContext context) throws IOException {
        close();
    }

    @Override
    public void close() throws IOException {
        for (String device : attached) {
            runner.execute(Command.of("losetup", "-d", device));
        }
        attached.clear();
        if (Files.exists(dir)) {
            try (Stream<Path> files = Files.walk(dir)) {
                for (Path file : files.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(file);
                }
            }
        }
    }
}
