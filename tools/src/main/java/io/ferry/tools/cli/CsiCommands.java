package io.ferry.tools.cli;

import io.ferry.csi.CsiEndpoint;
import io.ferry.csi.CsiMain;
import io.ferry.csi.v1.CapacityRange;
import io.ferry.csi.v1.ControllerExpandVolumeRequest;
import io.ferry.csi.v1.ControllerExpandVolumeResponse;
import io.ferry.csi.v1.ControllerGetCapabilitiesRequest;
import io.ferry.csi.v1.ControllerPublishVolumeRequest;
import io.ferry.csi.v1.ControllerPublishVolumeResponse;
import io.ferry.csi.v1.ControllerServiceCapability;
import io.ferry.csi.v1.ControllerUnpublishVolumeRequest;
import io.ferry.csi.v1.GetPluginCapabilitiesRequest;
import io.ferry.csi.v1.GetPluginInfoRequest;
import io.ferry.csi.v1.GetPluginInfoResponse;
import io.ferry.csi.v1.NodeGetCapabilitiesRequest;
import io.ferry.csi.v1.NodeServiceCapability;
import io.ferry.csi.v1.PluginCapability;
import io.ferry.csi.v1.ProbeRequest;
import io.ferry.csi.v1.ProbeResponse;
import io.ferry.model.Sizes;
import io.ferry.model.ValidationException;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.ferry.tools.cli.CsiVolumeOptions.RequiredBytes;
import io.ferry.tools.cli.CsiVolumeOptions.VolumeId;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code ferryctl csi ...}: calls a CSI plugin's gRPC endpoint directly, the way the sidecars and
 * the kubelet do, without etcd. The QEMU testbed drives the node plugin inside a guest this way
 * over TCP, because starting a client JVM inside a guest under emulation costs seconds per call.
 */
@Command(name = "csi", description = "Call a CSI plugin directly over its endpoint (unix:// or tcp://), like csc.",
        mixinStandardHelpOptions = true, scope = ScopeType.INHERIT,
        subcommands = {CsiCommands.Probe.class, CsiNodeCommands.NodeInfo.class, CsiNodeCommands.NodeStage.class,
                CsiNodeCommands.NodeUnstage.class, CsiNodeCommands.NodePublish.class, CsiNodeCommands.NodeUnpublish.class,
                CsiNodeCommands.NodeStats.class, CsiNodeCommands.NodeExpand.class, CsiCommands.ControllerPublish.class,
                CsiCommands.ControllerUnpublish.class, CsiCommands.ControllerExpand.class})
final class CsiCommands {

    static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(120);

    @Option(names = {"-e", "--endpoint"}, scope = ScopeType.INHERIT, paramLabel = "URL",
            description = "the plugin: unix:///path/csi.sock or tcp://host:port (default: $FERRY_CSI_ENDPOINT or "
                    + CsiMain.DEFAULT_ENDPOINT + ")")
    String endpoint;

    @Option(names = "--timeout", scope = ScopeType.INHERIT, paramLabel = "DURATION",
            description = "deadline of each call: 90s, 2m, 500ms, or plain seconds (default: 120s)")
    String timeout;

    // ---- shared plumbing ----

    /** One CSI command: connects, runs its calls, and always closes the connection. */
    abstract static class CsiCall extends Base {

        @Override
        public final Integer call() {
            CsiCommands group = (CsiCommands) spec.parent().userObject();
            CsiEndpoint target = endpoint(group.endpoint != null ? group.endpoint
                    : root().environment().getOrDefault("FERRY_CSI_ENDPOINT", CsiMain.DEFAULT_ENDPOINT));
            Duration deadline = group.timeout != null ? duration(group.timeout) : DEFAULT_TIMEOUT;
            try (CsiConnection connection = new CsiConnection(target, deadline)) {
                return run(connection);
            }
        }

        abstract int run(CsiConnection c);
    }

    static CsiEndpoint endpoint(String text) {
        try {
            return CsiEndpoint.parse(text);
        } catch (IllegalArgumentException e) {
            throw new CliException(ExitCodes.USAGE, "--endpoint: " + e.getMessage());
        }
    }

    private static final Pattern DURATION = Pattern.compile("([0-9]+)(ms|s|m|h)?");

