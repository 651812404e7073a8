package io.ferry.csi;

import io.ferry.model.Layout;
import io.ferry.model.VolumeParts;
import io.ferry.runtime.device.SignatureProbe;
import io.ferry.runtime.exec.Command;
import io.ferry.runtime.exec.CommandResult;
import io.ferry.runtime.exec.CommandRunner;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Makes one device of a multi-part volume's verified part devices, on the consumer: a
 * device-mapper {@code linear} table for {@code linear}, an md RAID1 array for {@code mirror}
 * (docs/layouts.md, "Assembly on the consumer"). Every step first looks at what is there, so a call
 * repeated after a crash or a restart of the plugin reuses what an earlier one made; nothing is kept
 * in memory.
 *
 * <p>The assembled device is always found through sysfs ({@code <sys>/block/dm-N/dm/name}, or the
 * md device whose {@code mdadm --detail} reports the volume's array UUID) and used by its kernel
 * name under {@code /dev}, the node devtmpfs makes for every block device. {@code /dev/mapper} and
 * {@code /dev/md} links come from udev, which a host may not run.
 *
 * <p>A mirror's legs are written to only when they carry the volume's own array UUID, or when every
 * one of them is blank: a leg with anything else on it is refused by name, with what was found.
 */
final class PartsAssembler {

    // The node service's log category: operators follow a volume's staging under one name.
    private static final Logger log = LoggerFactory.getLogger(NodeService.class);

    static final String DM_PREFIX = "ferry-";
    static final String DM_UUID_PREFIX = "FERRY-";
    static final long SECTOR_BYTES = 512;
    static final Duration DMSETUP_TIMEOUT = Duration.ofSeconds(30);
    static final Duration MDADM_TIMEOUT = Duration.ofMinutes(2);
    static final Duration MD_GONE_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration MD_GONE_POLL = Duration.ofMillis(50);
    private static final Pattern MD = Pattern.compile("md[0-9]+");
    private static final Pattern DM = Pattern.compile("dm-[0-9]+");
    private static final String NO_SUPERBLOCK = "No md superblock";

    private final CommandRunner runner;
    private final Path sysRoot;
    private final Path devRoot;
    private final SignatureProbe probe;

    PartsAssembler(CommandRunner runner, Path sysRoot, Path devRoot) {
        this.runner = runner;
        this.sysRoot = sysRoot;
        this.devRoot = devRoot;
        this.probe = new SignatureProbe(runner);
    }

    /** The device-mapper name of a linear volume: its own name, so an operator's {@code dmsetup ls} tells it. */
    static String dmName(String volume) {
        return DM_PREFIX + volume;
    }

    /**
     * The device-mapper UUID of a linear volume, the mark of a device Ferry made: LVM maps a volume
     * group {@code ferry}'s LV {@code v} to the name {@code ferry-v} too, and such a device is never
     * taken for the volume, nor removed.
     */
    static String dmUuid(String volume) {
        return DM_UUID_PREFIX + volume;
    }

    /** A device-mapper device: its devtmpfs node and its UUID (empty when it has none). */
    private record DmDevice(Path node, String uuid) {
    }

    /**
     * The md device path given to mdadm. Only mdadm's choice of a free minor and its own links
     * depend on it; the array is found by UUID afterwards. Derived from the UUID rather than the
     * volume's name because a volume's name may be longer than the 32 bytes an md name holds.
     */
    static String mdPath(VolumeParts parts) {
        return "/dev/md/" + mdName(parts);
    }

    static String mdName(VolumeParts parts) {
        return DM_PREFIX + hex(parts.arrayUuid()).substring(0, 12);
    }

    /**
     * The assembled device of {@code parts} from {@code devices}, the parts' verified devices in the
     * record's order, made unless it is already there.
     */
    Path assemble(VolumeParts parts, List<Path> devices) {
        if (devices.size() != parts.parts().size()) {
            throw new IllegalArgumentException(parts.parts().size() + " parts but " + devices.size() + " devices");
        }
        return parts.layout() == Layout.MIRROR ? mirror(parts, devices) : linear(parts, devices);
    }

    /** The assembled device if it is there now; nothing is made or changed. */
    Optional<Path> assembled(VolumeParts parts) {
        return parts.layout() == Layout.MIRROR ? mdDevice(parts.arrayUuid())
                : dmDevice(dmName(parts.volume())).filter(d -> d.uuid().equals(dmUuid(parts.volume()))).map(DmDevice::node);
    }

    /**
     * Takes the volume's assembled device apart, leaving the parts as they are: removes the
     * device-mapper device named after it, and stops the md array with the volume's UUID when its
     * parts record is known. Nothing to do when neither is there.
     */
    void disassemble(String volume, Optional<VolumeParts> parts) {
        String name = dmName(volume);
        if (dmDevice(name).filter(d -> d.uuid().equals(dmUuid(volume))).isPresent()) {
            runner.run(Command.of("dmsetup", "--noudevsync", "remove", name).withTimeout(DMSETUP_TIMEOUT)
                    .serializedBy("dm:" + name));
            log.info("volume {}: device-mapper device {} removed", volume, name);
        }
        if (parts.isPresent() && parts.get().layout() == Layout.MIRROR) {
            Optional<Path> md = mdDevice(parts.get().arrayUuid());
            if (md.isPresent()) {
                stop(parts.get(), md.get());
            }
        }
    }

    // ---- linear: device-mapper ----

    private Path linear(VolumeParts parts, List<Path> devices) {
        String name = dmName(parts.volume());
        String uuid = dmUuid(parts.volume());
        String table = linearTable(parts, devices);
        Optional<DmDevice> existing = dmDevice(name);
        if (existing.isPresent() && !existing.get().uuid().equals(uuid)) {
            throw Calls.failedPrecondition("volume " + parts.volume() + ": a device-mapper device named " + name
                    + " exists and is not Ferry's (its UUID is " + (existing.get().uuid().isEmpty() ? "empty"
                    : existing.get().uuid()) + ", not " + uuid + "); it is left as it is");
        }
        if (existing.isPresent()) {
            String live = runner.run(Command.of("dmsetup", "table", name).withTimeout(DMSETUP_TIMEOUT)).stdout();
            if (normalized(live).equals(normalized(table))) {
                return existing.get().node();
            }
            if (!live.isBlank()) {
                throw Calls.failedPrecondition("volume " + parts.volume() + ": device-mapper device " + name
                        + " exists with the table [" + String.join("; ", normalized(live)) + "], not the one its parts"
                        + " make [" + String.join("; ", normalized(table)) + "]; it is left as it is");
            }
            // Created but never loaded (the plugin died inside dmsetup create): nothing can use it.
            runner.run(Command.of("dmsetup", "--noudevsync", "remove", name).withTimeout(DMSETUP_TIMEOUT)
                    .serializedBy("dm:" + name));
        }
        runner.run(Command.of("dmsetup", "--noudevsync", "create", name, "--uuid", uuid).withStdin(table.getBytes(StandardCharsets.US_ASCII))
                .withTimeout(DMSETUP_TIMEOUT).serializedBy("dm:" + name));
        log.info("volume {}: device-mapper device {} created over {}", parts.volume(), name, parts.partNames());
        return dmDevice(name).map(DmDevice::node).orElseThrow(() -> Calls.internal("volume " + parts.volume()
                + ": dmsetup created " + name + " but no " + sysRoot.resolve("block/dm-*/dm/name") + " names it"));
    }

    /** One {@code linear} line per segment, in the parts' order; devices as major:minor, the way dmsetup prints them back. */
    String linearTable(VolumeParts parts, List<Path> devices) {
        StringBuilder table = new StringBuilder();
        long start = 0;
        for (int i = 0; i < devices.size(); i++) {
            VolumeParts.Part part = parts.parts().get(i);
            if (part.sizeBytes() % SECTOR_BYTES != 0) {
                throw Calls.failedPrecondition("volume " + parts.volume() + ": part " + part.name() + " is "
                        + part.sizeBytes() + " bytes, not a whole number of 512-byte sectors");
            }
            long sectors = part.sizeBytes() / SECTOR_BYTES;
            table.append(start).append(' ').append(sectors).append(" linear ")
                    .append(majorMinor(part.name(), devices.get(i))).append(" 0\n");
            start += sectors;
        }
        return table.toString();
    }

    private static List<String> normalized(String table) {
        return table.lines().map(String::strip).filter(l -> !l.isEmpty()).map(l -> String.join(" ", l.split("\\s+")))
                .toList();
    }

    private String majorMinor(String part, Path device) {
        try {
            Path real = device.toRealPath();
            if (Files.readAttributes(real, PosixFileAttributes.class).isOther()) {
                // A device node carries its own number. Its name need not be the kernel's: without udev,
                // LVM's /dev/<vg>/<lv> leads to a node libdevmapper made as /dev/mapper/<vg>-<lv>, not to dm-N.
                long rdev = (Long) Files.getAttribute(real, "unix:rdev");
                long major = ((rdev >>> 32) & 0xfffff000L) | ((rdev >>> 8) & 0xfffL);
                long minor = ((rdev >>> 12) & 0xffffff00L) | (rdev & 0xffL);
                return major + ":" + minor;
            }
        } catch (IOException | UnsupportedOperationException e) {
            throw Calls.internal("part " + part + ": cannot read the device number of " + device + ": " + e);
        }
        Path dev = sysRoot.resolve("class/block").resolve(kernelName(device)).resolve("dev");
        try {
            return Files.readString(dev).strip();
        } catch (IOException e) {
            throw Calls.internal("part " + part + ": cannot read the device number of " + device + " at " + dev + ": " + e);
        }
    }

    private static String kernelName(Path device) {
        try {
            return device.toRealPath().getFileName().toString();
        } catch (IOException e) {
            throw Calls.internal("cannot resolve " + device + ": " + e);
        }
    }

    /** The device-mapper device named {@code name}, if there is one ({@code <sys>/block/dm-N/dm/name} and {@code uuid}). */
    private Optional<DmDevice> dmDevice(String name) {
        for (String kernelName : blockDevices(DM)) {
            Path dm = sysRoot.resolve("block").resolve(kernelName).resolve("dm");
            if (name.equals(read(dm.resolve("name")))) {
                String uuid = read(dm.resolve("uuid"));
                return Optional.of(new DmDevice(node(kernelName), uuid == null ? "" : uuid));
            }
        }
        return Optional.empty();
    }

    // ---- mirror: md RAID1 ----

    private Path mirror(VolumeParts parts, List<Path> legs) {
        String uuid = parts.arrayUuid();
        Optional<Path> running = mdDevice(uuid);
        if (running.isPresent()) {
            if (started(running.get())) {
                return running.get();
            }
            // Left inactive by an assembly that did not finish: nothing can use it, and it holds the legs.
            stop(parts, running.get());
        }
        List<Path> ours = new ArrayList<>();
        List<String> blank = new ArrayList<>();
        List<String> refused = new ArrayList<>();
        for (int i = 0; i < legs.size(); i++) {
            String part = parts.parts().get(i).name();
            Path leg = legs.get(i);
            Optional<String> member = examine(part, leg);
            if (member.isPresent()) {
                if (hex(member.get()).equals(hex(uuid))) {
                    ours.add(leg);
                } else {
                    refused.add("leg " + part + " (" + leg + ") is a member of md array " + member.get());
                }
                continue;
            }
            List<SignatureProbe.Signature> found = probe.probe(leg.toString());
            if (found.isEmpty()) {
                blank.add(part);
            } else {
                refused.add("leg " + part + " (" + leg + ") holds " + SignatureProbe.describe(found));
            }
        }
        if (!refused.isEmpty()) {
            throw Calls.failedPrecondition("volume " + parts.volume() + ": refusing to assemble its mirror (array "
                    + uuid + "): " + String.join("; ", refused) + "; nothing is written to any leg");
        }
        if (!ours.isEmpty() && !blank.isEmpty()) {
            // Members beside blank legs: a create cut short, or a leg lost and made again empty. Running on
            // the members alone would serve one copy with nothing saying so, and if those members fell
            // behind once, it would serve old data as current. Nothing here knows which legs are in sync:
            // that waits for the rebuild, which records it.
            throw Calls.failedPrecondition("volume " + parts.volume() + ": mirror (array " + uuid + ") has legs "
                    + "carrying its superblock beside blank legs " + blank + "; assembling it from some legs could "
                    + "serve stale data, and rebuilding a leg is not supported yet; nothing was written to any leg");
        }
        if (!ours.isEmpty()) {
            List<String> assemble = new ArrayList<>(List.of("mdadm", "--assemble", mdPath(parts), "--uuid", uuid, "--run"));
            ours.forEach(leg -> assemble.add(leg.toString()));
            runner.run(Command.of(assemble).withTimeout(MDADM_TIMEOUT).serializedBy("md:" + uuid));
            log.info("volume {}: md array {} assembled from {}", parts.volume(), uuid, ours);
        } else {
            List<String> create = new ArrayList<>(List.of("mdadm", "--create", mdPath(parts), "--run", "--level=1",
                    "--raid-devices=" + legs.size(), "--metadata=1.2", "--bitmap=internal",
                    // Pinned, so the array is exactly the volume's size: the controller sized each leg for it.
                    "--data-offset=" + VolumeParts.MIRROR_RESERVED_BYTES / 1024 + "K", "--uuid=" + uuid,
                    "--name=" + mdName(parts)));
            legs.forEach(leg -> create.add(leg.toString()));
            runner.run(Command.of(create).withTimeout(MDADM_TIMEOUT).serializedBy("md:" + uuid));
            log.info("volume {}: md array {} created over the blank legs {}", parts.volume(), uuid, parts.partNames());
        }
        return mdDevice(uuid).orElseThrow(() -> Calls.internal("volume " + parts.volume() + ": mdadm ran but no md device"
                + " under " + sysRoot.resolve("block") + " reports the array " + uuid));
    }

    private void stop(VolumeParts parts, Path md) {
        runner.run(Command.of("mdadm", "--stop", md.toString()).withTimeout(MDADM_TIMEOUT)
                .serializedBy("md:" + parts.arrayUuid()));
        // The kernel deletes a stopped md device from a work queue after mdadm closes it, so it can
        // linger a moment; waiting keeps a call that follows (a restage, another volume's lookup) from
        // finding it half gone, and an unstage returns with the node clean.
        Path entry = sysRoot.resolve("block").resolve(md.getFileName().toString());
        long deadline = System.nanoTime() + MD_GONE_TIMEOUT.toNanos();
        while (Files.exists(entry) && System.nanoTime() < deadline) {
            sleep(MD_GONE_POLL);
        }
        if (Files.exists(entry)) {
            log.info("volume {}: md array {} ({}) stopped; the kernel has not removed {} yet (it holds no leg)",
                    parts.volume(), md, parts.arrayUuid(), entry);
        } else {
            log.info("volume {}: md array {} ({}) stopped", parts.volume(), md, parts.arrayUuid());
        }
    }

    private static void sleep(Duration duration) {
        try {
            Thread.sleep(duration.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw Calls.internal("interrupted while waiting for an md device to go");
        }
    }

    /** Whether the array runs: any {@code md/array_state} but {@code clear} and {@code inactive}. */
    private boolean started(Path md) {
        String state = read(sysRoot.resolve("block").resolve(md.getFileName().toString()).resolve("md/array_state"));
        return state != null && !state.equals("clear") && !state.equals("inactive");
    }

    /**
     * The UUID of the md array {@code leg} is a member of, from its superblock; empty when it has
     * none. A leg that cannot be read is an error, never taken as blank.
     */
    private Optional<String> examine(String part, Path leg) {
        CommandResult result = runner.execute(Command.of("mdadm", "--examine", "--export", leg.toString())
                .withTimeout(MDADM_TIMEOUT));
        Optional<String> uuid = exported(result.stdout(), "MD_UUID");
        if (result.succeeded() && uuid.isPresent()) {
            return uuid;
        }
        if (result.succeeded() || result.stderr().contains(NO_SUPERBLOCK)) {
            return Optional.empty();
        }
        throw Calls.internal("leg " + part + ": 'mdadm --examine --export " + leg + "' exited with " + result.exitCode()
                + ": " + result.stderr().strip());
    }

    /**
     * {@code /dev/mdN} of the md array whose UUID is {@code uuid}, if the kernel has one, started or
     * not (see {@link #started}).
     */
    Optional<Path> mdDevice(String uuid) {
        for (String kernelName : blockDevices(MD)) {
            String state = read(sysRoot.resolve("block").resolve(kernelName).resolve("md/array_state"));
            if (state == null || state.equals("clear")) {
                // No array (one being deleted, or an empty md device). Opening its node would make the
                // kernel create it again, an empty md device left behind for nothing.
                continue;
            }
            Path device = node(kernelName);
            CommandResult detail = runner.execute(Command.of("mdadm", "--detail", "--export", device.toString())
                    .withTimeout(MDADM_TIMEOUT));
            // An array being stopped or not started answers with an error: it is not one to use.
            if (detail.succeeded() && exported(detail.stdout(), "MD_UUID").map(PartsAssembler::hex)
                    .filter(hex(uuid)::equals).isPresent()) {
                return Optional.of(device);
            }
        }
        return Optional.empty();
    }

    private static Optional<String> exported(String output, String key) {
        return output.lines().filter(l -> l.startsWith(key + "=")).map(l -> l.substring(key.length() + 1).strip())
                .findFirst();
    }

    /** A UUID as its 32 hex digits: mdadm prints {@code 8:8:8:8}, the parts record holds the dashed form. */
    static String hex(String uuid) {
        return uuid.replaceAll("[^0-9A-Fa-f]", "").toLowerCase(Locale.ROOT);
    }

    // ---- sysfs and /dev ----

    private List<String> blockDevices(Pattern kernelName) {
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
    private Path node(String kernelName) {
        Path node = devRoot.resolve(kernelName);
        if (!Files.exists(node)) {
            throw Calls.internal("block device " + kernelName + " is in " + sysRoot.resolve("block") + " but "
                    + node + " does not exist (is devtmpfs mounted on " + devRoot + "?)");
        }
        return node;
    }

    private static String read(Path file) {
        try {
            return Files.readString(file).strip();
        } catch (IOException e) {
            return null;
        }
    }
}
