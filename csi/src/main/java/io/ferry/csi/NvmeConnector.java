package io.ferry.csi;

import io.ferry.model.ExportInfo;
import io.ferry.model.NvmeAuth;
import io.ferry.runtime.auth.HostKeyFile;
import io.ferry.runtime.exec.Command;
import io.ferry.runtime.exec.CommandResult;
import io.ferry.runtime.exec.CommandRunner;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.ArrayList;

/**
 * Connects this node to a volume's NVMe/TCP export with nvme-cli and finds the namespace's block
 * device through {@link DeviceVerifier#nvmeNamespace}: under a controller of the export's subsystem
 * whose serial is the export's ({@code <sys>/class/nvme/<ctrl>/subsysnqn} and {@code serial}); the
 * device is the controller's namespace, or the multipath head of its subsystem when native
 * multipath hides per-controller devices. All commands go through the {@link CommandRunner}.
 *
 * <p>With {@code nvmeAuth} on, it connects with this host's DH-HMAC-CHAP pair from the state file
 * the node's agent keeps ({@link HostKeyFile}): {@code --dhchap-secret} (the host key, which the
 * target checks) and, in bidirectional mode, {@code --dhchap-ctrl-secret} (which the host checks the
 * target against, so a target without the right key is refused). Both are marked secret on the
 * command, so its rendering in logs and errors shows neither.
 */
final class NvmeConnector {

    /**
     * @param reconnectDelay    seconds between reconnect attempts after the path drops
     * @param ctrlLossTimeout   seconds before a dropped controller is given up (-1: never)
     * @param authKeys          this host's DH-HMAC-CHAP pair ({@link HostKeyFile#DEFAULT_PATH})
     */
    record Options(int reconnectDelay, int ctrlLossTimeout, Duration deviceTimeout, Path authKeys) {
        Options(int reconnectDelay, int ctrlLossTimeout, Duration deviceTimeout) {
            this(reconnectDelay, ctrlLossTimeout, deviceTimeout, Path.of(HostKeyFile.DEFAULT_PATH));
        }

        static Options defaults() {
            return new Options(2, 600, Duration.ofSeconds(20));
        }

        Options withAuthKeys(Path value) {
            return new Options(reconnectDelay, ctrlLossTimeout, deviceTimeout, value);
        }
    }

    /** Seconds a mirror leg's I/O waits for a path before it fails: md's pause when a leg's node is lost. */
    static final int LEG_FAST_IO_FAIL_SECONDS = 10;

    private final CommandRunner runner;
    private final Path sysRoot;
    private final DeviceVerifier verifier;
    private final Options options;

    NvmeConnector(CommandRunner runner, Path sysRoot, Path devRoot, Options options) {
        this(runner, sysRoot, new DeviceVerifier(runner, sysRoot, devRoot), options);
    }

    NvmeConnector(CommandRunner runner, Path sysRoot, DeviceVerifier verifier, Options options) {
        this.runner = runner;
        this.sysRoot = sysRoot;
        this.verifier = verifier;
        this.options = options;
    }

    /**
     * Connects unless a controller for the subsystem is already there; returns the block device of
     * the namespace with the export's serial under a controller of the export's subsystem.
     */
    Path connect(ExportInfo export, String hostNqn, NvmeAuth auth) throws InterruptedException {
        return connect(export, hostNqn, auth, false);
    }

    /** @param failFast fail I/O after {@link #LEG_FAST_IO_FAIL_SECONDS} without a path (a mirror's leg) */
    Path connect(ExportInfo export, String hostNqn, NvmeAuth auth, boolean failFast) throws InterruptedException {
        Optional<Path> device = verifier.nvmeNamespace(export);
        if (device.isEmpty() && controllersOf(export.nqn()).isEmpty()) {
            runner.run(connectCommand(export, hostNqn, auth, auth.on() ? Optional.of(authKeys()) : Optional.empty()));
        }
        if (failFast) {
            failFast(export.nqn(), true);
        }
        if (device.isPresent()) {
            return device.get();
        }
        // The kernel creates the namespace device shortly after the controller; a short bounded wait.
        long deadline = System.nanoTime() + options.deviceTimeout().toNanos();
        while (System.nanoTime() < deadline) {
            device = verifier.nvmeNamespace(export);
            if (device.isPresent()) {
                return device.get();
            }
            Thread.sleep(200);
        }
        List<String> impostors = verifier.impostors(export);
        if (!impostors.isEmpty()) {
            throw Calls.failedPrecondition("connected to " + export.nqn() + " but no controller of that subsystem"
                    + " shows a namespace with serial " + export.serial() + "; the serial is announced by "
                    + String.join(", ", impostors) + ", which is refused: a serial alone does not identify a volume");
        }
        throw Calls.internal("connected to " + export.nqn() + " but no namespace with serial " + export.serial()
                + " appeared under " + sysRoot.resolve("class/nvme") + " within " + options.deviceTimeout().toSeconds() + "s");
    }

