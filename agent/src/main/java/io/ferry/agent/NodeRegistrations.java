package io.ferry.agent;

import io.ferry.agent.export.Exporter;
import io.ferry.model.Condition;
import io.ferry.model.Engine;
import io.ferry.model.ExportTarget;
import io.ferry.model.NodeReason;
import io.ferry.model.NodeRegistration;

import java.time.Instant;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * What this node tells the scheduler about itself: the value of its registration key, measured
 * each time it is written (exporters and engines may come and go while the agent runs).
 */
final class NodeRegistrations {

    private final AgentOptions options;
    private final String hostNqn;
    private final String machineId;
    private final Instant startedAt;

    NodeRegistrations(AgentOptions options, String hostNqn, String machineId, Instant startedAt) {
        this.options = options;
        this.hostNqn = hostNqn;
        this.machineId = machineId;
        this.startedAt = startedAt;
    }

    /**
     * @param adminAddress host:port of the admin server, or null when it does not listen
     */
    NodeRegistration value(Exporter nvmet, Exporter spdk, boolean spdkConfigured, Set<Engine> engines,
            String adminAddress) {
        Set<ExportTarget> exporters = EnumSet.noneOf(ExportTarget.class);
        if (nvmet != null && nvmet.available()) {
            exporters.add(ExportTarget.NVMET);
        }
        if (spdk != null && spdk.available()) {
            exporters.add(ExportTarget.SPDK);
        }
        // The scheduler places a volume for another node's consumer only where it can be exported.
        return NodeRegistration.of(options.node(), options.dataAddress(), adminAddress, hostNqn, engines,
                options.labels(), options.version(), startedAt).withExporters(exporters).withMachineId(machineId)
                .withConditions(capabilities(exporters, engines, spdkConfigured, Instant.now()));
    }

    /** The admin server's address as the registration carries it, an IPv6 host in brackets. */
    static String adminAddress(String host, int port) {
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
    }

    /**
     * What the node can do, as conditions with typed reasons: whether it can export (and with which
     * target, or why not) and which engines it found. A node's capabilities are measured when its
     * registration is written, so every condition changed then.
     */
    static List<Condition> capabilities(Set<ExportTarget> exporters, Set<Engine> engines,
            boolean spdkConfigured, Instant now) {
        Condition canExport;
        if (exporters.contains(ExportTarget.NVMET)) {
            canExport = Condition.of(Condition.CAN_EXPORT, true,
                    NodeReason.NVMET_LOADED, exporters.contains(ExportTarget.SPDK)
                            ? "kernel nvmet and the SPDK target" : "kernel nvmet");
        } else if (exporters.contains(ExportTarget.SPDK)) {
            canExport = Condition.of(Condition.CAN_EXPORT, true,
                    NodeReason.SPDK_RUNNING, "the SPDK target (kernel nvmet is not loaded)");
        } else if (spdkConfigured && engines.equals(Set.of(Engine.SPDK))) {
            canExport = Condition.of(Condition.CAN_EXPORT, false,
                    NodeReason.SPDK_NOT_RUNNING, "the SPDK target does not answer; volumes of this node"
                            + " serve only consumers on it");
        } else {
            canExport = Condition.of(Condition.CAN_EXPORT, false,
                    NodeReason.NVMET_NOT_LOADED, "kernel nvmet is not loaded (modprobe nvmet nvmet-tcp)"
                            + (spdkConfigured ? " and the SPDK target does not answer" : "")
                            + "; volumes of this node serve only consumers on it");
        }
        Condition available = engines.isEmpty()
                ? Condition.of(Condition.ENGINES_AVAILABLE, false,
                        NodeReason.NO_ENGINE, "no engine's tools or socket were found")
                : Condition.of(Condition.ENGINES_AVAILABLE, true,
                        NodeReason.ENGINES_PROBED, engines.stream().map(Engine::value).sorted()
                                .collect(Collectors.joining(", ")));
        return Condition.carryTransitions(List.of(), List.of(canExport, available), now);
    }
}
