package io.ferry.csi;

import io.ferry.csi.v1.NodeGetVolumeStatsResponse;
import io.ferry.csi.v1.VolumeUsage;
import io.ferry.model.MkfsOptions;
import io.ferry.model.VolumeIntent;
import io.ferry.runtime.device.SignatureProbe;
import io.ferry.runtime.exec.Command;
import io.ferry.runtime.exec.CommandResult;
import io.ferry.runtime.exec.CommandRunner;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * What the node service does to a volume's device once it is verified as the volume's: format it
 * only when blank, mount it, grow its filesystem, measure it. Every command goes through the
 * command runner with a timeout where it may run long.
 */
final class Filesystems {

    // The node service's log category: operators follow a volume's staging under one name.
    private static final Logger log = LoggerFactory.getLogger(NodeService.class);

    private final CommandRunner runner;
    private final SignatureProbe probe;

    Filesystems(CommandRunner runner) {
        this.runner = runner;
        this.probe = new SignatureProbe(runner);
    }

    /**
     * Makes {@code device} hold an {@code fsType} filesystem: formats it when {@link SignatureProbe}
     * finds nothing at all on it, keeps a filesystem of that type (grown to the device when ext4),
     * and refuses anything else.
     */
    void formatIfBlank(String id, Path device, String fsType, VolumeIntent intent) {
        List<SignatureProbe.Signature> found = probe.probe(device.toString());
        if (found.isEmpty()) {
            List<String> mkfs = new ArrayList<>(List.of("mkfs." + fsType));
            List<String> options = fsType.equals(intent.fsType()) ? intent.mkfsOptions() : List.of();
            mkfs.addAll(intent.thin() ? options : MkfsOptions.keepingAllocation(fsType, options));
            mkfs.add(device.toString());
            runner.run(Command.of(mkfs).withTimeout(Duration.ofMinutes(10)).serializedBy("device:" + device));
        } else if (found.stream().noneMatch(sig -> sig.isFilesystem(fsType))) {
            // mkfs would overwrite whatever this is (mke2fs asks first only on a terminal), and a
            // partition table or RAID member is someone's data as surely as a filesystem is.
            throw Calls.failedPrecondition("volume " + id + " is not blank and holds no " + fsType
                    + " filesystem: found " + SignatureProbe.describe(found) + " on " + device
                    + "; refusing to format or mount it");
        }
        if (!found.isEmpty() && fsType.equals("ext4")) {
            growExt4ToItsDevice(id, device.toString());
        }
    }

    /** Mounts the filesystem on {@code device} at {@code target} with the CO's flags. */
    void mount(Path device, Path target, String fsType, List<String> mountFlags) {
        List<String> mount = new ArrayList<>(List.of("mount", "-t", fsType));
        List<String> flags = new ArrayList<>(mountFlags);
        if (fsType.equals("xfs")) {
            // A clone or restored snapshot carries its origin's XFS UUID; mounting both needs nouuid.
            flags.add("nouuid");
        }
        if (!flags.isEmpty()) {
            mount.add("-o");
            mount.add(String.join(",", flags));
        }
        mount.add(device.toString());
        mount.add(target.toString());
        runner.run(Command.of(mount));
    }

    /** Grows the filesystem mounted at {@code path} to its device; returns the device's size. */
    long grow(Mounts.Mount mount, Path path) {
        String device = mount.source();
        switch (mount.fsType()) {
            case "ext4" -> runner.run(Command.of("resize2fs", device).withTimeout(Duration.ofMinutes(30)));
            case "xfs" -> runner.run(Command.of("xfs_growfs", path.toString()).withTimeout(Duration.ofMinutes(30)));
            default -> throw Calls.invalid("cannot grow a " + mount.fsType() + " filesystem");
        }
        return deviceBytes(device);
    }

    long deviceBytes(String device) {
        return Long.parseLong(runner.run(Command.of("blockdev", "--getsize64", device)).stdout().strip());
    }

    /** Bytes and inodes of the filesystem mounted at {@code path}, or the bytes of a block volume there. */
    void addUsage(Path path, boolean filesystem, NodeGetVolumeStatsResponse.Builder response) {
        if (!filesystem) {
            response.addUsage(VolumeUsage.newBuilder().setUnit(VolumeUsage.Unit.BYTES).setTotal(deviceBytes(path.toString())));
            return;
        }
        // total blocks, free, available, fragment size, total inodes, free inodes
        String[] f = runner.run(Command.of("stat", "-f", "-c", "%b %f %a %S %c %d", path.toString()))
                .stdout().strip().split("\\s+");
        long blocks = Long.parseLong(f[0]);
        long free = Long.parseLong(f[1]);
        long avail = Long.parseLong(f[2]);
        long size = Long.parseLong(f[3]);
        long inodes = Long.parseLong(f[4]);
        long freeInodes = Long.parseLong(f[5]);
        response.addUsage(VolumeUsage.newBuilder().setUnit(VolumeUsage.Unit.BYTES).setTotal(blocks * size)
                .setAvailable(avail * size).setUsed((blocks - free) * size));
        response.addUsage(VolumeUsage.newBuilder().setUnit(VolumeUsage.Unit.INODES).setTotal(inodes)
                .setAvailable(freeInodes).setUsed(inodes - freeInodes));
    }

    /**
     * An ext4 filesystem that was already on the device may be smaller than it: a volume restored
     * from a snapshot, or cloned, into a larger size, for which the CO never calls
     * NodeExpandVolume. It is grown before it is mounted (offline, so no online-resize ioctl is
     * needed; resize2fs wants a fresh check first). Anything unexpected leaves it as it is: the
     * filesystem is intact and usable at its old size, which beats refusing to stage it.
     */
    private void growExt4ToItsDevice(String id, String device) {
        try {
            long deviceBytes = deviceBytes(device);
            String header = runner.run(Command.of("dumpe2fs", "-h", device)).stdout();
            long fsBytes = ext4Field(header, "Block count") * ext4Field(header, "Block size");
            if (fsBytes <= 0 || fsBytes >= deviceBytes) {
                return;
            }
            Duration timeout = Duration.ofMinutes(30);
            CommandResult check = runner.execute(Command.of("e2fsck", "-f", "-p", device)
                    .withTimeout(timeout).serializedBy("device:" + device));
            // 0: clean; 1: errors corrected. Anything else wants a person.
            if (check.exitCode() > 1) {
                log.warn("volume {}: its ext4 filesystem ({} bytes) is smaller than {} ({} bytes) but e2fsck -f -p"
                        + " exited {}: not grown. {}", id, fsBytes, device, deviceBytes, check.exitCode(),
                        check.stderr().strip());
                return;
            }
            runner.run(Command.of("resize2fs", device).withTimeout(timeout).serializedBy("device:" + device));
            log.info("volume {}: ext4 filesystem grown from {} to the {} bytes of its device", id, fsBytes, deviceBytes);
        } catch (RuntimeException e) {
            log.warn("volume {}: could not grow its ext4 filesystem to the size of {}: {}", id, device, e.getMessage());
        }
    }

    static long ext4Field(String dumpe2fsHeader, String field) {
        for (String line : dumpe2fsHeader.split("\n")) {
            if (line.startsWith(field + ":")) {
                return Long.parseLong(line.substring(field.length() + 1).strip());
            }
        }
        return -1;
    }
}
