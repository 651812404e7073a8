package io.ferry.csi;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The kernel's block devices as sysfs lists them ({@code <sys>/block/<name>}) and their devtmpfs
 * nodes ({@code <dev>/<name>}): what the node plugin finds assembled devices by, so it never depends
 * on the names udev would add (a host may not run udev).
 */
final class SysBlock {

    private final Path sysRoot;
    private final Path devRoot;

    SysBlock(Path sysRoot, Path devRoot) {
        this.sysRoot = sysRoot;
        this.devRoot = devRoot;
    }

    Path sysRoot() {
        return sysRoot;
    }

    /** {@code <sys>/block/<kernelName>}: the device's sysfs directory. */
    Path dir(String kernelName) {
        return sysRoot.resolve("block").resolve(kernelName);
    }

    /** The kernel names of the block devices that match, sorted. */
    List<String> list(Pattern kernelName) {
        Path dir = sysRoot.resolve("block");
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> entries = Files.list(dir)) {
            return entries.map(p -> p.getFileName().toString()).filter(n -> kernelName.matcher(n).matches()).sorted()
                    .toList();
        } catch (IOException e) {
            throw Calls.internal("cannot list " + dir + ": " + e);
        }
    }

    /** The devtmpfs node of a kernel block device, which must be there: udev is not needed for it. */
    Path node(String kernelName) {
        Path node = devRoot.resolve(kernelName);
        if (!Files.exists(node)) {
            throw Calls.internal("block device " + kernelName + " is in " + sysRoot.resolve("block") + " but "
                    + node + " does not exist (is devtmpfs mounted on " + devRoot + "?)");
        }
        return node;
    }

    /**
     * Removes {@code <dev>/<kernelName>} and the links in {@code links} that lead to it, once the
     * kernel has no such device. Without udev, mdadm makes an md device's node and links itself, and
     * the kernel leaves them behind; anything that opens such a node later (an LVM or blkid scan of
     * {@code /dev}) makes the kernel create an empty md device again.
     */
    void removeStaleNode(String kernelName, Path... links) {
        if (Files.exists(dir(kernelName))) {
            return;
        }
        Path node = devRoot.resolve(kernelName);
        try {
            for (Path link : links) {
                if (Files.isSymbolicLink(link) && Files.readSymbolicLink(link).getFileName().toString().equals(kernelName)) {
                    Files.delete(link);
                }
            }
            Files.deleteIfExists(node);
        } catch (IOException e) {
            throw Calls.internal("cannot remove the stale node " + node + " or its links: " + e);
        }
    }

    Path devRoot() {
        return devRoot;
    }

    /**
     * A block device's number as {@code major:minor}, the way dmsetup prints it: from the node itself
     * when the path leads to a device node (whose name need not be the kernel's: without udev, LVM's
     * {@code /dev/<vg>/<lv>} leads to a node libdevmapper made as {@code /dev/mapper/<vg>-<lv>}, not
     * to {@code dm-N}), else from {@code <sys>/class/block/<name>/dev}.
     */
    String majorMinor(Path device) throws IOException {
        Path real = device.toRealPath();
        if (Files.readAttributes(real, PosixFileAttributes.class).isOther()) {
            long rdev = (Long) Files.getAttribute(real, "unix:rdev");
            long major = ((rdev >>> 32) & 0xfffff000L) | ((rdev >>> 8) & 0xfffL);
            long minor = ((rdev >>> 12) & 0xffffff00L) | (rdev & 0xffL);
            return major + ":" + minor;
        }
        return Files.readString(sysRoot.resolve("class/block").resolve(kernelName(device)).resolve("dev")).strip();
    }

    /**
     * The kernel's name of a block device ({@code dm-0}, {@code nvme0n1}), which md uses for its
     * members: found by the device's number ({@code <sys>/dev/block/<major:minor>} links to it), so a
     * {@code /dev/mapper} node made without udev is known as its {@code dm-N}; the path's own name
     * when sysfs has no such link.
     */
    String kernelNameOf(Path device) throws IOException {
        Path link = sysRoot.resolve("dev/block").resolve(majorMinor(device));
        return Files.isSymbolicLink(link) ? Files.readSymbolicLink(link).getFileName().toString() : kernelName(device);
    }

    /** The kernel's name of the device a path leads to (links followed). */
    static String kernelName(Path device) {
        try {
            return device.toRealPath().getFileName().toString();
        } catch (IOException e) {
            throw Calls.internal("cannot resolve " + device + ": " + e);
        }
    }

    /**
     * A block device's size in bytes, from {@code <sys>/block/<name>/size} (512-byte sectors whatever
     * the device's block size); -1 when it cannot be read. The kernel updates it when an LV or an NVMe
     * namespace grows, without anything being opened.
     */
    long bytes(Path device) {
        try {
            String sectors = read(dir(kernelNameOf(device)).resolve("size"));
            return sectors == null ? -1 : Long.parseLong(sectors) * 512;
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /** An attribute's value, stripped; null when it cannot be read (the device is gone, or never had it). */
    static String read(Path file) {
        try {
            return Files.readString(file).strip();
        } catch (IOException e) {
            return null;
        }
    }
}
