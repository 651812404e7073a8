package io.ferry.agent.engine;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Attaches, detaches and resizes loop devices through the kernel's loop ioctls, the calls
 * {@code losetup} itself makes. A process per volume (start, dynamic linking, two pipe readers,
 * reaping) cost the file engine most of its time under load, and because {@code losetup --find}
 * races with itself it had to be serialized: one slow process held up every other volume of the
 * pool.
 *
 * <p>Another process may take the device {@code LOOP_CTL_GET_FREE} named before this one binds it;
 * the kernel then refuses the bind with {@code EBUSY} and the attach asks for another device. Within
 * this JVM a lock held for the few microseconds between the two calls avoids the race altogether.
 */
final class LoopIoctls {

    // Values from <linux/loop.h> and <fcntl.h> (x86-64 and arm64 share them).
    private static final int O_RDWR = 2;
    private static final int O_CLOEXEC = 0x80000;
    private static final long LOOP_SET_FD = 0x4C00;
    private static final long LOOP_CLR_FD = 0x4C01;
    private static final long LOOP_SET_STATUS64 = 0x4C04;
    private static final long LOOP_SET_CAPACITY = 0x4C07;
    private static final long LOOP_CONFIGURE = 0x4C0A;
    private static final long LOOP_CTL_GET_FREE = 0x4C82;
    private static final int ENOENT = 2;
    private static final int ENXIO = 6;
    private static final int EBUSY = 16;
    private static final int EINVAL = 22;
    private static final int ENOTTY = 25;

    // struct loop_config { __u32 fd; __u32 block_size; struct loop_info64 info; __u64 __reserved[8]; }
    private static final int CONFIG_SIZE = 304;
    private static final int CONFIG_INFO_OFFSET = 8;
    // struct loop_info64: five __u64, four __u32, then lo_file_name[64] at offset 56.
    private static final int INFO_SIZE = 232;
    private static final int INFO_FILE_NAME_OFFSET = 56;
    private static final int FILE_NAME_MAX = 63;

    private static final int ATTACH_ATTEMPTS = 64;
    private static final long DEVICE_NODE_WAIT_NANOS = 2_000_000_000L;

    private static final ReentrantLock ATTACH = new ReentrantLock();
    private static final String UNAVAILABLE = probe();

    private final Path controlDevice;

    LoopIoctls() {
        this(Path.of("/dev/loop-control"));
    }

    LoopIoctls(Path controlDevice) {
        this.controlDevice = controlDevice;
    }

    /** Why the ioctls cannot be used on this host, or empty when they can. */
    static Optional<String> unavailable(Path controlDevice) {
        if (UNAVAILABLE != null) {
            return Optional.of(UNAVAILABLE);
        }
        if (!Files.exists(controlDevice)) {
            return Optional.of(controlDevice + " does not exist (no loop driver?)");
        }
        return Optional.empty();
    }

    private static String probe() {
        try {
            Native.register(LoopIoctls.class, Platform.C_LIBRARY_NAME);
            return null;
        } catch (UnsatisfiedLinkError | NoClassDefFoundError | IllegalStateException e) {
            return "JNA cannot bind the C library: " + e.getMessage();
        }
    }

    private static native int open(byte[] path, int flags) throws LastErrorException;

    private static native int close(int fd) throws LastErrorException;

    private static native int ioctl(int fd, long request, long argument) throws LastErrorException;

    private static native int ioctl(int fd, long request, Pointer argument) throws LastErrorException;

    /** Binds a free loop device to {@code file} (read-write, no auto-clear) and returns its path. */
    String attach(Path file) {
        int backing = openOrThrow(file.toString(), "open the backing file " + file);
        try {
            int control = openOrThrow(controlDevice.toString(), "open " + controlDevice);
            try {
                for (int attempt = 0; attempt < ATTACH_ATTEMPTS; attempt++) {
                    String device = tryAttach(control, backing, file);
                    if (device != null) {
                        return device;
                    }
                }
            } finally {
                closeQuietly(control);
            }
        } finally {
            closeQuietly(backing);
        }
        throw new EngineException("cannot attach a loop device to " + file + ": every free device was taken by"
                + " another process before it could be bound (" + ATTACH_ATTEMPTS + " attempts)", false);
    }

    /** The device it bound, or null when another process bound it first. */
    private String tryAttach(int control, int backing, Path file) {
        ATTACH.lock();
        try {
            int number;
            try {
                number = ioctl(control, LOOP_CTL_GET_FREE, 0L);
            } catch (LastErrorException e) {
                throw failure("find a free loop device for " + file, e);
            }
            String device = "/dev/loop" + number;
            int loop = openDeviceNode(device);
            try {
                bind(loop, backing, file);
                return device;
            } catch (LastErrorException e) {
                if (e.getErrorCode() == EBUSY) {
                    return null;
                }
                throw failure("bind " + device + " to " + file, e);
            } finally {
                closeQuietly(loop);
            }
        } finally {
            ATTACH.unlock();
        }
    }