    static Duration duration(String text) {
        Matcher m = DURATION.matcher(text.strip().toLowerCase(Locale.ROOT));
        if (!m.matches() || m.group(1).length() > 9) {
            throw new CliException(ExitCodes.USAGE, "--timeout " + text + " is not a duration; use e.g. 90s, 2m, 500ms or 120");
        }
        long n = Long.parseLong(m.group(1));
        String unit = m.group(2) == null ? "s" : m.group(2);
        Duration d = switch (unit) {
            case "ms" -> Duration.ofMillis(n);
            case "m" -> Duration.ofMinutes(n);
            case "h" -> Duration.ofHours(n);
            default -> Duration.ofSeconds(n);
        };
        if (d.isZero()) {
            throw new CliException(ExitCodes.USAGE, "--timeout must be more than zero");
        }
        return d;
    }

    /** The CSI error codes (see docs/csi.md) on ferryctl's exit codes. */
    static int exitCode(Status.Code code) {
        return switch (code) {
            case INVALID_ARGUMENT, OUT_OF_RANGE -> ExitCodes.USAGE;
            case NOT_FOUND -> ExitCodes.NOT_FOUND;
            case ALREADY_EXISTS, FAILED_PRECONDITION -> ExitCodes.CONFLICT;
            case DEADLINE_EXCEEDED -> ExitCodes.TIMEOUT;
            case UNAVAILABLE -> ExitCodes.ETCD_UNAVAILABLE;
            case RESOURCE_EXHAUSTED -> ExitCodes.REFUSED;
            default -> ExitCodes.FAILED;
        };
    }

    static long bytes(String option, String text) {
        try {
            return Sizes.parse(text);
        } catch (ValidationException e) {
            throw new CliException(ExitCodes.USAGE, option + ": " + e.getMessage());
        }
    }

    /** key: value lines, aligned, for the commands that describe one thing. */
    static void fields(Output out, Map<String, String> fields) {
        int width = fields.keySet().stream().mapToInt(String::length).max().orElse(0) + 2;
        fields.forEach((k, v) -> out.line(k + ":" + " ".repeat(width - k.length() - 1) + v));
    }

    // ---- identity ----

    @Command(name = "probe", description = "GetPluginInfo, GetPluginCapabilities, Probe, and the controller and node "
            + "capabilities the plugin serves. Exit 1 when the plugin answers but is not ready.")
    static final class Probe extends CsiCall {
        @Override
        int run(CsiConnection c) {
            GetPluginInfoResponse info = c.call("GetPluginInfo", () -> c.identity().getPluginInfo(GetPluginInfoRequest.getDefaultInstance()));
            List<String> plugin = new ArrayList<>();
            boolean controllerService = false;
            for (PluginCapability cap : c.call("GetPluginCapabilities",
                    () -> c.identity().getPluginCapabilities(GetPluginCapabilitiesRequest.getDefaultInstance())).getCapabilitiesList()) {
                if (cap.hasService()) {
                    plugin.add(cap.getService().getType().name());
                    controllerService |= cap.getService().getType() == PluginCapability.Service.Type.CONTROLLER_SERVICE;
                } else if (cap.hasVolumeExpansion()) {
                    plugin.add("VOLUME_EXPANSION_" + cap.getVolumeExpansion().getType().name());
                }
            }
            ProbeResponse probe = c.call("Probe", () -> c.identity().probe(ProbeRequest.getDefaultInstance()));
            // An unset ready field means ready (CSI spec).
            boolean ready = !probe.hasReady() || probe.getReady().getValue();
            List<String> controller = null;
            if (controllerService) {
                controller = new ArrayList<>();
                for (ControllerServiceCapability cap : c.call("ControllerGetCapabilities",
                        () -> c.controller().controllerGetCapabilities(ControllerGetCapabilitiesRequest.getDefaultInstance()))
                        .getCapabilitiesList()) {
                    controller.add(cap.getRpc().getType().name());
                }
            }
            List<String> node = null;
            try {
                node = new ArrayList<>();
                for (NodeServiceCapability cap : c.node().nodeGetCapabilities(NodeGetCapabilitiesRequest.getDefaultInstance())
                        .getCapabilitiesList()) {
                    node.add(cap.getRpc().getType().name());
                }
            } catch (StatusRuntimeException e) {
                // A controller-only plugin has no node service; that is an answer, not a failure.
                if (e.getStatus().getCode() != Status.Code.UNIMPLEMENTED) {
                    throw c.failure("NodeGetCapabilities", e.getStatus());
                }
                node = null;
            }
            if (out().format() == Output.Format.table) {
                Map<String, String> f = new LinkedHashMap<>();
                f.put("plugin", info.getName() + " " + info.getVendorVersion());
                f.put("endpoint", c.endpoint().url());
                f.put("ready", ready ? "yes" : "no");
                f.put("plugin capabilities", plugin.isEmpty() ? "-" : String.join(", ", plugin));
                f.put("controller", controller == null ? "not served" : String.join(", ", controller));
                f.put("node", node == null ? "not served" : String.join(", ", node));
                if (!info.getManifestMap().isEmpty()) {
                    f.put("manifest", new TreeMap<>(info.getManifestMap()).toString());
                }
                fields(out(), f);
            } else {
                Map<String, Object> result = new LinkedHashMap<>();
                result.put("name", info.getName());
                result.put("vendorVersion", info.getVendorVersion());
                result.put("manifest", new TreeMap<>(info.getManifestMap()));
                result.put("endpoint", c.endpoint().url());
                result.put("ready", ready);
                result.put("pluginCapabilities", plugin);
                result.put("controllerCapabilities", controller);
                result.put("nodeCapabilities", node);
                out().structured(result);
            }
            if (!ready) {
                throw new CliException(ExitCodes.FAILED, "the plugin at " + c.endpoint().url()
                        + " answers but is not ready (etcd unreachable, or its caches are still loading)");
            }
            return ExitCodes.OK;
        }
    }

