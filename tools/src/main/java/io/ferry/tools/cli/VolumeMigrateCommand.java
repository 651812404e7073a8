package io.ferry.tools.cli;

import io.ferry.etcd.store.Versioned;
import io.ferry.model.Layout;
import io.ferry.model.Names;
import io.ferry.model.PartMove;
import io.ferry.model.PartNames;
import io.ferry.model.Placement;
import io.ferry.model.PoolConfig;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeParts;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

@Command(name = "migrate", description = "Move a leg of a mirror to another pool while the volume is in use: the"
        + " controller places a new leg, the consumer adds it to the running array and md copies the data onto it, and"
        + " only then is the old leg retired and deleted. Only writes the request (moveParts in the volume's intent);"
        + " idempotent. --cancel gives a move up before it is done (the new leg is deleted, the old one stays).")
final class VolumeMigrateCommand extends Base {
    @Parameters(index = "0", paramLabel = "VOL", description = "the volume")
    String name;
    @Parameters(index = "1", paramLabel = "PART", arity = "0..1",
            description = "the leg to move, <VOL>--p<n> (see `ferryctl volume describe VOL`)")
    String part;
    @Option(names = "--to-pool", paramLabel = "POOL", description = "the pool to move the leg to; without it the"
            + " scheduler chooses, by the rules a new leg is placed by")
    String toPool;
    @Option(names = "--cancel", description = "give up the move of PART (nothing happens if it is already done)")
    boolean cancel;

    enum Verdict { REQUEST, CANCEL, ALREADY_REQUESTED, ALREADY_MOVED, NOTHING_TO_CANCEL, REFUSED }

    /** @param status the exit code of a refusal, OK otherwise */
    record Decision(Verdict verdict, String message, int status) {
        static Decision refused(String message) {
            return new Decision(Verdict.REFUSED, message, ExitCodes.REFUSED);
        }

        static Decision of(Verdict verdict, String message) {
            return new Decision(verdict, message, ExitCodes.OK);
        }
    }

    @Override
    public Integer call() {
        Names.volumeName(name);
        if (toPool != null) {
            Names.poolName(toPool);
        }
        if (cancel && toPool != null) {
            throw new CliException(ExitCodes.USAGE, "--cancel takes no --to-pool: it gives up the move of PART");
        }
        if (part != null && !PartNames.parse(part).map(p -> p.volume().equals(name)).orElse(false)) {
            throw new CliException(ExitCodes.USAGE, "\"" + part + "\" is not a leg of volume " + name + ": its legs are"
                    + " named " + name + "--p<n> (`ferryctl volume describe " + name + "` lists them)");
        }
        String key = keys().volume(name);
        for (int attempt = 1; attempt <= VolumeReplaceLegCommand.ATTEMPTS; attempt++) {
            Versioned<VolumeIntent> intent = await(store().get(key, VolumeIntent.class))
                    .orElseThrow(() -> new CliException(ExitCodes.NOT_FOUND, "no volume named " + name
                            + " (see `ferryctl volume ls`)"));
            VolumeParts parts = await(store().get(keys().volumeParts(name), VolumeParts.class)).map(Versioned::value)
                    .orElse(null);
            Placement current = part == null ? null : VolumeWaits.placement(this, part);
            boolean poolKnown = toPool == null || await(store().get(keys().poolConfig(toPool), PoolConfig.class)).isPresent();
            Decision decision = decide(name, part, toPool, cancel, intent.value(), parts,
                    current == null ? null : current.pool(), poolKnown);
            switch (decision.verdict()) {
                case REFUSED -> throw new CliException(decision.status(), decision.message());
                case ALREADY_REQUESTED, ALREADY_MOVED, NOTHING_TO_CANCEL -> {
                    print(decision, intent.value(), false);
                    return ExitCodes.OK;
                }
                default -> {
                    VolumeIntent next = decision.verdict() == Verdict.CANCEL ? intent.value().withoutPartMove(part)
                            : intent.value().withPartMove(part, toPool);
                    // Guarded by the revision read: a resize, a deletion or a leg declared lost meanwhile must be
                    // decided again against what it wrote, not overwritten.
                    if (await(store().compareAndPut(key, next, intent.modRevision()))) {
                        print(decision, next, true);
                        return ExitCodes.OK;
                    }
                }
            }
        }
        throw new CliException(ExitCodes.CONFLICT, "volume " + name + " changed " + VolumeReplaceLegCommand.ATTEMPTS
                + " times while the move was being written; nothing was written, run the command again");
    }

