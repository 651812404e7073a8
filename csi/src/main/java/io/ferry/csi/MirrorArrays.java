package io.ferry.csi;

import io.ferry.model.VolumeParts;
import io.ferry.runtime.device.SignatureProbe;
import io.ferry.runtime.exec.Command;
import io.ferry.runtime.exec.CommandResult;
import io.ferry.runtime.exec.CommandRunner;
import io.grpc.Status;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * A mirror's md RAID1 array on the consumer: made, found, stopped, and given back a leg that
 * returns. An array is always found by the UUID its parts record holds (the ownership marker),
 * through sysfs and {@code mdadm --detail}; a leg is written to only when it carries that UUID, or
 * when every leg is blank (docs/layouts.md, "Assembly on the consumer").
 *
 * <p>One call at a time on a node: a scan that opens md devices must not meet another array's stop
 * (opening a device being deleted makes the kernel create it again), and a stale node is removed only
 * while no array is being made that could take its minor.
 */
final class MirrorArrays {

    // The node service's log category: operators follow a volume's staging under one name.
    private static final Logger log = LoggerFactory.getLogger(NodeService.class);

    static final Duration MDADM_TIMEOUT = Duration.ofMinutes(2);
    static final Duration MD_GONE_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration MD_GONE_POLL = Duration.ofMillis(50);
    private static final Pattern MD = Pattern.compile("md[0-9]+");
    private static final String NO_SUPERBLOCK = "No md superblock";

    private final CommandRunner runner;
    private final SysBlock block;
    private final SignatureProbe probe;
    private final MdMembers members;

    MirrorArrays(CommandRunner runner, SysBlock block) {
        this.runner = runner;
        this.block = block;
        this.probe = new SignatureProbe(runner);
        this.members = new MdMembers(block);
    }

    /** The arrays' members as sysfs lists them. */
    MdMembers members() {
        return members;
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
        return PartsAssembler.DM_PREFIX + hex(parts.arrayUuid()).substring(0, 12);
    }