    // ---- controller ----

    @Command(name = "controller-publish", description = "ControllerPublishVolume: allow a node to attach the volume; "
            + "prints the publish context as KEY=VALUE lines, one per line, for node-stage --publish-context.")
    static final class ControllerPublish extends CsiCall {
        @Mixin
        VolumeId volume;
        @Option(names = "--node-id", required = true)
        String nodeId;
        @Option(names = "--readonly")
        boolean readOnly;
        @Mixin
        CsiCapabilityOptions capability;
        @Option(names = "--volume-context", paramLabel = "KEY=VALUE", description = "from CreateVolume (repeatable)")
        Map<String, String> volumeContext = new LinkedHashMap<>();

        @Override
        int run(CsiConnection c) {
            ControllerPublishVolumeRequest request = ControllerPublishVolumeRequest.newBuilder().setVolumeId(volume.id)
                    .setNodeId(nodeId).setReadonly(readOnly).setVolumeCapability(capability.capability())
                    .putAllVolumeContext(volumeContext).build();
            ControllerPublishVolumeResponse response = c.call("ControllerPublishVolume",
                    () -> c.controller().controllerPublishVolume(request));
            Map<String, String> context = new TreeMap<>(response.getPublishContextMap());
            if (out().format() == Output.Format.table) {
                context.forEach((k, v) -> out().line(k + "=" + v));
            } else {
                Map<String, Object> result = new LinkedHashMap<>();
                result.put("volumeId", volume.id);
                result.put("nodeId", nodeId);
                result.put("publishContext", context);
                out().structured(result);
            }
            return ExitCodes.OK;
        }
    }

    @Command(name = "controller-unpublish", description = "ControllerUnpublishVolume: withdraw the node's access "
            + "(every node's without --node-id). Idempotent.")
    static final class ControllerUnpublish extends CsiCall {
        @Mixin
        VolumeId volume;
        @Option(names = "--node-id")
        String nodeId;

        @Override
        int run(CsiConnection c) {
            ControllerUnpublishVolumeRequest.Builder request = ControllerUnpublishVolumeRequest.newBuilder().setVolumeId(volume.id);
            if (nodeId != null) {
                request.setNodeId(nodeId);
            }
            c.call("ControllerUnpublishVolume", () -> c.controller().controllerUnpublishVolume(request.build()));
            out().line("volume " + volume.id + " unpublished from " + (nodeId != null ? nodeId : "every node"));
            return ExitCodes.OK;
        }
    }

    @Command(name = "controller-expand", description = "ControllerExpandVolume: grow the volume (rounded up to 4Mi); "
            + "says whether node-expand must follow.")
    static final class ControllerExpand extends CsiCall {
        @Mixin
        VolumeId volume;
        @Mixin
        RequiredBytes required;

        @Override
        int run(CsiConnection c) {
            ControllerExpandVolumeRequest request = ControllerExpandVolumeRequest.newBuilder().setVolumeId(volume.id)
                    .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(required.bytes()))
                    .build();
            ControllerExpandVolumeResponse response = c.call("ControllerExpandVolume",
                    () -> c.controller().controllerExpandVolume(request));
            if (out().format() == Output.Format.table) {
                out().line("volume " + volume.id + " is " + size(response.getCapacityBytes()) + " (" + response.getCapacityBytes()
                        + " bytes); node-expand needed: " + (response.getNodeExpansionRequired() ? "yes" : "no"));
            } else {
                Map<String, Object> result = new LinkedHashMap<>();
                result.put("volumeId", volume.id);
                result.put("capacityBytes", response.getCapacityBytes());
                result.put("nodeExpansionRequired", response.getNodeExpansionRequired());
                out().structured(result);
            }
            return ExitCodes.OK;
        }
    }
}