    /** This host's pair; the agent of the node creates it, so a missing file is a node not set up yet. */
    private HostKeyFile.Pair authKeys() {
        try {
            return HostKeyFile.read(options.authKeys()).orElseThrow(() -> Calls.failedPrecondition("the cluster requires"
                    + " NVMe in-band authentication (nvmeAuth in config/global) and this host has no keys at "
                    + options.authKeys() + ": the node's Ferry agent creates them at its start (the CSI node plugin"
                    + " reads them through --nvme-auth-keys, default " + HostKeyFile.DEFAULT_PATH + ")"));
        } catch (HostKeyFile.UnusableException e) {
            throw Calls.failedPrecondition(e.getMessage());
        }
    }

    /**
     * Makes I/O on the subsystem's controllers fail after {@link #LEG_FAST_IO_FAIL_SECONDS} without a
     * path ({@code on}), while each keeps reconnecting until its ctrl-loss-tmo: md then drops a lost
     * leg and goes on with the others, and the same device is back, for a re-add, once the leg's node
     * is. Off, I/O waits for a path until ctrl-loss-tmo, what the last leg in sync of a degraded mirror
     * needs: md passes that leg's errors up to the filesystem instead of dropping it. Written in sysfs
     * (kernel 5.10 and later) because nvme-cli 2.3 and 2.4 have no option for it; a kernel without the
     * attribute keeps I/O waiting, as for a single volume.
     */
    void failFast(String nqn, boolean on) {
        for (Path controller : controllersOf(nqn)) {
            Path attribute = controller.resolve("fast_io_fail_tmo");
            String shown = on ? Integer.toString(LEG_FAST_IO_FAIL_SECONDS) : "off";
            if (Files.exists(attribute) && !shown.equals(SysBlock.read(attribute))) {
                String written = on ? shown : "-1";
                try {
                    Files.writeString(attribute, written);
                } catch (IOException e) {
                    throw Calls.internal("cannot set " + attribute + " to " + written + ": " + e.getMessage());
                }
            }
        }
    }

    Command connectCommand(ExportInfo export, String hostNqn, NvmeAuth auth, Optional<HostKeyFile.Pair> keys) {
        List<String> argv = new ArrayList<>(List.of("nvme", "connect", "-t", export.transport(), "-a",
                export.address(), "-s", Integer.toString(export.port()), "-n", export.nqn(), "--hostnqn", hostNqn,
                "--reconnect-delay", Integer.toString(options.reconnectDelay()),
                "--ctrl-loss-tmo", Integer.toString(options.ctrlLossTimeout())));
        List<String> secrets = new ArrayList<>();
        if (auth.on()) {
            HostKeyFile.Pair pair = keys.orElseThrow();
            argv.addAll(List.of("--dhchap-secret", pair.hostKey().value()));
            secrets.add(pair.hostKey().value());
            if (auth == NvmeAuth.BIDIRECTIONAL) {
                argv.addAll(List.of("--dhchap-ctrl-secret", pair.ctrlKey().value()));
                secrets.add(pair.ctrlKey().value());
            }
        }
        return Command.of(argv).withSecrets(secrets.toArray(String[]::new)).serializedBy("nvme:" + export.nqn());
    }

    /** Disconnects every controller of the subsystem; nothing to do when none is connected. */
    void disconnect(String nqn) {
        if (controllersOf(nqn).isEmpty()) {
            return;
        }
        CommandResult result = runner.execute(Command.of("nvme", "disconnect", "-n", nqn).serializedBy("nvme:" + nqn));
        if (!result.succeeded() && !controllersOf(nqn).isEmpty()) {
            throw Calls.internal("nvme disconnect -n " + nqn + " failed: " + result.stderr().strip());
        }
    }

    boolean connected(String nqn) {
        return !controllersOf(nqn).isEmpty();
    }

    List<Path> controllersOf(String nqn) {
        return verifier.controllersOf(nqn);
    }
}
