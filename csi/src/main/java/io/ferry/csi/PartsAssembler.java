package io.ferry.csi;

import io.ferry.model.Layout;
import io.ferry.model.VolumeParts;
import io.ferry.runtime.exec.Command;
import io.ferry.runtime.exec.CommandRunner;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Makes one device of a multi-part volume's verified part devices, on the consumer: a
 * device-mapper {@code linear} table for {@code linear}, a {@code striped} one for {@code striped},
 * an md RAID1 array for {@code mirror}
 * (docs/layouts.md, "Assembly on the consumer"). Every step first looks at what is there, so a call
 * repeated after a crash or a restart of the plugin reuses what an earlier one made; nothing is kept
 * in memory.
 *
 * <p>The assembled device is always found through sysfs ({@code <sys>/block/dm-N/dm/name}, or the
 * md device whose {@code mdadm --detail} reports the volume's array UUID) and used by its kernel
 * name under {@code /dev}, the node devtmpfs makes for every block device. {@code /dev/mapper} and
 * {@code /dev/md} links come from udev, which a host may not run.
 *
 * <p>A mirror's md array is {@link MirrorArrays}' work.
 */
final class PartsAssembler {

    // The node service's log category: operators follow a volume's staging under one name.
    private static final Logger log = LoggerFactory.getLogger(NodeService.class);

    static final String DM_PREFIX = "ferry-";
    static final String DM_UUID_PREFIX = "FERRY-";
    static final long SECTOR_BYTES = 512;
    static final Duration DMSETUP_TIMEOUT = Duration.ofSeconds(30);
    private static final Pattern DM = Pattern.compile("dm-[0-9]+");
    private static final Pattern MAJOR_MINOR = Pattern.compile("[0-9]+:[0-9]+");

    private final CommandRunner runner;
    private final SysBlock block;
    private final MirrorArrays mirrors;

    PartsAssembler(CommandRunner runner, Path sysRoot, Path devRoot) {
        this.runner = runner;
        this.block = new SysBlock(sysRoot, devRoot);
        this.mirrors = new MirrorArrays(runner, block);
    }

    /** The md side of the mirrors this assembler makes: found, repaired and watched by {@link MirrorKeeper}. */
    MirrorArrays mirrors() {
        return mirrors;
    }

    /** The device-mapper name of a linear or striped volume: its own name, so an operator's {@code dmsetup ls} tells it. */
    static String dmName(String volume) {
        return DM_PREFIX + volume;
    }

    /**
     * The device-mapper UUID of a linear or striped volume, the mark of a device Ferry made: LVM maps a volume
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
     * The assembled device of {@code parts} from {@code devices}, the parts' verified devices in the
     * record's order, made unless it is already there.
     */
    Path assemble(VolumeParts parts, List<Path> devices) {
        if (devices.size() != parts.parts().size()) {
            throw new IllegalArgumentException(parts.parts().size() + " parts but " + devices.size() + " devices");
        }
        return parts.layout() == Layout.MIRROR ? mirrors.assemble(parts, devices) : mapped(parts, devices);
    }

    /** A block device's size in bytes as the kernel has it now; -1 when it cannot be read. */
    long bytes(Path device) {
        return block.bytes(device);
    }

    /**
     * Grows the assembled device, which must be there, to the size the parts record gives, from the
     * parts' verified devices in the record's order, each already of its part's size: a mirror's
     * array ({@link MirrorArrays#grow}), or a device-mapper table loaded again with the larger parts.
     * Nothing to do is done, so a call repeated after a crash finishes what an earlier one began.
     */
    Path grow(VolumeParts parts, List<Path> devices) {
        if (devices.size() != parts.parts().size()) {
            throw new IllegalArgumentException(parts.parts().size() + " parts but " + devices.size() + " devices");
        }
        Path device = assembled(parts).orElseThrow(() -> Calls.failedPrecondition("volume " + parts.volume()
                + " is not assembled on this node; stage it before growing it"));
        if (parts.layout() == Layout.MIRROR) {
            mirrors.grow(parts, device);
            return device;
        }
        String name = dmName(parts.volume());
        String table = parts.layout() == Layout.STRIPED ? stripedTable(parts, devices) : linearTable(parts, devices);
        String live = runner.run(Command.of("dmsetup", "table", name).withTimeout(DMSETUP_TIMEOUT)).stdout();
        if (normalized(live).equals(normalized(table))) {
            return device;
        }
        // Only the sizes may differ: the same devices in the same order. Anything else is not this volume's
        // table grown, and loading ours over it would remap someone's data.
        if (!devicesOf(live).equals(devicesOf(table))) {
            throw Calls.failedPrecondition("volume " + parts.volume() + ": device-mapper device " + name + " maps "
                    + devicesOf(live) + ", not the parts' devices " + devicesOf(table) + "; it is not grown");
        }
        runner.run(Command.of("dmsetup", "load", name).withStdin(table.getBytes(StandardCharsets.US_ASCII))
                .withTimeout(DMSETUP_TIMEOUT).serializedBy("dm:" + name));
        runner.run(Command.of("dmsetup", "--noudevsync", "resume", name).withTimeout(DMSETUP_TIMEOUT)
                .serializedBy("dm:" + name));
        log.info("volume {}: device-mapper device {} grown to {} bytes", parts.volume(), name, parts.assembledBytes());
        return device;
    }

    /** The devices a table maps, as major:minor, in its order. */
    private static List<String> devicesOf(String table) {
        return Arrays.stream(table.split("\\s+")).filter(t -> MAJOR_MINOR.matcher(t).matches()).toList();
    }

    /** The assembled device if it is there now; nothing is made or changed. */
    Optional<Path> assembled(VolumeParts parts) {
        return parts.layout() == Layout.MIRROR ? mirrors.mdDevice(parts.arrayUuid())
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
            Optional<Path> md = mirrors.mdDevice(parts.get().arrayUuid());
            if (md.isPresent()) {
                mirrors.stop(parts.get(), md.get());
            }
        }
    }

    // ---- linear and striped: device-mapper ----

    private Path mapped(VolumeParts parts, List<Path> devices) {
        String name = dmName(parts.volume());
        String uuid = dmUuid(parts.volume());
        String table = parts.layout() == Layout.STRIPED ? stripedTable(parts, devices) : linearTable(parts, devices);
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
                + ": dmsetup created " + name + " but no " + block.sysRoot().resolve("block/dm-*/dm/name") + " names it"));
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

    /**
     * One {@code striped} line over every stripe, in the parts' order, interleaved by
     * {@link Layout#STRIPE_CHUNK_BYTES}; devices as major:minor, the way dmsetup prints them back. The
     * stripes are one size (the parts record says so), each a multiple of the chunk.
     */
    String stripedTable(VolumeParts parts, List<Path> devices) {
        long stripe = parts.parts().get(0).sizeBytes();
        if (stripe % Layout.STRIPE_CHUNK_BYTES != 0) {
            throw Calls.failedPrecondition("volume " + parts.volume() + ": its stripes are " + stripe
                    + " bytes, not a whole number of " + Layout.STRIPE_CHUNK_BYTES + "-byte chunks");
        }
        StringBuilder table = new StringBuilder().append("0 ").append(parts.assembledBytes() / SECTOR_BYTES)
                .append(" striped ").append(devices.size()).append(' ').append(Layout.STRIPE_CHUNK_BYTES / SECTOR_BYTES);
        for (int i = 0; i < devices.size(); i++) {
            table.append(' ').append(majorMinor(parts.parts().get(i).name(), devices.get(i))).append(" 0");
        }
        return table.append('\n').toString();
    }

    private String majorMinor(String part, Path device) {
        try {
            return block.majorMinor(device);
        } catch (IOException | UnsupportedOperationException e) {
            throw Calls.internal("part " + part + ": cannot read the device number of " + device + ": " + e);
        }
    }

    private static List<String> normalized(String table) {
        return table.lines().map(String::strip).filter(l -> !l.isEmpty()).map(l -> String.join(" ", l.split("\\s+")))
                .toList();
    }

    /** The device-mapper device named {@code name}, if there is one ({@code <sys>/block/dm-N/dm/name} and {@code uuid}). */
    private Optional<DmDevice> dmDevice(String name) {
        for (String kernelName : block.list(DM)) {
            Path dm = block.dir(kernelName).resolve("dm");
            if (name.equals(SysBlock.read(dm.resolve("name")))) {
                String uuid = SysBlock.read(dm.resolve("uuid"));
                return Optional.of(new DmDevice(block.node(kernelName), uuid == null ? "" : uuid));
            }
        }
        return Optional.empty();
    }
}
