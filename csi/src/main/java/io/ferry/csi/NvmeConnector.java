package io.ferry.csi;

import io.ferry.model.ExportInfo;
import io.ferry.runtime.exec.Command;
import io.ferry.runtime.exec.CommandResult;
import io.ferry.runtime.exec.CommandRunner;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * Connects this node to a volume's NVMe/TCP export with nvme-cli and finds the namespace's block
 * device through {@link DeviceVerifier#nvmeNamespace}: under a controller of the export's subsystem
 * whose serial is the export's ({@code <sys>/class/nvme/<ctrl>/subsysnqn} and {@code serial}); the
 * device is the controller's namespace, or the multipath head of its subsystem when native
 * multipath hides per-controller devices. All commands go through the {@link CommandRunner}.
 */
final class NvmeConnector {

    /**
     * @param reconnectDelay    seconds between reconnect attempts after the path drops
     * @param ctrlLossTimeout   seconds before a dropped controller is given up (-1: never)
     */
    record Options(int reconnectDelay, int ctrlLossTimeout, Duration deviceTimeout) {
        static Options defaults() {
            return new Options(2, 600, Duration.ofSeconds(20));
        }
    }

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
    Path connect(ExportInfo export, String hostNqn) throws InterruptedException {
        Optional<Path> device = verifier.nvmeNamespace(export);
        if (device.isPresent()) {
            return device.get();
        }
        if (controllersOf(export.nqn()).isEmpty()) {
            runner.run(connectCommand(export, hostNqn));
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

    Command connectCommand(ExportInfo export, String hostNqn) {
        return Command.of("nvme", "connect", "-t", export.transport(), "-a", export.address(),
                        "-s", Integer.toString(export.port()), "-n", export.nqn(), "--hostnqn", hostNqn,
                        "--reconnect-delay", Integer.toString(options.reconnectDelay()),
                        "--ctrl-loss-tmo", Integer.toString(options.ctrlLossTimeout()))
                .serializedBy("nvme:" + export.nqn());
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
