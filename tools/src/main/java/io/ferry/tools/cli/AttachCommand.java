package io.ferry.tools.cli;

import io.ferry.csi.HostDevices;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.Attachment;
import io.ferry.model.ExportInfo;
import io.ferry.model.NodeRegistration;
import io.ferry.model.Placement;
import io.ferry.model.PoolConfig;
import io.ferry.model.Reach;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeProgress;
import io.ferry.model.VolumeStatus;
import io.ferry.runtime.exec.ProcessCommandRunner;
import io.ferry.etcd.HostSecrets;
import io.ferry.model.HostSecret;
import io.ferry.model.NvmeAuth;
import io.ferry.runtime.auth.HostKeyFile;
import picocli.CommandLine;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.io.UncheckedIOException;

/**
 * Attaches a volume to a bare-metal host: records the attachment (so the export allows this host's
 * NQN), waits for the volume to be ready, then prints the local device path, or connects over
 * NVMe/TCP with nvme-cli and prints the namespace's device path.
 */
@CommandLine.Command(name = "attach", description = "Attach a volume to this host and print its device path.")
final class AttachCommand extends Base {

    @Parameters(index = "0", description = "volume name")
    String volume;
    @Option(names = "--node", description = "this host's node name (default: $FERRY_NODE or the host name)")
    String node;
    @Option(names = "--host-nqn", description = "this host's NVMe host NQN (default: its agent's registration, then /etc/nvme/hostnqn)")
    String hostNqn;
    @Option(names = "--no-connect", description = "only record the attachment and print how to connect")
    boolean noConnect;
    @Option(names = "--timeout", defaultValue = "120", description = "seconds to wait (default: ${DEFAULT-VALUE})")
    int timeoutSeconds;
    @Option(names = "--nvme-auth-keys", description = "this host's NVMe authentication keys (default: $FERRY_NVME_AUTH_KEYS or "
            + HostKeyFile.DEFAULT_PATH + "); created and published here on a host without an agent")
    Path authKeys;

