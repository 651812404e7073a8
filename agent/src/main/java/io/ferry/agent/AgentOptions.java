package io.ferry.agent;

import io.ferry.agent.engine.LoopDevices;
import io.ferry.model.Names;

import io.ferry.model.NodeRegistration;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;

/**
 * How one agent runs.
 *
 * @param node           this node's name (the {@code <node>} of its keys)
 * @param dataAddress    address other nodes use to reach this node's NVMe/TCP exports
 * @param adminHost      admin HTTP bind address
 * @param adminPort      admin HTTP port; 0 picks a free one, -1 disables the admin server
 * @param labels         node labels for the registration (zone, rack, switch, ...)
 * @param stateDir       where the agent keeps the host NQN it generated
 * @param hostNqnFile    the host's own NQN file, preferred when present ({@code /etc/nvme/hostnqn})
 * @param cluster        value of the {@code ferry.cluster} tag on LVM volumes
 * @param nvmetRoot      configfs root of the kernel NVMe target
 * @param nvmetPortId    configfs port id used for all of this node's exports
 * @param spdkSocket     SPDK JSON-RPC socket, or null when SPDK is not used
 * @param leaseTtl       TTL of the registration lease
 * @param poolInterval   how often pool status is re-measured
 * @param orphanInterval how often the node is inventoried for orphans
 * @param concurrency    volume reconciles running at once
 * @param loopDevices    how the file engine attaches loop devices
 * @param version        agent version written into the registration
 * @param machineId      the machine the registration names; null: the kernel's boot id (see {@link MachineId})
 * @param nvmeSysfsRoot  where the host's NVMe controllers are ({@code /sys/class/nvme}): a key rotation
 *                       gives the live ones the new pair there
 */
