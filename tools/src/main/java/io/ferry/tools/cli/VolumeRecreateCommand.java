package io.ferry.tools.cli;

import io.ferry.etcd.store.Versioned;
import io.ferry.model.Names;
import io.ferry.model.Placement;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeProgress;
import io.ferry.model.VolumeStatus;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;

@Command(name = "recreate", description = "Replace a Lost volume by a new, empty one where it was placed (its old data"
        + " is given up). Refused unless the volume is Lost, and without --empty.")
final class VolumeRecreateCommand extends Base {
    @Parameters(index = "0")
    String name;
    @Option(names = "--empty", description = "required: the new volume is empty; the lost data is not recovered")
    boolean empty;
    @Option(names = "--wait", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "wait until the new volume is ready (default: ${DEFAULT-VALUE})")
    boolean await;
    @Option(names = "--timeout", defaultValue = "120", description = "seconds to wait (default: ${DEFAULT-VALUE})")
    int timeoutSeconds;

    @Override
    public Integer call() {
        Names.volumeName(name);
        if (!empty) {
            throw new CliException(ExitCodes.USAGE, "`volume recreate` replaces the lost volume " + name + " by an empty one"
                    + " and gives its data up; say so with --empty");
        }
        String key = keys().volume(name);
        Versioned<VolumeIntent> intent = await(store().get(key, VolumeIntent.class))
                .orElseThrow(() -> new CliException(ExitCodes.NOT_FOUND, "no volume named " + name));
        if (intent.value().deletionRequested()) {
            throw new CliException(ExitCodes.CONFLICT, "volume " + name + " is being deleted");
        }
        Placement placement = await(store().get(keys().placement(name), Placement.class)).map(Versioned::value)
                .orElseThrow(() -> new CliException(ExitCodes.CONFLICT, "volume " + name + " has no placement, so it is"
                        + " not Lost anywhere; see `ferryctl volume describe " + name + "`"));
        VolumeStatus status = await(store().get(keys().volumeStatus(placement.node(), name), VolumeStatus.class))
                .map(Versioned::value).orElse(null);
        if (status == null || !status.lost()) {
            throw new CliException(ExitCodes.CONFLICT, "volume " + name + " is "
                    + (status == null ? "without a status on " + placement.node() : status.phase().value() + " on " + placement.node())
                    + ", not Lost; only a Lost volume can be re-created empty");
        }
        Instant request = Instant.now().truncatedTo(ChronoUnit.MILLIS);
        if (!await(store().compareAndPut(key, intent.value().withRecreateEmptyRequested(request), intent.modRevision()))) {
            throw new CliException(ExitCodes.CONFLICT, "volume " + name + " changed meanwhile; run the command again");
        }
        if (!await) {
            out().line("volume " + name + ": re-creation as an empty volume requested");
            return ExitCodes.OK;
        }
        long emptyBefore = placement.emptySinceGeneration();
        VolumeStatus ready = waitFor(Duration.ofSeconds(timeoutSeconds), "volume " + name + " to be re-created empty", () -> {
            Placement p = await(store().get(keys().placement(name), Placement.class)).map(Versioned::value).orElse(null);
            if (p == null || !request.equals(p.recreateEmptyRequestedAt())) {
                return null;
            }
            if (p.emptySinceGeneration() == emptyBefore) {
                throw new CliException(ExitCodes.CONFLICT, "the controller refused to re-create volume " + name
                        + ": it was no longer Lost when the request arrived; see `ferryctl volume describe " + name + "`");
            }
            VolumeStatus st = await(store().get(keys().volumeStatus(p.node(), name), VolumeStatus.class))
                    .map(Versioned::value).orElse(null);
            // Done or failed as for any request on the volume, at the generation that asked for the
            // empty volume or a later one.
            return VolumeWaits.done(VolumeProgress.servedTo(name, p, st, p.node(), "", null, null, false));
        });
        out().line("volume " + name + " re-created empty on " + ready.node()
                + (ready.devicePath() == null ? "" : " at " + ready.devicePath()));
        return ExitCodes.OK;
    }
}
