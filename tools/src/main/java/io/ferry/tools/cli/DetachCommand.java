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
import java.util.List;
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
        // A volume on this node, or handed over on its machine, was never connected: nothing to end.
        if (placement.isPresent() && AttachCommand.reach(this, placement.get(), self).needsExport()) {
            // The subsystem is the one the status names, or the ones Ferry derives for the volume
            // (with this cluster's id, and of before cluster ids) when the status is gone: a
            // remote volume is detached from this host either way.
            Optional<String> named = await(store().get(keys().volumeStatus(placement.get().node(), volume),
                    VolumeStatus.class)).map(Versioned::value).map(VolumeStatus::export).map(ExportInfo::nqn);
            List<String> nqns = named.map(List::of).orElseGet(() -> derivedNqns(globalConfig().nqnPrefix(), clusterId()));
            try {
                HostDevices devices = HostDevices.onThisHost(new ProcessCommandRunner());
                for (String nqn : nqns) {
                    devices.disconnect(nqn);
                }
            } catch (HostDevices.UntrustedDeviceException e) {
                throw new CliException(ExitCodes.FAILED, e.getMessage());
            }
        }
        boolean removed = await(store().delete(keys().attachment(volume, self)));
        out().line(removed ? "volume " + volume + " detached from " + self : "volume " + volume + " was not attached to " + self);
        return ExitCodes.OK;
    }

    private List<String> derivedNqns(String prefix, String cluster) {
        return cluster == null ? List.of(Nqn.legacyForVolume(prefix, volume))
                : List.of(Nqn.forVolume(prefix, cluster, volume), Nqn.legacyForVolume(prefix, volume));
    }
}
