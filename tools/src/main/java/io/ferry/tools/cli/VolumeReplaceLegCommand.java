package io.ferry.tools.cli;

import io.ferry.etcd.store.Versioned;
import io.ferry.model.Layout;
import io.ferry.model.MirrorReport;
import io.ferry.model.Names;
import io.ferry.model.PartNames;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeParts;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

@Command(name = "replace-leg", description = "Declare a leg of a mirror lost: the controller places a replacement leg on"
        + " another pool, the consumer adds it and md rebuilds onto it, and the lost leg is deleted. Only writes the"
        + " request (lostParts in the volume's intent); idempotent. Refused (exit 7) when no other leg is known to hold"
        + " the data, unless --replacement-rebuilt.")
final class VolumeReplaceLegCommand extends Base {
    @Parameters(index = "0", paramLabel = "VOL", description = "the mirror volume")
    String name;
    @Parameters(index = "1", paramLabel = "PART", description = "the lost leg, <VOL>--p<n> (see `ferryctl volume describe VOL`)")
    String part;
    @Option(names = "--replacement-rebuilt", description = "assert that every other leg that is itself a replacement has"
            + " finished rebuilding (ferryctl cannot tell from etcd); needed only when no other leg is one of the first")
    boolean replacementRebuilt;

    /** Compare-and-put attempts before giving up: the controller and CSI write the same intent. */
    static final int ATTEMPTS = 5;

    /** What the command does with a leg, decided from the intent and the parts record alone. */
    enum Verdict { DECLARE, ALREADY_LOST, ALREADY_REPLACED, REFUSED }

    /**
     * @param verdict    what to do
     * @param message    why, for a refusal; what is the case, otherwise
     * @param replacedBy for {@link Verdict#ALREADY_REPLACED}, the member that replaced the leg (null if none is left)
     */
    record Decision(Verdict verdict, String message, String replacedBy) {
        static Decision refused(String message) {
            return new Decision(Verdict.REFUSED, message, null);
        }
    }

    @Override
    public Integer call() {
        Names.volumeName(name);
        if (!PartNames.parse(part).map(p -> p.volume().equals(name)).orElse(false)) {
            throw new CliException(ExitCodes.USAGE, "\"" + part + "\" is not a leg of volume " + name + ": its legs are"
                    + " named " + name + "--p<n> (`ferryctl volume describe " + name + "` lists them)");
        }
        String key = keys().volume(name);
        for (int attempt = 1; attempt <= ATTEMPTS; attempt++) {
            Versioned<VolumeIntent> intent = await(store().get(key, VolumeIntent.class))
                    .orElseThrow(() -> new CliException(ExitCodes.NOT_FOUND, "no volume named " + name
                            + " (see `ferryctl volume ls`)"));
            VolumeParts parts = await(store().get(keys().volumeParts(name), VolumeParts.class)).map(Versioned::value)
                    .orElse(null);
            List<MirrorReport> reports = list(keys().mirrorReportsOf(name), MirrorReport.class).stream()
                    .map(Versioned::value).toList();
            Decision decision = decide(name, part, intent.value(), parts, replacementRebuilt, reports);
            switch (decision.verdict()) {
                case REFUSED -> throw new CliException(ExitCodes.REFUSED, decision.message());
                case ALREADY_LOST, ALREADY_REPLACED -> {
                    print(decision, intent.value());
                    return ExitCodes.OK;
                }
                case DECLARE -> {
                    VolumeIntent lost = intent.value().withLostPart(part);
                    // Guarded by the revision read: a concurrent resize, deletion or another leg declared lost
                    // must be decided again against what it wrote, not overwritten.
                    if (await(store().compareAndPut(key, lost, intent.modRevision()))) {
                        print(decision, lost);
                        return ExitCodes.OK;
                    }
                }
            }
        }
        throw new CliException(ExitCodes.CONFLICT, "volume " + name + " changed " + ATTEMPTS + " times while leg " + part
                + " was being declared lost; nothing was written, run the command again");
    }

    /**
     * Whether {@code part} of {@code volume} may be declared lost, given the volume's intent and its parts record
     * ({@code null} before the controller placed the parts). Pure: the whole rule of the command, without I/O.
     *
     * <p>A mirror keeps its data only while some leg holds it. A first leg ({@code replaces == null}) that is not
     * itself declared lost does; a replacement leg does only once md finished rebuilding onto it, which etcd does
     * not record, so an operator's {@code replacementRebuilt} stands in for it. A leg already declared lost never
     * counts: its replacement starts blank.
     */
    static Decision decide(String volume, String part, VolumeIntent intent, VolumeParts parts, boolean replacementRebuilt) {
        return decide(volume, part, intent, parts, replacementRebuilt, List.of());
    }

