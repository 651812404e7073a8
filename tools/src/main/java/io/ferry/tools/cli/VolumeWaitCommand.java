package io.ferry.tools.cli;

import io.ferry.etcd.store.BadValueException;
import io.ferry.model.NodeRegistration;
import io.ferry.model.Sizes;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeProgress;
import io.ferry.model.VolumeStatus;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.time.Duration;
import java.util.List;

@Command(name = "wait", description = "Wait until a volume is created, grown or served to a node. A failure Ferry"
        + " already knows ends the wait at once with its exit code (1 or 7); no outcome in time is exit 5.")
final class VolumeWaitCommand extends Base {
    enum Outcome { created, grown, served }

    @Parameters(index = "0", description = "volume name")
    String name;
    @Option(names = "--for", required = true, description = "created, grown (needs --size) or served (needs --node)")
    Outcome condition;
    @Option(names = "--size", description = "for grown: the size it must reach, e.g. 20Gi (rounded up to 4 MiB)")
    String size;
    @Option(names = "--node", description = "for served: the node that will use it (its agent must be registered)")
    String node;
    @Option(names = "--timeout", defaultValue = "120", description = "seconds to wait (default: ${DEFAULT-VALUE})")
    int timeoutSeconds;

    @Override
    public Integer call() {
        if (condition == Outcome.grown && size == null) {
            throw new CliException(ExitCodes.USAGE, "--for grown needs --size");
        }
        if (condition == Outcome.served && node == null) {
            throw new CliException(ExitCodes.USAGE, "--for served needs --node");
        }
        var raw = await(store().getRaw(keys().volume(name)))
                .orElseThrow(() -> new CliException(ExitCodes.NOT_FOUND, "no volume named " + name));
        VolumeIntent intent = null;
        try {
            intent = store().decode(raw, VolumeIntent.class).value();
            if (intent.deletionRequested()) {
                throw new CliException(ExitCodes.CONFLICT, "volume " + name + " is being deleted");
            }
            if (condition == Outcome.created) {
                VolumeWaits.requireSource(this, intent);
            }
        } catch (BadValueException e) {
            // An intent that does not decode is the controller's to refuse: the wait below
            // reports its Invalid record with the documented exit code.
        }
        Duration timeout = Duration.ofSeconds(timeoutSeconds);
        if (intent != null && intent.layout().multiPart()) {
            return waitForParts(intent, timeout);
        }
        VolumeStatus status;
        String what;
        switch (condition) {
            case created -> {
                status = VolumeWaits.waitReady(this, name, timeout);
                what = "ready";
            }
            case grown -> {
                long target = Sizes.volumeSize(Sizes.parse(size));
                status = VolumeWaits.waitGrown(this, name, target, timeout);
                what = "grown to " + Sizes.format(target);
            }
            default -> {
                String hostNqn = registration(node).map(NodeRegistration::hostNqn).orElseThrow(() -> new CliException(ExitCodes.NOT_FOUND,
                                "node " + node + " is not registered (is its Ferry agent running?)"));
                status = VolumeWaits.waitServed(this, name, node, hostNqn, true, timeout).status();
                what = "served to " + node;
            }
        }
        if (out().format() == Output.Format.table) {
            out().line("volume " + name + " " + what + " on " + status.node()
                    + (status.devicePath() == null ? "" : " at " + status.devicePath()));
        } else {
            out().structured(status);
        }
        return ExitCodes.OK;
    }

    /** The wait of a multi-part volume: every part created, grown or served (docs/layouts.md). */
    private int waitForParts(VolumeIntent intent, Duration timeout) {
        List<VolumeProgress.Done> parts;
        String what;
        switch (condition) {
            case created -> {
                parts = VolumeWaits.waitPartsReady(this, name, timeout);
                what = "ready";
            }
            case grown -> {
                long target = VolumeIntent.volumeSize(intent.layout(), intent.parts(), Sizes.parse(size));
                parts = VolumeWaits.waitPartsGrown(this, name, target, timeout);
                what = "grown to " + Sizes.format(target);
            }
            default -> {
                String hostNqn = registration(node).map(NodeRegistration::hostNqn).orElseThrow(() -> new CliException(
                        ExitCodes.NOT_FOUND, "node " + node + " is not registered (is its Ferry agent running?)"));
                parts = VolumeWaits.waitPartsServed(this, name, node, hostNqn, true, timeout);
                what = "served to " + node;
            }
        }
        if (out().format() == Output.Format.table) {
            out().line("volume " + name + " " + what + ": " + VolumeCommands.partsReady(intent, parts));
        } else {
            out().structured(parts.stream().map(VolumeProgress.Done::status).toList());
        }
        return ExitCodes.OK;
    }
}