    /**
     * The running array of {@code parts} over {@code legs} (the legs' verified devices in the record's
     * order): the one with the record's UUID if it runs, else assembled from legs that carry the UUID,
     * else created when every leg is blank.
     */
    synchronized Path assemble(VolumeParts parts, List<Path> legs) {
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
        Map<String, Path> replacements = new LinkedHashMap<>();
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
            if (found.isEmpty() && parts.parts().get(i).placedBlank()) {
                replacements.put(part, leg);
            } else if (found.isEmpty()) {
                blank.add(part);
            } else {
                refused.add("leg " + part + " (" + leg + ") holds " + SignatureProbe.describe(found));
            }
        }
        if (!refused.isEmpty()) {
            throw Calls.failedPrecondition("volume " + parts.volume() + ": refusing to assemble its mirror (array "
                    + uuid + "): " + String.join("; ", refused) + "; nothing is written to any leg");
        }
        if (ours.isEmpty() && blank.isEmpty() && !replacements.isEmpty()) {
            // Every leg replaces a lost one, and none carries the array: the volume had legs before these,
            // so it may have held data that only a retired leg had. A new array would hand out an empty
            // device (and a new filesystem) as the volume.
            throw Calls.failedPrecondition("volume " + parts.volume() + ": no leg carries its mirror's array " + uuid
                    + ", and every leg " + replacements.keySet() + " is a blank replacement of a lost leg; creating the"
                    + " array anew would present an empty device as the volume's data; nothing was written to any leg");
        }
        if (!ours.isEmpty() && !blank.isEmpty()) {
            // Members beside blank legs: a create cut short, or a leg lost and made again empty. Running on
            // the members alone would serve one copy with nothing saying so, and if those members fell
            // behind once, it would serve old data as current. Only the controller's record that a leg was
            // placed blank (a replacement for a leg declared lost, or a leg joining by a move) makes a blank
            // leg expected.
            throw Calls.failedPrecondition("volume " + parts.volume() + ": mirror (array " + uuid + ") has legs "
                    + "carrying its superblock beside blank legs " + blank + " that replace no lost leg; assembling it"
                    + " from some legs could serve stale data; nothing was written to any leg");
        }
        if (!ours.isEmpty()) {
            List<String> assemble = new ArrayList<>(List.of("mdadm", "--assemble", mdPath(parts), "--uuid", uuid, "--run"));
            ours.forEach(leg -> assemble.add(leg.toString()));
            runner.run(Command.of(assemble).withTimeout(MDADM_TIMEOUT).serializedBy("md:" + uuid));
            log.info("volume {}: md array {} assembled from {}", parts.volume(), uuid, ours);
            Path md = mdDevice(uuid).orElseThrow(() -> Calls.internal("volume " + parts.volume() + ": mdadm assembled"
                    + " the array " + uuid + " but no md device under " + block.sysRoot().resolve("block") + " reports it"));
            replacements.forEach((part, leg) -> add(parts, md, part, leg));
            try {
                fitSlots(parts, md, false);
            } catch (RuntimeException e) {
                // The array runs and holds the volume's data; the keeper fits its slots in a later round.
                log.warn("{}; the keeper tries again", Status.fromThrowable(e).getDescription());
            }
            return md;
        } else {
            List<String> create = new ArrayList<>(List.of("mdadm", "--create", mdPath(parts), "--run", "--level=1",
                    "--raid-devices=" + legs.size(), "--metadata=1.2", "--bitmap=internal",
                    // Pinned, so the array is exactly the volume's size: the controller sized each leg for it.
                    "--data-offset=" + VolumeParts.MIRROR_RESERVED_BYTES / 1024 + "K", "--uuid=" + uuid,
                    "--name=" + mdName(parts)));
            legs.forEach(leg -> create.add(leg.toString()));
            // Every leg blank, and one of them from the first placement: an array created over all the first
            // legs at once never was, so the volume never held data and a create loses nothing.
            runner.run(Command.of(create).withTimeout(MDADM_TIMEOUT).serializedBy("md:" + uuid));
            log.info("volume {}: md array {} created over the blank legs {}", parts.volume(), uuid, parts.partNames());
        }
        return mdDevice(uuid).orElseThrow(() -> Calls.internal("volume " + parts.volume() + ": mdadm ran but no md device"
                + " under " + block.sysRoot().resolve("block") + " reports the array " + uuid));
    }

    /** @param attempted whether mdadm was asked to take the leg back (which a retry policy counts) */
    record Repair(String part, boolean attempted, String what) {
    }

    /** The array's health as sysfs shows it, each leg known by its device here (if any). */
    MirrorHealth health(Path md, VolumeParts parts, List<Optional<Path>> legDevices) {
        List<Optional<String>> names = legDevices.stream().map(device -> device.flatMap(members::kernelName)).toList();
        return MirrorHealth.read(block, md.getFileName().toString(), parts.partNames(), names,
                parts.joining().map(VolumeParts.Part::name).orElse(null));
    }

    /** The device node of the array {@code health} was read from. */
    Path device(MirrorHealth health) {
        return block.devRoot().resolve(health.mdDevice());
    }

    /**
     * Gives the running array back each leg that md dropped or failed, once the leg's device is on
     * this node again and carries the array's UUID: failed members are removed first (md keeps them
     * listed until then), then the leg is re-added, which copies only what its write-intent bitmap
     * marks as written meanwhile. A leg md refuses to re-add, or with anything else on it, is left
     * alone and said so.
     *
     * @param legs the parts (by name) to act on, with their devices on this node
     * @return one per leg looked at, saying what was done or why not
     */
    synchronized List<Repair> repair(VolumeParts parts, Path md, Map<String, Path> legs) {
        List<Repair> done = new ArrayList<>();
        String uuid = parts.arrayUuid();
        if (members.hasFailed(md)) {
            CommandResult removed = runner.execute(Command.of("mdadm", "--manage", md.toString(), "--remove", "failed")
                    .withTimeout(MDADM_TIMEOUT).serializedBy("md:" + uuid));
            if (!removed.succeeded()) {
                // md still has I/O in flight on the failed member; the next round removes it.
                legs.keySet().forEach(part -> done.add(new Repair(part, false, "md has not let the failed legs go yet: "
                        + removed.stderr().strip())));
                return done;
            }
        }
        for (Map.Entry<String, Path> leg : legs.entrySet()) {
            String part = leg.getKey();
            Path device = leg.getValue();
            Optional<String> member;
            try {
                member = examine(part, device);
            } catch (RuntimeException e) {
                done.add(new Repair(part, false, "leg " + part + " (" + device + ") cannot be read yet: " + e.getMessage()));
                continue;
            }
            boolean replacement = parts.member(part).filter(VolumeParts.Part::placedBlank).isPresent();
            if (member.isEmpty() && replacement && blank(part, device)) {
                done.add(add(parts, md, part, device));
                continue;
            }
            if (member.isEmpty() || !hex(member.get()).equals(hex(uuid))) {
                done.add(new Repair(part, false, "leg " + part + " (" + device + ") does not carry the array's UUID "
                        + uuid + " (" + member.map(m -> "it is a member of " + m).orElse("no md superblock")
                        + "); it is left alone"));
                continue;
            }
            CommandResult reAdded = runner.execute(Command.of("mdadm", "--manage", md.toString(), "--re-add",
                    device.toString()).withTimeout(MDADM_TIMEOUT).serializedBy("md:" + uuid));
            // Refused, the leg may hold writes the running legs lack (each ran alone for a while): which
            // copy wins is an operator's call, never made here. mdadm refuses --add of such a leg too.
            done.add(new Repair(part, true, reAdded.succeeded()
                    ? "leg " + part + " (" + device + ") re-added: md copies what was written while it was out"
                    : "leg " + part + " (" + device + ") was not taken back: mdadm refused the re-add ("
                            + reAdded.stderr().strip() + "); the mirror runs degraded until an operator decides"));
        }
        return done;
    }

    /**
     * Adds a leg placed blank (a replacement, or a leg joining by a move) to the running array: md
     * writes its superblock and copies the whole volume onto it from the legs in sync, into a free
     * slot at once, or as a spare until {@link #fitSlots} gives the array a slot for it.
     */
    private Repair add(VolumeParts parts, Path md, String part, Path leg) {
        CommandResult added = runner.execute(Command.of("mdadm", "--manage", md.toString(), "--add", leg.toString())
                .withTimeout(MDADM_TIMEOUT).serializedBy("md:" + parts.arrayUuid()));
        Repair repair = new Repair(part, true, added.succeeded()
                ? "replacement leg " + part + " (" + leg + ") added: md rebuilds it from the legs in sync"
                : "replacement leg " + part + " (" + leg + ") was not added: mdadm refused (" + added.stderr().strip() + ")");
        log.info("volume {}: {}", parts.volume(), repair.what());
        return repair;
    }

    /**
     * Makes the array's number of slots ({@code md/raid_disks}) the parts record's number of members.
     * A leg joining by a move is one more than the array was made with: md keeps it a spare, never
     * copied to, until the array has a slot for it, which {@code --grow --raid-devices} gives once md
     * holds it (md then rebuilds it). Once a move is done or given up, the leg that left is failed out by {@link #retire},
     * and the slot it leaves is taken away, so the array does not run degraded by an empty slot forever.
     * The slots shrink only once the array holds no more devices than the members (md refuses
     * otherwise) and no retired leg is still among them: shrinking is never what takes a leg out.
     * md changes no slot count while it syncs, so that waits; nothing to do runs no command.
     *
     * @param retiredPresent whether a retired leg is still a member of the array
     * @return what was done, empty when nothing needed doing or it must wait
     * @throws io.grpc.StatusRuntimeException (INTERNAL) naming mdadm's complaint when it refused
     */
    /**
     * Takes out of the array the members whose device is gone from this node, while it holds more
     * devices than the record has members: a leg retired by a move loses its namespace here when its
     * export is withdrawn, and md keeps the member under a kernel name no device has any more, so it is
     * found neither by its subsystem nor by its device, and its slot could never be given back. mdadm's
     * {@code detached} fails and removes exactly the members whose device cannot be opened; only while
     * another member that is still here is in sync, so the array never gives up its last current copy.
     *
     * @return whether mdadm took any member out
     */
    private boolean dropDetached(VolumeParts parts, Path md) {
        Map<String, Set<String>> held = members.of(md);
        List<String> gone = held.keySet().stream()
                .filter(name -> !Files.isDirectory(block.sysRoot().resolve("class/block").resolve(name))).toList();
        boolean inSyncHere = held.entrySet().stream().anyMatch(m -> !gone.contains(m.getKey())
                && m.getValue().contains("in_sync") && !m.getValue().contains("faulty"));
        if (gone.isEmpty() || !inSyncHere) {
            return false;
        }
        CommandResult out = runner.execute(Command.of("mdadm", "--manage", md.toString(), "--fail", "detached",
                "--remove", "detached").withTimeout(MDADM_TIMEOUT).serializedBy("md:" + parts.arrayUuid()));
        log.info("volume {}: members {} of md array {} have no device on this node any more{}", parts.volume(), gone, md,
                out.succeeded() ? "; taken out" : "; mdadm did not take them out: " + out.stderr().strip());
        return out.succeeded();
    }

    synchronized Optional<String> fitSlots(VolumeParts parts, Path md, boolean retiredPresent) {
        Path dir = block.dir(md.getFileName().toString()).resolve("md");
        int wanted = parts.parts().size();
        int slots = (int) Math.max(-1, number(SysBlock.read(dir.resolve("raid_disks"))));
        if (slots <= 0 || slots == wanted) {
            return Optional.empty();
        }
        String action = SysBlock.read(dir.resolve("sync_action"));
        if (action != null && !action.equals("idle")) {
            log.debug("volume {}: md array {} has {} slots for {} members; waiting for its {} to end", parts.volume(),
                    md, slots, wanted, action);
            return Optional.empty();
        }
        int held = members.of(md).size();
        if (slots > wanted && !retiredPresent && held > wanted && dropDetached(parts, md)) {
            held = members.of(md).size();
        }
        // A slot is added only for a leg md holds as a spare: an empty slot would have md count the array
        // degraded for as long as the joining leg takes to be served here.
        if (slots < wanted && held <= slots || slots > wanted && (retiredPresent || held > wanted)) {
            return Optional.empty();
        }
        CommandResult out = runner.execute(Command.of("mdadm", "--grow", md.toString(), "--raid-devices=" + wanted)
                .withTimeout(MDADM_TIMEOUT).serializedBy("md:" + parts.arrayUuid()));
        if (!out.succeeded()) {
            throw Calls.internal("volume " + parts.volume() + ": mdadm could not change the slots of " + md + " from "
                    + slots + " to " + wanted + ": " + out.stderr().strip());
        }
        String what = "md array " + md + " " + (slots < wanted ? "given a slot for each" : "down to the slots of its")
                + " " + wanted + " legs (from " + slots + ")";
        log.info("volume {}: {}", parts.volume(), what);
        return Optional.of(what);
    }

    private static long number(String value) {
        try {
            return value == null ? -1 : Long.parseLong(value.strip());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** Whether a leg carries nothing at all (wipefs finds no signature); one that cannot be read is not blank. */
    private boolean blank(String part, Path leg) {
        try {
            return probe.probe(leg.toString()).isEmpty();
        } catch (RuntimeException e) {
            log.debug("leg {} ({}) cannot be probed yet: {}", part, leg, e.toString());
            return false;
        }
    }

    /**
     * Takes retired legs out of the running array: a leg the operator declared lost holds nothing the
     * array needs, but it is failed only while another member is in sync, so the array never loses its
     * last current copy to a wrong declaration; then md removes it.
     *
     * @param retired each retired part with its member's kernel name
     */
    synchronized List<Repair> retire(VolumeParts parts, Path md, Map<String, String> retired) {
        List<Repair> done = new ArrayList<>();
        for (Map.Entry<String, String> leg : retired.entrySet()) {
            String part = leg.getKey();
            String kernelName = leg.getValue();
            // Read again for every leg: failing one changes what the next may rely on. Another retired
            // leg in sync does not count, as it is about to go too.
            Map<String, Set<String>> current = members.of(md);
            Set<String> flags = current.get(kernelName);
            if (flags == null) {
                continue;
            }
            boolean othersInSync = current.entrySet().stream().anyMatch(m -> !retired.containsValue(m.getKey())
                    && m.getValue().contains("in_sync") && !m.getValue().contains("faulty"));
            if (!othersInSync && !flags.contains("faulty")) {
                done.add(new Repair(part, false, "retired leg " + part + " (" + kernelName + ") is the array's only leg"
                        + " in sync; it stays until another leg is"));
                continue;
            }
            String device = block.devRoot().resolve(kernelName).toString();
            CommandResult out = runner.execute(Command.of("mdadm", "--manage", md.toString(), "--fail", device,
                    "--remove", device).withTimeout(MDADM_TIMEOUT).serializedBy("md:" + parts.arrayUuid()));
            Repair repair = new Repair(part, true, out.succeeded()
                    ? "retired leg " + part + " (" + kernelName + ") taken out of the array"
                    : "retired leg " + part + " (" + kernelName + ") is still in the array: " + out.stderr().strip());
            log.info("volume {}: {}", parts.volume(), repair.what());
            done.add(repair);
        }
        return done;
    }

    /**
     * Grows the running array to the volume's size once its legs have grown: {@code mdadm --grow
     * --size} to exactly the volume's size per leg (not {@code max}: a leg larger than asked, an LV
     * rounded up to its extents, would make the array larger than the volume). md resyncs the added
     * region from the first leg in the background. Then makes sure the array has its write-intent
     * bitmap: an mdadm that refuses to resize under one has it taken off for the resize and put back,
     * and a plugin stopped between the two puts it back on the next call. Nothing to do is done.
     */
    synchronized void grow(VolumeParts parts, Path md) {
        long wanted = parts.assembledBytes();
        String uuid = parts.arrayUuid();
        long now = block.bytes(md);
        if (now < 0) {
            throw Calls.internal("volume " + parts.volume() + ": the size of its md array " + md + " cannot be read");
        }
        if (now < wanted) {
            Command grow = Command.of("mdadm", "--grow", md.toString(), "--size=" + wanted / 1024)
                    .withTimeout(MDADM_TIMEOUT).serializedBy("md:" + uuid);
            CommandResult result = runner.execute(grow);
            if (!result.succeeded() && result.stderr().toLowerCase(Locale.ROOT).contains("bitmap")) {
                log.info("volume {}: mdadm will not resize {} under its bitmap ({}); resizing without it",
                        parts.volume(), md, result.stderr().strip());
                runner.run(Command.of("mdadm", "--grow", md.toString(), "--bitmap=none").withTimeout(MDADM_TIMEOUT)
                        .serializedBy("md:" + uuid));
                result = runner.execute(grow);
            }
            if (!result.succeeded()) {
                ensureBitmap(parts, md);
                throw Calls.internal("volume " + parts.volume() + ": mdadm could not grow " + md + " to " + wanted
                        + " bytes: " + result.stderr().strip());
            }
            log.info("volume {}: md array {} grown from {} to {} bytes", parts.volume(), md, now, wanted);
        }
        ensureBitmap(parts, md);
    }

    private void ensureBitmap(VolumeParts parts, Path md) {
        String location = SysBlock.read(block.dir(md.getFileName().toString()).resolve("md/bitmap/location"));
        if ("none".equals(location)) {
            runner.run(Command.of("mdadm", "--grow", md.toString(), "--bitmap=internal").withTimeout(MDADM_TIMEOUT)
                    .serializedBy("md:" + parts.arrayUuid()));
            log.info("volume {}: md array {} has its write-intent bitmap again", parts.volume(), md);
        }
    }

    synchronized void stop(VolumeParts parts, Path md) {
        runner.run(Command.of("mdadm", "--stop", md.toString()).withTimeout(MDADM_TIMEOUT)
                .serializedBy("md:" + parts.arrayUuid()));
        // The kernel deletes a stopped md device from a work queue after mdadm closes it, so it can
        // linger a moment; waiting keeps a call that follows (a restage, another volume's lookup) from
        // finding it half gone, and an unstage returns with the node clean.
        Path entry = block.dir(md.getFileName().toString());
        long deadline = System.nanoTime() + MD_GONE_TIMEOUT.toNanos();
        while (Files.exists(entry) && System.nanoTime() < deadline) {
            sleep(MD_GONE_POLL);
        }
        if (Files.exists(entry)) {
            log.info("volume {}: md array {} ({}) stopped; the kernel has not removed {} yet (it holds no leg)",
                    parts.volume(), md, parts.arrayUuid(), entry);
        } else {
            block.removeStaleNode(md.getFileName().toString(), block.devRoot().resolve("md").resolve(mdName(parts)));
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

    /** The running array whose UUID is {@code uuid}, if there is one; nothing is made or changed. */
    synchronized Optional<Path> running(String uuid) {
        return mdDevice(uuid).filter(this::started);
    }

    /** Whether the array runs: any {@code md/array_state} but {@code clear} and {@code inactive}. */
    private boolean started(Path md) {
        String state = SysBlock.read(block.dir(md.getFileName().toString()).resolve("md/array_state"));
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
    synchronized Optional<Path> mdDevice(String uuid) {
        Optional<Path> inactive = Optional.empty();
        for (String kernelName : block.list(MD)) {
            String state = SysBlock.read(block.dir(kernelName).resolve("md/array_state"));
            Path device = block.devRoot().resolve(kernelName);
            if (state == null || state.equals("clear") || !Files.exists(device)) {
                // No array (one being deleted, or an empty md device): opening its node would make the
                // kernel create it again, an empty md device left behind for nothing.
                continue;
            }
            CommandResult detail = runner.execute(Command.of("mdadm", "--detail", "--export", device.toString())
                    .withTimeout(MDADM_TIMEOUT));
            // An array being stopped or not started answers with an error: it is not one to use.
            if (detail.succeeded() && exported(detail.stdout(), "MD_UUID").map(MirrorArrays::hex)
                    .filter(hex(uuid)::equals).isPresent()) {
                // Two with the UUID (udev's incremental assembly made one of a returning leg): the running one.
                if (!state.equals("inactive")) {
                    return Optional.of(device);
                }
                inactive = Optional.of(device);
            }
        }
        return inactive;
    }

    private static Optional<String> exported(String output, String key) {
        return output.lines().filter(l -> l.startsWith(key + "=")).map(l -> l.substring(key.length() + 1).strip())
                .findFirst();
    }

    /** A UUID as its 32 hex digits: mdadm prints {@code 8:8:8:8}, the parts record holds the dashed form. */
    static String hex(String uuid) {
        return uuid.replaceAll("[^0-9A-Fa-f]", "").toLowerCase(Locale.ROOT);
    }
}