    /**
     * As above, and with what the consumers report of the mirror's array ({@code mirror-health/<vol>/<node>}):
     * md's own word on which legs are in sync outranks what etcd can infer. A report of this array that shows
     * no other leg in sync refuses the declaration, whatever {@code replacementRebuilt} says; one that shows
     * another leg in sync allows it without that flag. Without a report (no consumer, or one too old to
     * write it) the rules of etcd alone apply.
     */
    static Decision decide(String volume, String part, VolumeIntent intent, VolumeParts parts, boolean replacementRebuilt,
                           List<MirrorReport> reports) {
        if (intent.layout() != Layout.MIRROR) {
            return Decision.refused("volume " + volume + " is a " + intent.layout() + " volume; only a mirror's legs can"
                    + " be replaced (a " + intent.layout() + " volume needs every part it has)");
        }
        if (intent.deletionRequested()) {
            return Decision.refused("volume " + volume + " is being deleted; its legs are deleted with it, none is"
                    + " replaced");
        }
        if (parts == null) {
            return Decision.refused("volume " + volume + " has no legs yet: the controller has not placed it (no parts"
                    + " record); see `ferryctl volume explain " + volume + "`");
        }
        if (parts.isRetired(part)) {
            String by = parts.parts().stream().filter(p -> part.equals(p.replaces())).map(VolumeParts.Part::name)
                    .findFirst().orElse(null);
            return new Decision(Verdict.ALREADY_REPLACED, "leg " + part + " of volume " + volume + " was already replaced"
                    + (by == null ? "" : " by " + by), by);
        }
        if (parts.member(part).isEmpty()) {
            return Decision.refused("leg " + part + " is not a leg of volume " + volume + "; its legs are "
                    + String.join(", ", parts.partNames()));
        }
        if (intent.lostParts().contains(part)) {
            return new Decision(Verdict.ALREADY_LOST, "leg " + part + " of volume " + volume + " is already declared lost;"
                    + " its replacement is pending", null);
        }
        List<VolumeParts.Part> others = parts.parts().stream()
                .filter(p -> !p.name().equals(part) && !intent.lostParts().contains(p.name())).toList();
        if (others.isEmpty()) {
            // Nothing the operator could assert makes this safe: every replacement would start blank.
            List<String> lost = parts.partNames().stream().filter(p -> !p.equals(part)).toList();
            return Decision.refused("every other leg of volume " + volume + " (" + String.join(", ", lost)
                    + ") is declared lost already; replacing " + part + " too would leave no leg holding the data");
        }
        List<MirrorReport> ours = reports.stream().filter(r -> sameArray(r.arrayUuid(), parts.arrayUuid())).toList();
        if (!ours.isEmpty()) {
            List<String> inSync = others.stream().map(VolumeParts.Part::name)
                    .filter(leg -> ours.stream().anyMatch(r -> r.inSync(leg))).toList();
            if (inSync.isEmpty()) {
                String nodes = String.join(", ", ours.stream().map(MirrorReport::node).toList());
                return Decision.refused("the consumer (" + nodes + ") reports no other leg of volume " + volume
                        + " in sync (" + String.join(", ", others.stream().map(VolumeParts.Part::name).toList())
                        + "): md is still copying onto them, and declaring " + part + " lost now would delete the last"
                        + " complete copy. Wait until `ferryctl volume describe " + volume + "` (mirrorHealth) shows"
                        + " another leg in-sync; if that consumer is gone for good, its stale report is "
                        + "mirror-health/" + volume + "/<node>, removed with etcdctl del");
            }
            return new Decision(Verdict.DECLARE, "leg " + part + " of volume " + volume + " declared lost", null);
        }
        List<String> replacements = others.stream().filter(p -> p.replaces() != null).map(VolumeParts.Part::name).toList();
        if (replacements.size() == others.size() && !replacementRebuilt) {
            return Decision.refused("the other legs of volume " + volume + " (" + String.join(", ", replacements)
                    + ") are themselves replacements, and ferryctl cannot tell from etcd whether md finished rebuilding"
                    + " onto them; replacing " + part + " before that would leave no leg holding the data. Check on the"
                    + " consumer that the mirror is in sync (`cat /proc/mdstat`, or the volume condition of `ferryctl"
                    + " csi node-stats`: \"mirror healthy ...: N of N legs in sync\"), then run the command again with"
                    + " --replacement-rebuilt");
        }
        return new Decision(Verdict.DECLARE, "leg " + part + " of volume " + volume + " declared lost", null);
    }

    private void print(Decision decision, VolumeIntent intent) {
        if (out().format() != Output.Format.table) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("volume", name);
            row.put("leg", part);
            row.put("outcome", switch (decision.verdict()) {
                case DECLARE -> "declaredLost";
                case ALREADY_LOST -> "alreadyDeclaredLost";
                default -> "alreadyReplaced";
            });
            row.put("replacedBy", decision.replacedBy());
            row.put("lostParts", intent.lostParts());
            row.put("written", decision.verdict() == Verdict.DECLARE);
            out().structured(row);
            return;
        }
        out().line(decision.message() + (decision.verdict() == Verdict.DECLARE ? "" : "; nothing written"));
        if (decision.verdict() == Verdict.ALREADY_REPLACED) {
            return;
        }
        out().line("next: the controller places a replacement leg on another pool, in a " + intent.failureDomainLevel()
                + " failure domain distinct from the other legs'; the consumer adds it to the mirror and md rebuilds onto"
                + " it; then " + part + " is retired and deleted");
        out().line("progress: `ferryctl volume describe " + name + "` (parts), `ferryctl volume explain " + name
                + "`, and the LegReplaced condition of " + keys().volumeScheduling(name));
    }

    /** md prints an array's UUID as four groups of eight hex digits, the parts record as a standard UUID. */
    private static boolean sameArray(String reported, String arrayUuid) {
        String a = reported.toLowerCase(Locale.ROOT).replaceAll("[^0-9a-f]", "");
        return a.length() == 32 && a.equals(arrayUuid.toLowerCase(Locale.ROOT).replaceAll("[^0-9a-f]", ""));
    }
}
