package io.ferry.csi;

import io.ferry.model.ExportInfo;
import io.ferry.runtime.exec.Command;
import io.ferry.runtime.exec.CommandResult;
import io.ferry.runtime.exec.CommandRunner;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Connects this node to a volume's NVMe/TCP export with nvme-cli and finds the namespace's block
 * device by the export's serial number in sysfs ({@code <sys>/class/nvme/<ctrl>/serial}); the device
 * is the controller's namespace, or the multipath head of its subsystem when native multipath hides
 * per-controller devices. All commands go through the {@link CommandRunner}.
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
    private final Path devRoot;
    private final Options options;

    NvmeConnector(CommandRunner runner, Path sysRoot, Path devRoot, Options options) {
        this.runner = runner;
        this.sysRoot = sysRoot;
        this.devRoot = devRoot;
        this.options = options;
    }

    /** Connects unless a controller for the subsystem is already there; returns the block device. */
    Path connect(ExportInfo export, String hostNqn) throws InterruptedException {
        Optional<Path> device = deviceBySerial(export.serial());
        if (device.isPresent()) {
            return device.get();
        }
        if (controllersOf(export.nqn()).isEmpty()) {
            runner.run(connectCommand(export, hostNqn));
        }
        // The kernel creates the namespace device shortly after the controller; a short bounded wait.
        long deadline = System.nanoTime() + options.deviceTimeout().toNanos();
        while (System.nanoTime() < deadline) {
            device = deviceBySerial(export.serial());
            if (device.isPresent()) {
                return device.get();
            }
            Thread.sleep(200);
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
        List<Path> out = new ArrayList<>();
        for (Path ctrl : controllers()) {
            if (nqn.equals(read(ctrl.resolve("subsysnqn")))) {
                out.add(ctrl);
            }
        }
        return out;
    }

    Optional<Path> deviceBySerial(String serial) {
        for (Path ctrl : controllers()) {
            if (!serial.equals(read(ctrl.resolve("serial")))) {
                continue;
            }
            String name = ctrl.getFileName().toString();
            // nvme0n1 (per controller) or nvme0c1n1 (hidden path under native multipath; the head is nvme0n1)
            try (Stream<Path> children = Files.list(ctrl)) {
                for (Path child : children.sorted().toList()) {
                    String n = child.getFileName().toString();
                    if (n.matches(name + "n[0-9]+")) {
                        return Optional.of(devRoot.resolve(n));
                    }
                    if (n.matches("nvme[0-9]+c[0-9]+n[0-9]+")) {
                        return Optional.of(devRoot.resolve(n.replaceAll("c[0-9]+n", "n")));
                    }
                }
            } catch (IOException e) {
                // the controller went away while we looked; try the next one
            }
        }
        return Optional.empty();
    }

    private List<Path> controllers() {
        Path dir = sysRoot.resolve("class/nvme");
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.sorted().toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    private static String read(Path file) {
        try {
            return Files.readString(file).strip();
        } catch (IOException e) {
            return null;
        }
    }
}
