package io.ferry.tools.cli;

import io.ferry.etcd.store.Versioned;
import io.ferry.model.Placement;
import io.ferry.model.VolumeStatus;
import io.ferry.runtime.exec.Command;
import io.ferry.runtime.exec.ProcessCommandRunner;
import picocli.CommandLine;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.net.InetAddress;
import java.time.Duration;
import java.util.Optional;

@CommandLine.Command(name = "detach", description = "Disconnect a volume from this host and remove the attachment. Idempotent.")
final class DetachCommand extends Base {

    @Parameters(index = "0")
    String volume;
    @Option(names = "--node", description = "this host's node name (default: $FERRY_NODE or the host name)")
    String node;

    @Override
    public Integer call() throws Exception {
        String self = node != null ? node : root().environment().getOrDefault("FERRY_NODE",
                InetAddress.getLocalHost().getHostName().toLowerCase());
        Optional<Placement> placement = await(store().get(keys().placement(volume), Placement.class)).map(Versioned::value);
        if (placement.isPresent() && !placement.get().node().equals(self)) {
            Optional<VolumeStatus> status = await(store().get(keys().volumeStatus(placement.get().node(), volume), VolumeStatus.class))
                    .map(Versioned::value);
            if (status.isPresent() && status.get().export() != null
                    && AttachCommand.deviceWithSerial(status.get().export().serial()).isPresent()) {
                new ProcessCommandRunner().run(Command.of("nvme", "disconnect", "-n", status.get().export().nqn())
                        .withTimeout(Duration.ofSeconds(60)));
            }
        }
        boolean removed = await(store().delete(keys().attachment(volume, self)));
        out().line(removed ? "volume " + volume + " detached from " + self : "volume " + volume + " was not attached to " + self);
        return ExitCodes.OK;
    }
}
