package io.ferry.model;

import java.util.List;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.time.Instant;
import java.util.Map;
import java.util.Set;

/**
 * A live agent, key {@code <prefix>/nodes/<node>/registration}, written by the agent and bound
 * to its etcd lease: the key disappears when the agent stops renewing the lease, which is how
 * the controller learns that a node is gone.
 *
 * @param dataAddress  address other nodes connect to for NVMe/TCP (IP or host name, no port)
 * @param adminAddress {@code host:port} of the agent's admin HTTP endpoint, may be null
 * @param hostNqn      the node's NVMe host NQN, allowed on exports to this node
 * @param engines      engines this agent build and host can run
 * @param labels       node labels (zone, rack, switch, ...), used for failure domains and selectors
 * @param version      Ferry version of the agent
 * @param startedAt    when the agent process started
 * @param exporters    the NVMe-oF targets this node can export with right now (empty: it can serve
 *                     only consumers on itself); null when the agent predates the field (unknown)
 * @param machineId    the machine (running kernel) the agent is on: agents with the same id share its
 *                     block devices, so a volume one serves is handed to another as its device. The
 *                     kernel's boot id unless the agent is told otherwise; null when the agent predates
 *                     the field, which is never taken for "same machine"
 * @param conditions   what the node can do, typed ({@link Condition#CAN_EXPORT},
 *                     {@link Condition#ENGINES_AVAILABLE}, reasons from {@link NodeReason}), for
 *                     readers that must say why; empty from agents that predate them
 */
public record NodeRegistration(
        int schemaVersion,
        String node,
        String dataAddress,
        String adminAddress,
        String hostNqn,
        Set<Engine> engines,
        Map<String, String> labels,
        String version,
        Instant startedAt,
        Set<ExportTarget> exporters,
        String machineId,
        @JsonInclude(JsonInclude.Include.NON_EMPTY) List<Condition> conditions) implements KeyNamed {

    public NodeRegistration {
        Schema.check(schemaVersion);
        Check.field("node", Check.required(node, "node"), Names::nodeName);
        Addresses.host(Check.required(dataAddress, "dataAddress"), "dataAddress");
        Addresses.hostPort(adminAddress, "adminAddress");
        Check.field("hostNqn", Check.required(hostNqn, "hostNqn"), Nqn::validate);
        engines = Check.sortedSet(engines, "engines", 16, (e, f) -> e);
        labels = Check.labels(labels, "labels");
        Check.token(Check.required(version, "version"), "version", 64);
        Check.required(startedAt, "startedAt");
        exporters = exporters == null ? null : Check.sortedSet(exporters, "exporters", 4, (e, f) -> e);
        checkMachineId(machineId);
        conditions = Check.list(conditions, "conditions", 16, (c, f) -> c);
    }

    /** The rule for a machine id (1..64 characters of letters, digits and {@code ._:@+=,/-}); null passes. */
    public static String checkMachineId(String machineId) {
        return Check.token(machineId, "machineId", 64);
    }

    @JsonCreator
    static NodeRegistration fromJson(
            @JsonProperty("schemaVersion") Integer schemaVersion,
            @JsonProperty("node") String node,
            @JsonProperty("dataAddress") String dataAddress,
            @JsonProperty("adminAddress") String adminAddress,
            @JsonProperty("hostNqn") String hostNqn,
            @JsonProperty("engines") Set<Engine> engines,
            @JsonProperty("labels") Map<String, String> labels,
            @JsonProperty("version") String version,
            @JsonProperty("startedAt") Instant startedAt,
            @JsonProperty("exporters") Set<ExportTarget> exporters,
            @JsonProperty("machineId") String machineId,
            @JsonProperty("conditions") List<Condition> conditions) {
        return new NodeRegistration(Schema.orDefault(schemaVersion), node, dataAddress, adminAddress, hostNqn,
                engines, labels, version, startedAt, exporters, machineId, conditions);
    }

    public static NodeRegistration of(String node, String dataAddress, String adminAddress, String hostNqn,
            Set<Engine> engines, Map<String, String> labels, String version, Instant startedAt) {
        return new NodeRegistration(Schema.CURRENT_VERSION, node, dataAddress, adminAddress, hostNqn, engines,
                labels, version, startedAt, null, null, List.of());
    }

    public NodeRegistration withExporters(Set<ExportTarget> targets) {
        return new NodeRegistration(schemaVersion, node, dataAddress, adminAddress, hostNqn, engines, labels, version,
                startedAt, targets, machineId, conditions);
    }

    public NodeRegistration withConditions(List<Condition> conditions) {
        return new NodeRegistration(schemaVersion, node, dataAddress, adminAddress, hostNqn, engines, labels, version,
                startedAt, exporters, machineId, conditions);
    }

    public NodeRegistration withMachineId(String id) {
        return new NodeRegistration(schemaVersion, node, dataAddress, adminAddress, hostNqn, engines, labels, version,
                startedAt, exporters, id, conditions);
    }

    /** Whether {@code other} runs on this node's machine: both say which, and it is the same one. */
    public boolean sameMachineAs(NodeRegistration other) {
        return other != null && machineId != null && machineId.equals(other.machineId());
    }

    /** Whether this node can export volumes of {@code engine} to other nodes; true when it does not say (older agent). */
    public boolean canExport(Engine engine) {
        return exporters == null || exporters.contains(ExportTarget.forEngine(engine));
    }

    @Override
    public List<String> keyNames() {
        return List.of(node);
    }
}