    @Override
    public Integer call() throws Exception {
        String self = node != null ? node : root().environment().getOrDefault("FERRY_NODE",
                InetAddress.getLocalHost().getHostName().toLowerCase());
        Optional<NodeRegistration> registered = registration(self);
        if (hostNqn != null && registered.isPresent() && !registered.get().hostNqn().equals(hostNqn)) {
            // The controller exports only to the host NQN a node registered itself: this would never be served.
            throw new CliException(ExitCodes.CONFLICT, "node " + self + " registered host NQN " + registered.get().hostNqn()
                    + ", not " + hostNqn + "; Ferry exports to a registered node only under its own host NQN");
        }
        String nqn = hostNqn != null ? hostNqn : registered.map(NodeRegistration::hostNqn)
                .orElseGet(AttachCommand::hostNqnFile);
        if (nqn == null) {
            throw new CliException(ExitCodes.USAGE, "cannot tell this host's NVMe host NQN: pass --host-nqn or create /etc/nvme/hostnqn"
                    + " (nvme gen-hostnqn > /etc/nvme/hostnqn)");
        }
        NvmeAuth auth = globalConfig().nvmeAuth();
        Path keyFile = authKeys != null ? authKeys : Path.of(root().environment().getOrDefault("FERRY_NVME_AUTH_KEYS",
                HostKeyFile.DEFAULT_PATH));
        if (auth.on() && registered.isEmpty()) {
            publishOwnKeys(self, nqn, keyFile);
        }
        // Without this check the attachment would be written for nothing and the wait below would time out.
        VolumeIntent intent = await(store().get(keys().volume(volume), VolumeIntent.class))
                .map(Versioned::value).orElseThrow(() -> new CliException(ExitCodes.NOT_FOUND, "no volume named " + volume
                        + " (see `ferryctl volume ls`)"));
        if (intent.deletionRequested()) {
            throw new CliException(ExitCodes.CONFLICT, "volume " + volume + " is being deleted");
        }
        if (intent.layout().multiPart() || intent.partOf() != null) {
            // Refused before the attachment is written: nothing here assembles parts yet, so the
            // wait below would end only at its timeout.
            throw new CliException(ExitCodes.REFUSED, "volume " + volume + (intent.partOf() != null
                    ? " is a part of volume " + intent.partOf() + "; parts are attached only through their volume"
                    : " is a " + intent.layout() + " volume of several parts; ferryctl attach does not assemble"
                    + " parts yet: stage it through the CSI node plugin (docs/layouts.md)"));
        }
        Attachment attachment = Attachment.of(volume, self, nqn, false, Instant.now());
        String key = keys().attachment(volume, self);
        Optional<Versioned<Attachment>> existing = await(store().get(key, Attachment.class));
        if (existing.isPresent() && !existing.get().value().hostNqn().equals(nqn)) {
            throw new CliException(ExitCodes.CONFLICT, "volume " + volume + " is attached to " + self + " with host NQN "
                    + existing.get().value().hostNqn());
        }
        if (existing.isEmpty()) {
            await(store().putIfAbsent(key, attachment));
        }
        VolumeWaits.waitReady(this, volume, Duration.ofSeconds(timeoutSeconds));
        // Served to this host as the one rule says: its own device, the device handed over on the
        // serving node's machine, or an export allowing this host's NQN. A terminal failure (the
        // serving node cannot export) ends the wait at once.
        // Served to this host as the one rule says; a terminal failure (the serving node cannot
        // export) ends the wait at once.
        VolumeProgress.Done served = VolumeWaits.waitServed(this, volume, self, nqn, false,
                Duration.ofSeconds(timeoutSeconds));
        Placement placement = served.placement();
        VolumeStatus status = served.status();
        HostDevices devices = HostDevices.onThisHost(new ProcessCommandRunner());
        if (!served.reach().needsExport()) {
            // On the volume's node, or handed its device on that node's machine. A status is a key
            // anyone with write access can set: the path is printed only if it is the device the
            // pool's engine makes for this volume, never a host disk it names.
            PoolConfig pool = await(store().get(keys().poolConfig(placement.pool()), PoolConfig.class)).map(Versioned::value)
                    .orElseThrow(() -> new CliException(ExitCodes.FAILED, "volume " + volume + " is placed on pool "
                            + placement.pool() + ", which has no config"));
            String cluster = clusterId();
            out().line(trusted(() -> devices.local(volume, pool, status.devicePath(), cluster)).toString());
            return ExitCodes.OK;
        }
        ExportInfo export = status.export();
        if (noConnect) {
            // The keys themselves are never printed: the line says where they are.
            out().line("nvme connect -t " + export.transport() + " -a " + export.address() + " -s " + export.port() + " -n "
                    + export.nqn() + " --hostnqn " + nqn
                    + (auth.on() ? " --dhchap-secret <hostKey of " + keyFile + ">" : "")
                    + (auth == NvmeAuth.BIDIRECTIONAL ? " --dhchap-ctrl-secret <ctrlKey of " + keyFile + ">" : ""));
            return ExitCodes.OK;
        }
        String nqnPrefix = globalConfig().nqnPrefix();
        String cluster = clusterId();
        HostDevices authDevices = HostDevices.onThisHost(new ProcessCommandRunner(), keyFile);
        out().line(trusted(() -> authDevices.connect(volume, nqnPrefix, cluster, export, nqn, auth)).toString());
        return ExitCodes.OK;
    }


    /**
     * A host without an agent is its own publisher: it keeps its pair in {@code keyFile} (created once,
     * reused after) and publishes it at {@code secrets/hosts/<node>}, as an agent would, so the
     * controller can give it to the storage node before the export is made.
     */
    private void publishOwnKeys(String self, String nqn, Path keyFile) {
        HostSecret published;
        try {
            HostKeyFile.ensure(keyFile, Instant.now());
            // Mid-rotation (an agent's host) the file says what the targets are to serve: the same as the agent publishes.
            published = HostKeyFile.readGenerations(keyFile).orElseThrow().published(self, nqn);
        } catch (HostKeyFile.UnusableException | UncheckedIOException e) {
            throw new CliException(ExitCodes.FAILED, e.getMessage());
        }
        await(HostSecrets.publish(store(), published));
    }

    /**
     * How this host reaches the volume, by the one rule ({@link Reach#of}): a bare host without an
     * agent has no registration, so it is never taken for the serving node's machine.
     */
    static Reach reach(Base command, Placement placement, String self) {
        return Reach.of(placement.node(), command.registration(placement.node()).orElse(null), placement.engine(), self,
                command.registration(self).orElse(null));
    }

    private interface DeviceLookup {
        Path find() throws InterruptedException;
    }

    private Path trusted(DeviceLookup lookup) throws InterruptedException {
        try {
            return lookup.find();
        } catch (HostDevices.UntrustedDeviceException e) {
            throw new CliException(ExitCodes.FAILED, e.getMessage());
        }
    }

    static String hostNqnFile() {
        try {
            Path file = Path.of("/etc/nvme/hostnqn");
            return Files.isReadable(file) ? Files.readString(file).trim() : null;
        } catch (IOException e) {
            return null;
        }
    }
}