    private static void bind(int loop, int backing, Path file) {
        Memory config = new Memory(CONFIG_SIZE);
        config.clear();
        config.setInt(0, backing);
        writeFileName(config, CONFIG_INFO_OFFSET + INFO_FILE_NAME_OFFSET, file);
        try {
            ioctl(loop, LOOP_CONFIGURE, config);
        } catch (LastErrorException e) {
            if (e.getErrorCode() != EINVAL && e.getErrorCode() != ENOTTY) {
                throw e;
            }
            // Kernels before 5.8 have no LOOP_CONFIGURE: bind, then set the status, as losetup did.
            ioctl(loop, LOOP_SET_FD, backing);
            Memory info = new Memory(INFO_SIZE);
            info.clear();
            writeFileName(info, INFO_FILE_NAME_OFFSET, file);
            try {
                ioctl(loop, LOOP_SET_STATUS64, info);
            } catch (LastErrorException statusFailed) {
                ioctl(loop, LOOP_CLR_FD, 0L);
                throw statusFailed;
            }
        }
    }

    /** The kernel shows this name only where sysfs is missing; sysfs gives the full path. */
    private static void writeFileName(Memory memory, long offset, Path file) {
        byte[] name = file.toString().getBytes(StandardCharsets.UTF_8);
        memory.write(offset, name, 0, Math.min(name.length, FILE_NAME_MAX));
    }

    /**
     * Unbinds {@code device}. A device still open elsewhere (mounted, say) is unbound by the kernel
     * when its last user closes it, as with {@code losetup --detach}; a device bound to nothing is
     * already detached.
     */
    void detach(String device) {
        int loop;
        try {
            loop = open(path(device), O_RDWR | O_CLOEXEC);
        } catch (LastErrorException e) {
            if (e.getErrorCode() == ENOENT || e.getErrorCode() == ENXIO) {
                return;
            }
            throw failure("open " + device, e);
        }
        try {
            ioctl(loop, LOOP_CLR_FD, 0L);
        } catch (LastErrorException e) {
            if (e.getErrorCode() != ENXIO) {
                throw failure("detach " + device, e);
            }
        } finally {
            closeQuietly(loop);
        }
    }

    /** Makes the device take the backing file's current length. */
    void refreshCapacity(String device) {
        int loop = openOrThrow(device, "open " + device);
        try {
            ioctl(loop, LOOP_SET_CAPACITY, 0L);
        } catch (LastErrorException e) {
            throw failure("refresh the capacity of " + device, e);
        } finally {
            closeQuietly(loop);
        }
    }

    /** A device the kernel just created gets its /dev node from devtmpfs a moment later. */
    private static int openDeviceNode(String device) {
        long deadline = System.nanoTime() + DEVICE_NODE_WAIT_NANOS;
        while (true) {
            try {
                return open(path(device), O_RDWR | O_CLOEXEC);
            } catch (LastErrorException e) {
                if (e.getErrorCode() != ENOENT || System.nanoTime() > deadline) {
                    throw failure("open " + device, e);
                }
                try {
                    Thread.sleep(1);
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    throw failure("open " + device, e);
                }
            }
        }
    }

    private static int openOrThrow(String path, String what) {
        try {
            return open(path(path), O_RDWR | O_CLOEXEC);
        } catch (LastErrorException e) {
            throw failure(what, e);
        }
    }

    private static void closeQuietly(int fd) {
        try {
            close(fd);
        } catch (LastErrorException ignored) {
            // Nothing to do about a failed close of a descriptor only this call used.
        }
    }

    private static byte[] path(String path) {
        byte[] bytes = path.getBytes(StandardCharsets.UTF_8);
        byte[] terminated = new byte[bytes.length + 1];
        System.arraycopy(bytes, 0, terminated, 0, bytes.length);
        return terminated;
    }

    private static EngineException failure(String what, LastErrorException e) {
        return new EngineException("cannot " + what + ": " + describe(e.getErrorCode()), false);
    }

    /** strerror's text without a native call: the few codes these calls return, else the number. */
    static String describe(int errno) {
        return switch (errno) {
            case 1 -> "operation not permitted (EPERM; the agent must run as root)";
            case ENOENT -> "no such file or device (ENOENT)";
            case ENXIO -> "no such device or address (ENXIO)";
            case 9 -> "bad file descriptor (EBADF)";
            case 12 -> "out of memory (ENOMEM)";
            case 13 -> "permission denied (EACCES)";
            case EBUSY -> "device or resource busy (EBUSY)";
            case EINVAL -> "invalid argument (EINVAL)";
            case 24 -> "too many open files (EMFILE)";
            case ENOTTY -> "not a loop device (ENOTTY)";
            case 30 -> "read-only file system (EROFS)";
            default -> "errno " + errno;
        };
    }
}