    /**
     * What to do, from the intent, the parts record (null before the controller placed the parts), the
     * leg's current pool (null when unknown) and whether the target pool is configured. Pure: the whole
     * rule of the command, without I/O.
     */
    static Decision decide(String volume, String part, String toPool, boolean cancel, VolumeIntent intent,
                           VolumeParts parts, String currentPool, boolean poolKnown) {
        if (intent.layout() != Layout.MIRROR) {
            return Decision.refused("volume " + volume + " is a " + intent.layout() + " volume; live migration moves a"
                    + " mirror's legs, which md copies under the running filesystem. A " + intent.layout() + " volume's"
                    + (intent.layout() == Layout.SINGLE ? " filesystem sits directly on its one device" : " parts are"
                    + " each needed as they are") + ", so nothing can copy it while it is in use (docs/layouts.md,"
                    + " \"Live migration\")");
        }
        if (intent.deletionRequested()) {
            return Decision.refused("volume " + volume + " is being deleted; its legs are deleted with it, none moves");
        }
        if (parts == null) {
            return Decision.refused("volume " + volume + " has no legs yet: the controller has not placed it (no parts"
                    + " record); see `ferryctl volume explain " + volume + "`");
        }
        if (part == null) {
            return new Decision(Verdict.REFUSED, "name the leg of volume " + volume + " to move: one of "
                    + String.join(", ", parts.partNames()) + " (`ferryctl volume describe " + volume
                    + "` shows where each is)", ExitCodes.USAGE);
        }
        Optional<PartMove> requested = intent.partMove(part);
        if (cancel) {
            if (requested.isEmpty()) {
                return Decision.of(Verdict.NOTHING_TO_CANCEL, "no move of leg " + part + " is asked for");
            }
            if (parts.isRetired(part)) {
                return Decision.of(Verdict.CANCEL, "the move of leg " + part + " is done already; its request is taken"
                        + " out of the intent, nothing else changes");
            }
            return Decision.of(Verdict.CANCEL, "the move of leg " + part + " is given up: the new leg is deleted, "
                    + part + " stays");
        }
        if (parts.isRetired(part)) {
            String by = parts.parts().stream().filter(p -> part.equals(p.replaces())).map(VolumeParts.Part::name)
                    .findFirst().orElse(null);
            return Decision.of(Verdict.ALREADY_MOVED, "leg " + part + " of volume " + volume + " is no longer a member"
                    + (by == null ? "" : ": " + by + " took its place"));
        }
        Optional<VolumeParts.Part> member = parts.member(part);
        if (member.isEmpty()) {
            return Decision.refused("leg " + part + " is not a leg of volume " + volume + "; its legs are "
                    + String.join(", ", parts.partNames()));
        }
        if (member.get().movesFrom() != null) {
            return Decision.refused("leg " + part + " is itself joining the mirror (it moves in for "
                    + member.get().movesFrom() + "); move it once that move is done");
        }
        if (intent.lostParts().contains(part)) {
            return Decision.refused("leg " + part + " is declared lost; its replacement is placed instead of a move");
        }
        Optional<VolumeParts.Part> joining = parts.joining();
        if (requested.isPresent() && requested.get().equals(new PartMove(part, toPool))) {
            return Decision.of(Verdict.ALREADY_REQUESTED, "the move of leg " + part + " is asked for already"
                    + (joining.filter(j -> part.equals(j.movesFrom())).map(j -> "; " + j.name() + " is joining").orElse("")));
        }
        if (joining.isPresent()) {
            return Decision.refused("leg " + joining.get().movesFrom() + " of volume " + volume + " is moving now (to "
                    + joining.get().name() + "); a mirror moves one leg at a time: wait for it, or cancel it with"
                    + " `ferryctl volume migrate " + volume + " " + joining.get().movesFrom() + " --cancel`");
        }
        if (toPool != null && toPool.equals(currentPool)) {
            return Decision.refused("leg " + part + " is on pool " + toPool + " already");
        }
        if (!poolKnown) {
            return new Decision(Verdict.REFUSED, "no pool named " + toPool + " (see `ferryctl pool ls`)",
                    ExitCodes.NOT_FOUND);
        }
        return Decision.of(Verdict.REQUEST, "leg " + part + " of volume " + volume + " asked to move"
                + (toPool == null ? "" : " to pool " + toPool));
    }

    private void print(Decision decision, VolumeIntent intent, boolean written) {
        if (out().format() != Output.Format.table) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("volume", name);
            row.put("leg", part);
            row.put("toPool", toPool);
            row.put("outcome", switch (decision.verdict()) {
                case REQUEST -> "requested";
                case CANCEL -> "cancelled";
                case ALREADY_REQUESTED -> "alreadyRequested";
                case ALREADY_MOVED -> "alreadyMoved";
                default -> "nothingToCancel";
            });
            row.put("moveParts", intent.moveParts());
            row.put("written", written);
            out().structured(row);
            return;
        }
        out().line(decision.message() + (written ? "" : "; nothing written"));
        if (decision.verdict() == Verdict.REQUEST || decision.verdict() == Verdict.ALREADY_REQUESTED) {
            out().line("next: the controller places a new leg" + (toPool == null ? "" : " on " + toPool) + "; the"
                    + " consumer adds it to the running mirror and md copies the volume onto it; once the consumer"
                    + " reports it in sync, " + part + " is retired and deleted. A volume staged nowhere moves when it is"
                    + " next staged.");
            out().line("progress: `ferryctl volume describe " + name + "` (parts, mirrorHealth) and the LegMoved"
                    + " condition of " + keys().volumeScheduling(name));
        }
    }
}
