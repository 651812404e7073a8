package io.ferry.runtime.device;

import io.ferry.runtime.exec.Command;
import io.ferry.runtime.exec.CommandRunner;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * Finds every signature libblkid knows on a block device: filesystems, partition tables, RAID
 * members, LVM physical volumes, swap, LUKS headers. It is the one question Ferry asks before
 * anything destructive (creating a volume group, formatting a volume): a device is blank only when
 * this finds nothing at all.
 *
 * <p>The probe is {@code wipefs --noheadings --output TYPE,OFFSET,USAGE <device>} without
 * {@code --all}, which only lists. wipefs rather than {@code blkid -p}, because:
 * <ul>
 *   <li>wipefs lists every signature, each with its offset; {@code blkid -p} reports one result,
 *       and on a device carrying two conflicting filesystem signatures it prints nothing and exits
 *       8 ("ambivalent"), which a caller could too easily read as "nothing found";</li>
 *   <li>wipefs reports partition tables in the same list as filesystems, so one parse covers both;</li>
 *   <li>it exits 0 with an empty list for a blank device, so "blank" is a positive answer, and any
 *       failure to read the device is an error rather than a missing TYPE.</li>
 * </ul>
 * Both are util-linux, present wherever Ferry runs mkfs or LVM. Blocking; thread-safe.
 */
public final class SignatureProbe {

    private static final Duration TIMEOUT = Duration.ofSeconds(60);

    private final CommandRunner runner;

    public SignatureProbe(CommandRunner runner) {
        this.runner = runner;
    }

    /**
     * One signature on a device.
     *
     * @param type   libblkid's name, e.g. {@code ext4}, {@code xfs}, {@code dos}, {@code gpt},
     *               {@code LVM2_member}, {@code linux_raid_member}
     * @param offset byte offset of the magic as wipefs prints it, e.g. {@code 0x438}
     * @param usage  libblkid's usage class, e.g. {@code filesystem}, {@code partition-table},
     *               {@code raid}, {@code crypto}, {@code other}; may be empty
     */
    public record Signature(String type, String offset, String usage) {

        public boolean isFilesystem(String fsType) {
            return type.equals(fsType) && usage.equals("filesystem");
        }

        @Override
        public String toString() {
            return type + (usage.isEmpty() ? "" : " (" + usage + ")") + " at offset " + offset;
        }
    }

    /**
     * Every signature found on {@code device}, in the order wipefs reports them; empty means blank.
     *
     * @throws io.ferry.runtime.exec.CommandFailedException when the device cannot be probed (missing,
     *         unreadable): never read as blank
     */
    public List<Signature> probe(String device) {
        String out = runner.run(Command.of("wipefs", "--noheadings", "--output", "TYPE,OFFSET,USAGE", device)
                .withTimeout(TIMEOUT)).stdout();
        return parse(out);
    }

    static List<Signature> parse(String out) {
        List<Signature> found = new ArrayList<>();
        for (String line : out.split("\n")) {
            String[] f = line.strip().split("\\s+");
            if (f.length == 0 || f[0].isEmpty()) {
                continue;
            }
            if (f.length < 2) {
                // Not a shape wipefs prints; still a sign that something is there.
                found.add(new Signature(f[0], "?", ""));
                continue;
            }
            found.add(new Signature(f[0], f[1], f.length > 2 ? f[2] : ""));
        }
        return List.copyOf(found);
    }

    /** A short human list, e.g. {@code "dos (partition-table) at offset 0x1fe"}. */
    public static String describe(List<Signature> signatures) {
        return signatures.stream().map(Signature::toString).collect(Collectors.joining(", "));
    }
}
