package io.ferry.csi;

import io.ferry.model.ExportInfo;
import io.ferry.model.Nqn;
import io.ferry.model.PoolConfig;
import io.ferry.runtime.exec.Command;
import io.ferry.runtime.exec.CommandResult;
import io.ferry.runtime.exec.CommandRunner;
import io.ferry.runtime.pool.PoolMarker;
import io.ferry.runtime.pool.VolumeFileMarker;
import io.grpc.StatusRuntimeException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Decides whether a device named by a volume status is one Ferry could have produced for that
 * volume. A status is an etcd key that anyone with write access to the prefix can set, and the node
 * plugin formats and mounts what it names as root; so before any use, the device is traced back
 * to the volume by what the kernel and LVM say, not by what the status says:
 *
 * <ul>
 *   <li>{@code file}: a loop device whose backing file is {@code <pool directory>/<volume>.img},
 *       in a directory that carries the pool's marker;</li>
 *   <li>{@code lvm}, {@code lvm-thin}: {@code /dev/<vg>/<volume>}, a device-mapper device whose LV
 *       carries the tags {@code ferry.volume=<volume>} and {@code ferry.cluster=<this cluster's id>};</li>
 *   <li>NVMe/TCP (every remote volume, and every {@code spdk} volume): the export's NQN (with this
 *       cluster's id, or of before cluster ids) and serial are the ones Ferry derives from the volume name, and the namespace is found under a
 *       controller of that very subsystem with that serial.</li>
 * </ul>
 *
 * Every refusal is FAILED_PRECONDITION naming the volume, the path and what did not match. The
 * sysfs and {@code /dev} roots, the block-device test and the command runner are parameters, so
 * the checks run in unit tests against a directory tree and scripted {@code lvs} output.
 */
final class DeviceVerifier {

    static final String VOLUME_FILE_SUFFIX = ".img";
    static final Duration LVS_TIMEOUT = Duration.ofSeconds(30);

    private static final Pattern LOOP = Pattern.compile("/dev/(loop[0-9]+)");
    private static final Pattern DM = Pattern.compile("dm-[0-9]+");
    private static final Pattern NAMESPACE = Pattern.compile("nvme[0-9]+n[0-9]+");
    private static final Pattern MULTIPATH_PATH = Pattern.compile("nvme[0-9]+c[0-9]+n[0-9]+");

    private final CommandRunner runner;
    private final Path sysRoot;
    private final Path devRoot;
    private final Predicate<Path> blockDevice;

    DeviceVerifier(CommandRunner runner, Path sysRoot, Path devRoot) {
        this(runner, sysRoot, devRoot, DeviceVerifier::isBlockDevice);
    }

    DeviceVerifier(CommandRunner runner, Path sysRoot, Path devRoot, Predicate<Path> blockDevice) {
        this.runner = runner;
        this.sysRoot = sysRoot;
        this.devRoot = devRoot;
        this.blockDevice = blockDevice;
    }

    /**
     * The device of a volume served by this node, after checking that {@code devicePath} (from its
     * status) is what the pool's engine makes for that volume. Returns the path to open on this host.
     */
    Path local(String volume, PoolConfig pool, String devicePath, String cluster) {
        if (devicePath == null) {
            throw refuse(volume, null, "its status names no device");
        }
        return switch (pool.engine()) {
            case FILE -> loop(volume, pool, devicePath, cluster);
            case LVM, LVM_THIN -> logicalVolume(volume, pool, devicePath, cluster);
            case SPDK -> throw refuse(volume, devicePath, "pool " + pool.name() + " is an spdk pool, whose volumes"
                    + " have no device on their node and are reached only over NVMe/TCP");
        };
    }

    private Path loop(String volume, PoolConfig pool, String devicePath, String cluster) {
        Matcher m = LOOP.matcher(devicePath);
        if (!m.matches()) {
            throw refuse(volume, devicePath, "pool " + pool.name() + " uses the file engine, whose devices are loop"
                    + " devices /dev/loopN");
        }
        String name = m.group(1);
        Path device = devRoot.resolve(name);
        if (!blockDevice.test(device)) {
            throw refuse(volume, devicePath, device + " is not a block device");
        }
        Path sysfs = sysRoot.resolve("block").resolve(name).resolve("loop/backing_file");
        String backing = SysBlock.read(sysfs);
        if (backing == null || backing.isEmpty()) {
            throw refuse(volume, devicePath, "the loop device has no backing file (" + sysfs + " is unreadable)");
        }
        Path dir = Path.of(pool.source().directory()).normalize();
        String file = volume + VOLUME_FILE_SUFFIX;
        // The kernel records the backing file by its canonical path, so a pool directory reached
        // through a symbolic link shows up under its real path.
        List<String> expected = new ArrayList<>(List.of(dir.resolve(file).toString()));
        try {
            expected.add(dir.toRealPath().resolve(file).toString());
        } catch (IOException e) {
            // a directory that cannot be resolved fails the marker check below with a clearer reason
        }
        if (!expected.contains(backing)) {
            throw refuse(volume, devicePath, "its backing file is " + backing + ", not " + dir.resolve(file)
                    + " of pool " + pool.name());
        }
        Path marker = dir.resolve(PoolMarker.FILE_NAME);
        Optional<PoolMarker.Claim> claim = markerClaim(dir);
        if (claim.isEmpty()) {
            throw refuse(volume, devicePath, "pool directory " + dir + " carries no pool marker (" + marker + ")");
        }
        if (!claim.get().pool().equals(pool.name())) {
            throw refuse(volume, devicePath, "pool directory " + dir + " carries the marker of pool \""
                    + claim.get().pool() + "\", not of pool " + pool.name());
        }
        // Another Ferry cluster on this host may use the same pool and volume names: the directory's
        // marker and the file's own attribute must both name this cluster.
        if (cluster == null) {
            throw refuse(volume, devicePath, "this cluster's id is not known yet, so the volume's file cannot be"
                    + " told from another cluster's");
        }
        if (claim.get().cluster() == null) {
            throw refuse(volume, devicePath, "pool directory " + dir + " carries a pool marker without a cluster id"
                    + " (written before cluster ids; the agent adds this cluster's when it claims the directory)");
        }
        if (!cluster.equals(claim.get().cluster())) {
            throw refuse(volume, devicePath, "pool directory " + dir + " is claimed by cluster "
                    + claim.get().cluster() + ", not by this one (" + cluster + ")");
        }
        Optional<String> fileOwner = VolumeFileMarker.read(Path.of(backing));
        if (!fileOwner.equals(Optional.of(cluster))) {
            throw refuse(volume, devicePath, "its backing file " + backing + " is marked " + fileOwner.map(
                    c -> "as cluster " + c + "'s").orElse("as nobody's") + " (user." + VolumeFileMarker.ATTRIBUTE
                    + "), not as this cluster's (" + cluster + ")");
        }
        return device;
    }

    /** The marker's claim; an unreadable marker counts as none. */
    private static Optional<PoolMarker.Claim> markerClaim(Path dir) {
        try {
            return PoolMarker.claim(dir);
        } catch (UncheckedIOException e) {
            return Optional.empty();
        }
    }

    private Path logicalVolume(String volume, PoolConfig pool, String devicePath, String cluster) {
        String vg = pool.source().volumeGroup();
        String expected = "/dev/" + vg + "/" + volume;
        if (!devicePath.equals(expected)) {
            throw refuse(volume, devicePath, "pool " + pool.name() + " makes it " + expected + " (volume group " + vg
                    + ")");
        }
        Path device = devRoot.resolve(vg).resolve(volume);
        Path real;
        Path dev;
        try {
            real = device.toRealPath();
            dev = devRoot.toRealPath();
        } catch (IOException e) {
            throw refuse(volume, devicePath, "it cannot be resolved: " + e.getMessage());
        }
        // With udev, /dev/<vg>/<lv> links to /dev/dm-N; without it (the testbed's guests), LVM links
        // it to a node /dev/mapper/<vg>-<lv> it creates itself. Either way it must be this LV's
        // device-mapper device, never a disk, a partition or a loop device.
        String dmName = vg.replace("-", "--") + "-" + volume.replace("-", "--");
        boolean viaDm = real.getParent().equals(dev) && DM.matcher(real.getFileName().toString()).matches();
        boolean viaMapper = real.getParent().equals(dev.resolve("mapper")) && real.getFileName().toString().equals(dmName);
        if (!viaDm && !viaMapper) {
            throw refuse(volume, devicePath, "it resolves to " + real + ", not to a device-mapper device"
                    + " (/dev/dm-N or /dev/mapper/" + dmName + ")");
        }
        if (!blockDevice.test(real)) {
            throw refuse(volume, devicePath, real + " is not a block device");
        }
        if (viaDm) {
            Path nameFile = sysRoot.resolve("block").resolve(real.getFileName().toString()).resolve("dm/name");
            String name = SysBlock.read(nameFile);
            if (!dmName.equals(name)) {
                throw refuse(volume, devicePath, real.getFileName() + " is device-mapper device \"" + name
                        + "\" (" + nameFile + "), not " + dmName);
            }
        }
        Command lvs = Command.of("lvs", "--noheadings", "-o", "lv_tags", vg + "/" + volume).withTimeout(LVS_TIMEOUT);
        CommandResult result = runner.execute(lvs);
        if (!result.succeeded()) {
            throw refuse(volume, devicePath, lvs.display() + " failed (exit " + result.exitCode() + "): "
                    + result.stderr().strip());
        }
        List<String> tags = Arrays.stream(result.stdout().strip().split("[,\\s]+")).filter(t -> !t.isEmpty()).toList();
        // Another Ferry cluster sharing this volume group may have a volume of the same name: the LV
        // must carry both the volume's tag and this cluster's.
        if (cluster == null) {
            throw refuse(volume, devicePath, "this cluster's id is not known yet, so LV " + vg + "/" + volume
                    + " cannot be told from another cluster's");
        }
        for (String tag : List.of("ferry.volume=" + volume, "ferry.cluster=" + cluster)) {
            if (!tags.contains(tag)) {
                throw refuse(volume, devicePath, "LV " + vg + "/" + volume + " does not carry the tag " + tag
                        + " (its tags: " + (tags.isEmpty() ? "none" : String.join(",", tags)) + ")");
            }
        }
        return device;
    }

    /** Checks that a remote volume's export is the subsystem and serial Ferry derives for it. */
    void export(String volume, String nqnPrefix, String cluster, ExportInfo export) {
        if (export == null) {
            throw refuse(volume, null, "its status names no device and no export");
        }
        if (cluster == null) {
            throw refuseExport(volume, export, "this cluster's id is not known yet, so its NQN cannot be told from"
                    + " another cluster's");
        }
        // An export made before cluster ids keeps its NQN until its volume is unexported, so that
        // hosts connected across an upgrade keep their path.
        String nqn = Nqn.forVolume(nqnPrefix, cluster, volume);
        String legacy = Nqn.legacyForVolume(nqnPrefix, volume);
        if (!export.nqn().equals(nqn) && !export.nqn().equals(legacy)) {
            throw refuseExport(volume, export, "its NQN is " + export.nqn() + ", not " + nqn
                    + " (this cluster's) nor " + legacy + " (of before cluster ids)");
        }
        String serial = Nqn.serialForVolume(volume);
        if (!export.serial().equals(serial)) {
            throw refuseExport(volume, export, "its serial is " + export.serial() + ", not " + serial);
        }
    }

    /**
     * The namespace device of a connected export: only under a controller whose subsystem NQN is
     * the export's and whose serial is the export's. A serial alone proves nothing: any target this
     * host is connected to can announce any serial.
     */
    Optional<Path> nvmeNamespace(ExportInfo export) {
        for (Path ctrl : controllers()) {
            if (!export.nqn().equals(SysBlock.read(ctrl.resolve("subsysnqn"))) || !export.serial().equals(SysBlock.read(ctrl.resolve("serial")))) {
                continue;
            }
            String name = ctrl.getFileName().toString();
            try (Stream<Path> children = Files.list(ctrl)) {
                for (Path child : children.sorted().toList()) {
                    String n = child.getFileName().toString();
                    // nvme0n1 per controller, or nvme0c1n1, the hidden path of head nvme0n1 under native multipath
                    if (NAMESPACE.matcher(n).matches() && n.startsWith(name + "n")) {
                        return Optional.of(devRoot.resolve(n));
                    }
                    if (MULTIPATH_PATH.matcher(n).matches()) {
                        return Optional.of(devRoot.resolve(n.replaceAll("c[0-9]+n", "n")));
                    }
                }
            } catch (IOException e) {
                // the controller went away while we looked; try the next one
            }
        }
        return Optional.empty();
    }

    /** Controllers announcing the export's serial under another subsystem, described for an error message. */
    List<String> impostors(ExportInfo export) {
        List<String> out = new ArrayList<>();
        for (Path ctrl : controllers()) {
            String nqn = SysBlock.read(ctrl.resolve("subsysnqn"));
            if (export.serial().equals(SysBlock.read(ctrl.resolve("serial"))) && !export.nqn().equals(nqn)) {
                out.add(ctrl.getFileName() + " (subsystem " + nqn + ")");
            }
        }
        return out;
    }

    List<Path> controllersOf(String nqn) {
        return controllers().stream().filter(c -> nqn.equals(SysBlock.read(c.resolve("subsysnqn")))).toList();
    }

    private List<Path> controllers() {
        Path dir = sysRoot.resolve("class/nvme");
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.sorted().toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    /** Whether two paths are the same block device (device numbers, so a udev link and a node made by hand agree). */
    static boolean sameDevice(Path a, Path b) {
        try {
            return isBlockDevice(a) && isBlockDevice(b)
                    && Files.getAttribute(a, "unix:rdev").equals(Files.getAttribute(b, "unix:rdev"));
        } catch (IOException | UnsupportedOperationException e) {
            return false;
        }
    }

    static boolean isBlockDevice(Path p) {
        try {
            int mode = (Integer) Files.getAttribute(p, "unix:mode");
            return (mode & 0170000) == 0060000;
        } catch (IOException | UnsupportedOperationException e) {
            return false;
        }
    }

    static StatusRuntimeException refuse(String volume, String path, String mismatch) {
        return Calls.failedPrecondition("volume " + volume + ": refusing device " + (path == null ? "(none)" : path)
                + " from its status: " + mismatch + "; it is not formatted, mounted or used");
    }

    private static StatusRuntimeException refuseExport(String volume, ExportInfo export, String mismatch) {
        return Calls.failedPrecondition("volume " + volume + ": refusing the export " + export.nqn() + " (serial "
                + export.serial() + ") from its status: " + mismatch + "; nothing is connected, formatted or mounted");
    }
}
