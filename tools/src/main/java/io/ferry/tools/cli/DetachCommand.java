package io.ferry.tools.cli;

import io.ferry.csi.HostDevices;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.ExportInfo;
import io.ferry.model.Nqn;
import io.ferry.model.Placement;
import io.ferry.model.VolumeStatus;
import io.ferry.runtime.exec.ProcessCommandRunner;
import picocli.CommandLine;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.net.InetAddress;
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
            // The subsystem is the one the status names, or the one Ferry derives for the volume
            // when the status is gone: a remote volume is detached from this host either way.
            String nqn = await(store().get(keys().volumeStatus(placement.get().node(), volume), VolumeStatus.class))
                    .map(Versioned::value).map(VolumeStatus::export).map(ExportInfo::nqn)
                    .orElseGet(() -> Nqn.forVolume(globalConfig().nqnPrefix(), volume));
            try {
                HostDevices.onThisHost(new ProcessCommandRunner()).disconnect(nqn);
            } catch (HostDevices.UntrustedDeviceException e) {
                throw new CliException(ExitCodes.FAILED, e.getMessage());
            }
        }
        boolean removed = await(store().delete(keys().attachment(volume, self)));
        out().line(removed ? "volume " + volume + " detached from " + self : "volume " + volume + " was not attached to " + self);
        return ExitCodes.OK;
    }
}
