package io.ferry.tools.cli;

import io.ferry.csi.HostDevices;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.Attachment;
import io.ferry.model.ExportInfo;
import io.ferry.model.Nqn;
import io.ferry.model.Placement;
import io.ferry.model.VolumeProgress;
import io.ferry.model.VolumeStatus;
import io.ferry.runtime.exec.ProcessCommandRunner;
import picocli.CommandLine;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

@CommandLine.Command(name = "detach", description = "Disconnect a volume from this host and remove the attachment. Idempotent.")
final class DetachCommand extends Base {

    @Parameters(index = "0")
    String volume;
    @Option(names = "--node", description = "this host's node name (default: $FERRY_NODE or the host name)")
    String node;
    @Option(names = "--no-wait", description = "return once the attachment is removed, without waiting for the storage"
            + " node to confirm that this host is cut off")
    boolean noWait;
    @Option(names = "--timeout", defaultValue = "60", description = "seconds to wait for that confirmation"
            + " (default: ${DEFAULT-VALUE}; exit code 5 when it does not come in time)")
    int timeoutSeconds;

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
        if (!noWait) {
            waitCutOff(this, volume, Duration.ofSeconds(timeoutSeconds));
        }
        out().line(removed ? "volume " + volume + " detached from " + self : "volume " + volume + " was not attached to " + self);
        return ExitCodes.OK;
    }

    /**
     * Until the serving node confirms that no host without an attachment can reach the volume (its
     * agent has cut their connections): only then may another host be given it. A node that is down
     * cannot confirm, which ends the wait at once with its exit code.
     */
    static void waitCutOff(Base cmd, String volume, Duration timeout) {
        Base.waitFor(timeout, "the storage node to cut detached hosts off volume " + volume, () -> {
            Placement p = VolumeWaits.placement(cmd, volume);
            VolumeStatus status = VolumeWaits.status(cmd, p, volume);
            Set<String> attached = await(cmd.store().list(cmd.keys().attachmentsOf(volume), Attachment.class)).items()
                    .stream().map(v -> v.value().hostNqn()).collect(Collectors.toSet());
            VolumeProgress.Outcome outcome = VolumeProgress.cutOff(volume, p, status, attached,
                    p == null ? null : cmd.registration(p.node()).orElse(null));
            VolumeWaits.done(outcome);
            return outcome instanceof VolumeProgress.Done d ? d : null;
        });
    }

    private List<String> derivedNqns(String prefix, String cluster) {
        return cluster == null ? List.of(Nqn.legacyForVolume(prefix, volume))
                : List.of(Nqn.forVolume(prefix, cluster, volume), Nqn.legacyForVolume(prefix, volume));
    }
}
