package io.ferry.tools.cli;

import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.FailureReason;
import io.ferry.model.Placement;
import io.ferry.model.SchedulingPhase;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeParts;
import io.ferry.model.VolumeScheduling;
import io.ferry.model.VolumeStatus;
import picocli.CommandLine.Command;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.function.Function;

/**
 * {@code ferryctl volume ls}: every volume with where it lives and its state, a multi-part volume's
 * parts under it. Its own class, as the other larger volume commands (explain, wait, recreate) are;
 * the one word for a volume's state is defined here, where volumes are listed, and describe shows
 * it for each part too.
 */
@Command(name = "ls", description = "List volumes with where they live and their state.")
final class VolumeLsCommand extends Base {
    @Override
    public Integer call() {
        // An intent that does not decode is a request nobody can act on: it is listed, as
        // Invalid with the error, so that it is seen and fixed or removed.
        Named<VolumeIntent> named = byNameWithInvalid(keys().volumes(), VolumeIntent.class);
        Map<String, VolumeIntent> intents = named.values();
        Map<String, String> invalid = named.invalid();
        Map<String, Placement> placements = byName(keys().placements(), Placement.class);
        Map<String, VolumeScheduling> scheduling = byName(keys().volumeSchedulings(), VolumeScheduling.class);
        Map<String, VolumeStatus> statuses = new LinkedHashMap<>();
        for (Versioned<VolumeStatus> v : listOf(keys().nodes(), FerryKeys.Kind.NODE_VOLUME_STATUS, VolumeStatus.class)) {
            statuses.put(v.value().volume(), v.value());
        }
        Map<String, VolumeParts> partsOf = byName(keys().volumeParts(), VolumeParts.class);
        TreeSet<String> names = new TreeSet<>(intents.keySet());
        names.addAll(placements.keySet());
        names.addAll(invalid.keySet());
        // A part is shown under its volume, not as a volume of its own; one whose volume is gone
        // stays listed, since nothing else would show it.
        names.removeIf(n -> intents.get(n) != null && intents.get(n).partOf() != null
                && intents.containsKey(intents.get(n).partOf()));
        List<List<String>> cells = new ArrayList<>();
        List<Map<String, Object>> structured = new ArrayList<>();
        for (String n : names) {
            VolumeIntent i = intents.get(n);
            Placement p = placements.get(n);
            VolumeScheduling s = scheduling.get(n);
            VolumeStatus st = statuses.get(n);
            String error = invalid.get(n);
            String state = error != null ? SchedulingPhase.INVALID.value() : volumeState(i, s, st);
            // The agent's message says why a volume failed or is lost; otherwise the controller's
            // says why it waits.
            String message = error != null ? "invalid volume intent: " + error
                    : st != null && st.failing() ? st.message() : s == null ? null : s.message();
            long bytes = i != null ? i.sizeBytes() : p != null ? p.sizeBytes() : 0;
            VolumeParts parts = partsOf.get(n);
            List<PartRow> partRows = parts == null ? List.of() : parts.partNames().stream()
                    .map(part -> PartRow.of(part, intents.get(part), placements.get(part), scheduling.get(part),
                            statuses.get(part))).toList();
            if (!partRows.isEmpty() && error == null) {
                state = partsState(i, partRows);
            }
            String layout = i == null ? "-" : i.layout().multiPart() ? i.layout() + "/" + i.parts() : i.layout().value();
            cells.add(List.of(n, bytes > 0 ? size(bytes) : "-", layout, state,
                    partRows.isEmpty() ? orDash(p == null ? null : p.node()) : joined(partRows, PartRow::node),
                    partRows.isEmpty() ? orDash(p == null ? null : p.pool()) : joined(partRows, PartRow::pool),
                    orDash(st == null ? null : st.devicePath()), orDash(message)));
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("name", n);
            row.put("state", state);
            if (i != null && i.layout().multiPart()) {
                row.put("layout", i.layout().value());
                row.put("parts", partRows.stream().map(PartRow::structured).toList());
            }
            reason(s).ifPresent(r -> row.put("reason", r));
            if (error != null) {
                row.put("error", error);
            }
            row.put("intent", i);
            row.put("placement", p);
            row.put("scheduling", s);
            row.put("status", st);
            structured.add(row);
        }
        out().rows(List.of("NAME", "SIZE", "LAYOUT", "STATE", "NODE", "POOL", "DEVICE", "MESSAGE"), cells, structured);
        return ExitCodes.OK;
    }

    /** One part of a multi-part volume as listed: where it lives and the one word for its state. */
    record PartRow(String name, String node, String pool, String state, VolumeStatus status) {
        static PartRow of(String name, VolumeIntent intent, Placement placement, VolumeScheduling scheduling,
                          VolumeStatus status) {
            return new PartRow(name, placement == null ? null : placement.node(),
                    placement == null ? null : placement.pool(), volumeState(intent, scheduling, status), status);
        }

        Map<String, Object> structured() {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("name", name);
            row.put("node", node);
            row.put("pool", pool);
            row.put("state", state);
            if (status != null && status.devicePath() != null) {
                row.put("device", status.devicePath());
            }
            return row;
        }
    }

    /**
     * The state of a multi-part volume: Deleting once asked, else its parts' state when they all
     * agree, else each distinct state with the parts in it ({@code Ready 1, Pending 1}).
     */
    static String partsState(VolumeIntent intent, List<PartRow> parts) {
        if (intent != null && intent.deletionRequested()) {
            return "Deleting";
        }
        Map<String, Integer> counts = new LinkedHashMap<>();
        parts.forEach(p -> counts.merge(p.state(), 1, Integer::sum));
        if (counts.size() == 1) {
            return counts.keySet().iterator().next();
        }
        List<String> words = new ArrayList<>();
        counts.forEach((state, count) -> words.add(state + " " + count));
        return String.join(", ", words);
    }

    private static String joined(List<PartRow> parts, Function<PartRow, String> field) {
        return String.join(",", parts.stream().map(p -> Base.orDash(field.apply(p))).toList());
    }

    /**
     * One word for where a volume is: the agent's phase once it reports one, else the controller's,
     * Deleting once deletion is asked for, and "(unreachable)" when its node is down.
     */
    static String volumeState(VolumeIntent intent, VolumeScheduling scheduling, VolumeStatus status) {
        String state = status != null ? status.phase().value() : scheduling != null ? scheduling.phase().value() : "Pending";
        if (intent != null && intent.deletionRequested()) {
            state = "Deleting";
        }
        String reason = reason(scheduling).orElse(null);
        if (FailureReason.NODE_UNREACHABLE.value().equals(reason)) {
            state += " (unreachable)";
        } else if (reason != null && !reason.equals(state)) {
            state += " (" + reason + ")";
        }
        return state;
    }

    /**
     * The controller's typed reason for what is wrong with a volume (its record's first false
     * condition), with the attempt count of a failure being retried: {@code NoFit},
     * {@code Retrying 3}, {@code NodeUnreachable}.
     */
    static Optional<String> reason(VolumeScheduling scheduling) {
        return scheduling == null ? Optional.empty() : scheduling.problem()
                .map(c -> c.reason() + (c.attempts() > 0 && !c.failureReason().terminal() ? " " + c.attempts() : ""));
    }
}