public record AgentOptions(
        String node,
        String dataAddress,
        String adminHost,
        int adminPort,
        Map<String, String> labels,
        Path stateDir,
        Path hostNqnFile,
        String cluster,
        Path nvmetRoot,
        int nvmetPortId,
        Path spdkSocket,
        Duration leaseTtl,
        Duration poolInterval,
        Duration orphanInterval,
        int concurrency,
        LoopDevices.Mechanism loopDevices,
        String version,
        String machineId,
        Path nvmeSysfsRoot) {


    public static final String VERSION = "0.1.0";

    public AgentOptions {
        Names.nodeName(Objects.requireNonNull(node, "node"));
        Objects.requireNonNull(dataAddress, "dataAddress");
        labels = Map.copyOf(labels == null ? Map.of() : labels);
        Objects.requireNonNull(stateDir, "stateDir");
        Objects.requireNonNull(loopDevices, "loopDevices");
        if (machineId != null) {
            NodeRegistration.checkMachineId(machineId);
        }
        if (concurrency < 1) {
            throw new IllegalArgumentException("concurrency must be at least 1");
        }
    }

    /** Defaults for everything but the node's identity; tests and {@code ferry up} adjust from here. */
    public static AgentOptions defaults(String node, String dataAddress, Path stateDir) {
        return new AgentOptions(node, dataAddress, "127.0.0.1", 0, Map.of(), stateDir, Path.of("/etc/nvme/hostnqn"),
                "ferry", Path.of("/sys/kernel/config/nvmet"), 1, null, Duration.ofSeconds(10),
                Duration.ofSeconds(30), Duration.ofSeconds(60), 32, LoopDevices.Mechanism.AUTO, VERSION, null,
                LiveControllerKeys.DEFAULT_ROOT);
    }

    public AgentOptions withAdmin(String host, int port) {
        return new AgentOptions(node, dataAddress, host, port, labels, stateDir, hostNqnFile, cluster, nvmetRoot,
                nvmetPortId, spdkSocket, leaseTtl, poolInterval, orphanInterval, concurrency, loopDevices, version, machineId, nvmeSysfsRoot);
    }

    public AgentOptions withLabels(Map<String, String> value) {
        return new AgentOptions(node, dataAddress, adminHost, adminPort, value, stateDir, hostNqnFile, cluster,
                nvmetRoot, nvmetPortId, spdkSocket, leaseTtl, poolInterval, orphanInterval, concurrency, loopDevices, version, machineId, nvmeSysfsRoot);
    }

    public AgentOptions withHostNqnFile(Path value) {
        return new AgentOptions(node, dataAddress, adminHost, adminPort, labels, stateDir, value, cluster,
                nvmetRoot, nvmetPortId, spdkSocket, leaseTtl, poolInterval, orphanInterval, concurrency, loopDevices, version, machineId, nvmeSysfsRoot);
    }

    public AgentOptions withNvmetRoot(Path value) {
        return new AgentOptions(node, dataAddress, adminHost, adminPort, labels, stateDir, hostNqnFile, cluster,
                value, nvmetPortId, spdkSocket, leaseTtl, poolInterval, orphanInterval, concurrency, loopDevices, version, machineId, nvmeSysfsRoot);
    }

    public AgentOptions withCluster(String value) {
        return new AgentOptions(node, dataAddress, adminHost, adminPort, labels, stateDir, hostNqnFile, value,
                nvmetRoot, nvmetPortId, spdkSocket, leaseTtl, poolInterval, orphanInterval, concurrency, loopDevices, version, machineId, nvmeSysfsRoot);
    }

    public AgentOptions withSpdkSocket(Path value) {
        return new AgentOptions(node, dataAddress, adminHost, adminPort, labels, stateDir, hostNqnFile, cluster,
                nvmetRoot, nvmetPortId, value, leaseTtl, poolInterval, orphanInterval, concurrency, loopDevices, version, machineId, nvmeSysfsRoot);
    }

    public AgentOptions withIntervals(Duration pools, Duration orphans) {
        return new AgentOptions(node, dataAddress, adminHost, adminPort, labels, stateDir, hostNqnFile, cluster,
                nvmetRoot, nvmetPortId, spdkSocket, leaseTtl, pools, orphans, concurrency, loopDevices, version, machineId, nvmeSysfsRoot);
    }

    public AgentOptions withConcurrency(int value) {
        return new AgentOptions(node, dataAddress, adminHost, adminPort, labels, stateDir, hostNqnFile, cluster,
                nvmetRoot, nvmetPortId, spdkSocket, leaseTtl, poolInterval, orphanInterval, value, loopDevices, version, machineId, nvmeSysfsRoot);
    }

    public AgentOptions withLoopDevices(LoopDevices.Mechanism value) {
        return new AgentOptions(node, dataAddress, adminHost, adminPort, labels, stateDir, hostNqnFile, cluster,
                nvmetRoot, nvmetPortId, spdkSocket, leaseTtl, poolInterval, orphanInterval, concurrency, value, version, machineId, nvmeSysfsRoot);
    }

    public AgentOptions withLeaseTtl(Duration value) {
        return new AgentOptions(node, dataAddress, adminHost, adminPort, labels, stateDir, hostNqnFile, cluster,
                nvmetRoot, nvmetPortId, spdkSocket, value, poolInterval, orphanInterval, concurrency, loopDevices, version, machineId, nvmeSysfsRoot);
    }

    public AgentOptions withMachineId(String value) {
        return new AgentOptions(node, dataAddress, adminHost, adminPort, labels, stateDir, hostNqnFile, cluster,
                nvmetRoot, nvmetPortId, spdkSocket, leaseTtl, poolInterval, orphanInterval, concurrency, loopDevices, version,
                value, nvmeSysfsRoot);
    }

    public AgentOptions withNvmeSysfsRoot(Path value) {
        return new AgentOptions(node, dataAddress, adminHost, adminPort, labels, stateDir, hostNqnFile, cluster,
                nvmetRoot, nvmetPortId, spdkSocket, leaseTtl, poolInterval, orphanInterval, concurrency, loopDevices, version,
                machineId, value);
    }
}
