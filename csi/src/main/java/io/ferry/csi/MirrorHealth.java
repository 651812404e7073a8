package io.ferry.csi;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * What a mirror's md array says of each leg, read from sysfs ({@code <sys>/block/mdN/md}): a leg is
 * known by its device on this node, so the state of each part is told by name even when md has
 * dropped it from its slot. Reading changes nothing and runs no command.
 *
 * @param legs         one per part, in the parts record's order
 * @param syncAction   md's {@code sync_action}: {@code idle}, {@code resync} (legs being made equal
 *                     after a create or an unclean stop), {@code recover} (a leg being rebuilt), ...
 * @param progress     the running sync's completed fraction (0..1), -1 when none runs
 * @param rateKibPerSecond the running sync's rate as md measures it, 0 when none runs
 * @param joining      the part joining the array by a move (an extra copy on its way), null when none
 */
record MirrorHealth(String mdDevice, List<Leg> legs, String syncAction, double progress, long rateKibPerSecond,
                    String joining) {

    /** {@code MOVING}: every leg in sync but the one joining by a move, which is still on its way. */
    enum State { HEALTHY, RESYNCING, MOVING, REBUILDING, DEGRADED }

    MirrorHealth(String mdDevice, List<Leg> legs, String syncAction, double progress, long rateKibPerSecond) {
        this(mdDevice, legs, syncAction, progress, rateKibPerSecond, null);
    }

    enum LegState {
        IN_SYNC, REBUILDING, FAULTY,
        /** The leg's device is on this node but is no member of the array (dropped, or never added). */
        OUT,
        /** No device of the leg on this node: its node is down, or its connection was given up. */
        ABSENT;

        String label() {
            return name().toLowerCase(Locale.ROOT).replace('_', ' ');
        }
    }

    /** @param device the kernel name of the leg's device on this node, null when it has none */
    record Leg(String part, String device, LegState state) {
    }

    /**
     * @param legDevices for each part in order, the kernel name of its device on this node, if any
     */
    static MirrorHealth read(SysBlock block, String mdKernelName, List<String> parts, List<Optional<String>> legDevices) {
        return read(block, mdKernelName, parts, legDevices, null);
    }

    /** @param joining the part joining by a move, if one is (one of {@code parts}), else null */
    static MirrorHealth read(SysBlock block, String mdKernelName, List<String> parts, List<Optional<String>> legDevices,
                             String joining) {
        Path md = block.dir(mdKernelName).resolve("md");
        List<Leg> legs = new ArrayList<>();
        for (int i = 0; i < parts.size(); i++) {
            String device = legDevices.get(i).orElse(null);
            legs.add(new Leg(parts.get(i), device, device == null ? LegState.ABSENT : legState(md.resolve("dev-" + device))));
        }
        String action = Optional.ofNullable(SysBlock.read(md.resolve("sync_action"))).orElse("idle");
        return new MirrorHealth(mdKernelName, List.copyOf(legs), action, progress(SysBlock.read(md.resolve("sync_completed"))),
                number(SysBlock.read(md.resolve("sync_speed"))), joining);
    }

    private static LegState legState(Path member) {
        if (!Files.isDirectory(member)) {
            return LegState.OUT;
        }
        String state = SysBlock.read(member.resolve("state"));
        Set<String> flags = state == null ? Set.of() : Set.of(state.split(","));
        if (flags.contains("faulty")) {
            return LegState.FAULTY;
        }
        return flags.contains("in_sync") ? LegState.IN_SYNC : LegState.REBUILDING;
    }

    /** md's {@code sync_completed}: {@code "<done> / <total>"} in sectors, or {@code none}. */
    private static double progress(String completed) {
        if (completed == null || !completed.contains("/")) {
            return -1;
        }
        String[] parts = completed.split("/");
        long done = number(parts[0].strip());
        long total = number(parts[1].strip());
        return total <= 0 ? -1 : Math.min(1.0, (double) done / total);
    }

    private static long number(String value) {
        try {
            return value == null ? 0 : Long.parseLong(value.strip());
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    State state() {
        if (joining != null && legs.stream().anyMatch(l -> l.part().equals(joining) && l.state() != LegState.IN_SYNC)
                && legs.stream().allMatch(l -> l.part().equals(joining) || l.state() == LegState.IN_SYNC)) {
            return State.MOVING;
        }
        if (legs.stream().anyMatch(l -> l.state() == LegState.REBUILDING)) {
            return State.REBUILDING;
        }
        if (legs.stream().anyMatch(l -> l.state() != LegState.IN_SYNC)) {
            return State.DEGRADED;
        }
        return "resync".equals(syncAction) ? State.RESYNCING : State.HEALTHY;
    }

    /** Whether the volume runs on fewer copies than it was made with: a leg still joining by a move is an extra one. */
    boolean abnormal() {
        return state() == State.DEGRADED || state() == State.REBUILDING;
    }

    long inSync() {
        return legs.stream().filter(l -> l.state() == LegState.IN_SYNC).count();
    }

    /** One line for the volume's condition and the log, naming every leg that is not in sync. */
    String message() {
        StringBuilder text = new StringBuilder("mirror ").append(state().name().toLowerCase(Locale.ROOT)).append(" (")
                .append(mdDevice).append("): ").append(inSync()).append(" of ").append(legs.size()).append(" legs in sync");
        for (Leg leg : legs) {
            if (leg.state() != LegState.IN_SYNC) {
                text.append("; leg ").append(leg.part()).append(leg.device() == null ? "" : " (" + leg.device() + ")")
                        .append(' ').append(leg.state().label());
            }
        }
        if (progress >= 0 && !"idle".equals(syncAction)) {
            text.append("; ").append(syncAction).append(' ').append(String.format(Locale.ROOT, "%.1f%%", progress * 100))
                    .append(String.format(Locale.ROOT, " at %.1f MiB/s", rateKibPerSecond / 1024.0));
        }
        return text.toString();
    }
}
