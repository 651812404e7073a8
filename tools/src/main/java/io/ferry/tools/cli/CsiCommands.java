package io.ferry.tools.cli;

import io.ferry.csi.CsiEndpoint;
import io.ferry.csi.CsiMain;
import io.ferry.csi.v1.CapacityRange;
import io.ferry.csi.v1.ControllerExpandVolumeRequest;
import io.ferry.csi.v1.ControllerExpandVolumeResponse;
import io.ferry.csi.v1.ControllerGetCapabilitiesRequest;
import io.ferry.csi.v1.ControllerGrpc;
import io.ferry.csi.v1.ControllerPublishVolumeRequest;
import io.ferry.csi.v1.ControllerPublishVolumeResponse;
import io.ferry.csi.v1.ControllerServiceCapability;
import io.ferry.csi.v1.ControllerUnpublishVolumeRequest;
import io.ferry.csi.v1.GetPluginCapabilitiesRequest;
import io.ferry.csi.v1.GetPluginInfoRequest;
import io.ferry.csi.v1.GetPluginInfoResponse;
import io.ferry.csi.v1.IdentityGrpc;
import io.ferry.csi.v1.NodeExpandVolumeRequest;
import io.ferry.csi.v1.NodeGetCapabilitiesRequest;
import io.ferry.csi.v1.NodeGetInfoRequest;
import io.ferry.csi.v1.NodeGetInfoResponse;
import io.ferry.csi.v1.NodeGetVolumeStatsRequest;
import io.ferry.csi.v1.NodeGetVolumeStatsResponse;
import io.ferry.csi.v1.NodeGrpc;
import io.ferry.csi.v1.NodePublishVolumeRequest;
import io.ferry.csi.v1.NodeServiceCapability;
import io.ferry.csi.v1.NodeStageVolumeRequest;
import io.ferry.csi.v1.NodeUnpublishVolumeRequest;
import io.ferry.csi.v1.NodeUnstageVolumeRequest;
import io.ferry.csi.v1.PluginCapability;
import io.ferry.csi.v1.ProbeRequest;
import io.ferry.csi.v1.ProbeResponse;
import io.ferry.csi.v1.VolumeCapability;
import io.ferry.csi.v1.VolumeUsage;
import io.ferry.model.Sizes;
import io.ferry.model.ValidationException;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import java.io.FileNotFoundException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;

/**
 * {@code ferryctl csi ...}: calls a CSI plugin's gRPC endpoint directly, the way the sidecars and
 * the kubelet do, without etcd. The QEMU testbed drives the node plugin inside a guest this way
 * over TCP, because starting a client JVM inside a guest under emulation costs seconds per call.
 */
@Command(name = "csi", description = "Call a CSI plugin directly over its endpoint (unix:// or tcp://), like csc.",
        mixinStandardHelpOptions = true, scope = ScopeType.INHERIT,
        subcommands = {CsiCommands.Probe.class, CsiCommands.NodeInfo.class, CsiCommands.NodeStage.class,
                CsiCommands.NodeUnstage.class, CsiCommands.NodePublish.class, CsiCommands.NodeUnpublish.class,
                CsiCommands.NodeStats.class, CsiCommands.NodeExpand.class, CsiCommands.ControllerPublish.class,
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
            try (Connection connection = new Connection(target, deadline)) {
                return run(connection);
            }
        }

        abstract int run(Connection c);
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

    /** A channel to one plugin; each stub it hands out carries a fresh deadline of {@code timeout}. */
    static final class Connection implements AutoCloseable {
        private final CsiEndpoint endpoint;
        private final Duration timeout;
        private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        private final ManagedChannel channel;

        Connection(CsiEndpoint endpoint, Duration timeout) {
            this.endpoint = endpoint;
            this.timeout = timeout;
            this.channel = endpoint.channelBuilder(group).build();
        }

        IdentityGrpc.IdentityBlockingStub identity() {
            return IdentityGrpc.newBlockingStub(channel).withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS);
        }

        NodeGrpc.NodeBlockingStub node() {
            return NodeGrpc.newBlockingStub(channel).withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS);
        }

        ControllerGrpc.ControllerBlockingStub controller() {
            return ControllerGrpc.newBlockingStub(channel).withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS);
        }

        /** Runs one RPC; a gRPC failure becomes a one-line error with its status code and ferryctl's exit code. */
        <T> T call(String method, Supplier<T> rpc) {
            try {
                return rpc.get();
            } catch (StatusRuntimeException e) {
                throw failure(method, e.getStatus());
            }
        }

        CliException failure(String method, Status status) {
            String description = status.getDescription() != null ? status.getDescription()
                    : status.getCause() != null ? String.valueOf(status.getCause().getMessage()) : "no details";
            String code = status.getCode().name();
            return switch (status.getCode()) {
                case UNAVAILABLE -> new CliException(ExitCodes.ETCD_UNAVAILABLE, "cannot reach the CSI plugin at "
                        + endpoint.url() + " (" + code + ": " + description
                        + socketError(status.getCause())
                        + "); is it running, and are --endpoint / FERRY_CSI_ENDPOINT right?");
                case DEADLINE_EXCEEDED -> new CliException(ExitCodes.TIMEOUT, method + " did not finish within "
                        + human(timeout) + " (" + code + ": " + description + "); calling again continues where it stopped,"
                        + " or raise --timeout");
                case UNIMPLEMENTED -> new CliException(ExitCodes.FAILED, method + ": the plugin at " + endpoint.url()
                        + " does not serve it (" + code + "); a plugin started with --mode node has no controller"
                        + " service, one with --mode controller no node service");
                default -> new CliException(exitCode(status.getCode()), method + " failed: " + code + ": " + description);
            };
        }

        @Override
        public void close() {
            channel.shutdownNow();
            try {
                channel.awaitTermination(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    /** What the operating system said about the connection ("Connection refused"), buried in the cause chain. */
    private static String socketError(Throwable cause) {
        String message = null;
        for (Throwable t = cause; t != null && t.getCause() != t; t = t.getCause()) {
            if (t.getMessage() != null) {
                message = t.getMessage();
            } else if (message == null) {
                // netty reports a missing Unix socket file as a FileNotFoundException without a message.
                message = t instanceof FileNotFoundException ? "the socket file does not exist" : t.getClass().getSimpleName();
            }
        }
        return message == null ? "" : ": " + message;
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

    private static String human(Duration d) {
        return d.toMillis() % 1000 != 0 ? d.toMillis() + "ms" : d.toSeconds() + "s";
    }

    /** The block-or-mount part of a volume capability, shared by the commands that send one. */
    static final class CapabilityOptions {
        @Option(names = "--block", description = "a raw block volume (default: a filesystem)")
        boolean block;
        @Option(names = "--fs-type", description = "ext4 or xfs (default: the volume's, else ext4)")
        String fsType;
        @Option(names = "--mount-flag", paramLabel = "FLAG", description = "mount option, e.g. noatime (repeatable)")
        List<String> mountFlags = new ArrayList<>();
        @Option(names = "--access-mode", paramLabel = "MODE",
                description = "single-node-writer (default), single-node-reader-only, single-node-single-writer, "
                        + "single-node-multi-writer, ...")
        String accessMode;

        VolumeCapability capability() {
            if (block && (fsType != null || !mountFlags.isEmpty())) {
                throw new CliException(ExitCodes.USAGE, "--block cannot go with --fs-type or --mount-flag");
            }
            VolumeCapability.Builder cap = VolumeCapability.newBuilder()
                    .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(mode()));
            if (block) {
                cap.setBlock(VolumeCapability.BlockVolume.getDefaultInstance());
            } else {
                VolumeCapability.MountVolume.Builder mount = VolumeCapability.MountVolume.newBuilder().addAllMountFlags(mountFlags);
                if (fsType != null) {
                    mount.setFsType(fsType);
                }
                cap.setMount(mount);
            }
            return cap.build();
        }

        private VolumeCapability.AccessMode.Mode mode() {
            if (accessMode == null) {
                return VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER;
            }
            String name = accessMode.strip().toUpperCase(Locale.ROOT).replace('-', '_');
            for (VolumeCapability.AccessMode.Mode m : VolumeCapability.AccessMode.Mode.values()) {
                if (m != VolumeCapability.AccessMode.Mode.UNRECOGNIZED && m != VolumeCapability.AccessMode.Mode.UNKNOWN
                        && m.name().equals(name)) {
                    return m;
                }
            }
            List<String> known = new ArrayList<>();
            for (VolumeCapability.AccessMode.Mode m : VolumeCapability.AccessMode.Mode.values()) {
                if (m != VolumeCapability.AccessMode.Mode.UNRECOGNIZED && m != VolumeCapability.AccessMode.Mode.UNKNOWN) {
                    known.add(m.name().toLowerCase(Locale.ROOT).replace('_', '-'));
                }
            }
            throw new CliException(ExitCodes.USAGE, "--access-mode " + accessMode + " is not one of " + String.join(", ", known));
        }
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
        int run(Connection c) {
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
                f.put("endpoint", c.endpoint.url());
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
                result.put("endpoint", c.endpoint.url());
                result.put("ready", ready);
                result.put("pluginCapabilities", plugin);
                result.put("controllerCapabilities", controller);
                result.put("nodeCapabilities", node);
                out().structured(result);
            }
            if (!ready) {
                throw new CliException(ExitCodes.FAILED, "the plugin at " + c.endpoint.url()
                        + " answers but is not ready (etcd unreachable, or its caches are still loading)");
            }
            return ExitCodes.OK;
        }
    }

    // ---- node ----

    @Command(name = "node-info", description = "NodeGetInfo: the node id, volume limit and topology the plugin reports.")
    static final class NodeInfo extends CsiCall {
        @Override
        int run(Connection c) {
            NodeGetInfoResponse info = c.call("NodeGetInfo", () -> c.node().nodeGetInfo(NodeGetInfoRequest.getDefaultInstance()));
            Map<String, String> topology = new TreeMap<>(info.getAccessibleTopology().getSegmentsMap());
            if (out().format() == Output.Format.table) {
                Map<String, String> f = new LinkedHashMap<>();
                f.put("node id", info.getNodeId());
                f.put("max volumes", info.getMaxVolumesPerNode() == 0 ? "not announced" : Long.toString(info.getMaxVolumesPerNode()));
                f.put("topology", topology.isEmpty() ? "-" : String.join(", ",
                        topology.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).toList()));
                fields(out(), f);
            } else {
                Map<String, Object> result = new LinkedHashMap<>();
                result.put("nodeId", info.getNodeId());
                result.put("maxVolumesPerNode", info.getMaxVolumesPerNode());
                result.put("topology", topology);
                out().structured(result);
            }
            return ExitCodes.OK;
        }
    }

    @Command(name = "node-stage", description = "NodeStageVolume: attach the volume to the plugin's node (NVMe/TCP "
            + "when it lives elsewhere), format it if blank, mount it at the staging path. Idempotent.")
    static final class NodeStage extends CsiCall {
        @Option(names = "--volume-id", required = true)
        String volumeId;
        @Option(names = "--staging-path", required = true, description = "absolute path on the plugin's node")
        String stagingPath;
        @CommandLine.Mixin
        CapabilityOptions capability;
        @Option(names = "--publish-context", paramLabel = "KEY=VALUE",
                description = "from controller-publish (repeatable)")
        Map<String, String> publishContext = new LinkedHashMap<>();
        @Option(names = "--volume-context", paramLabel = "KEY=VALUE", description = "from CreateVolume (repeatable)")
        Map<String, String> volumeContext = new LinkedHashMap<>();

        @Override
        int run(Connection c) {
            NodeStageVolumeRequest request = NodeStageVolumeRequest.newBuilder().setVolumeId(volumeId)
                    .setStagingTargetPath(stagingPath).setVolumeCapability(capability.capability())
                    .putAllPublishContext(publishContext).putAllVolumeContext(volumeContext).build();
            c.call("NodeStageVolume", () -> c.node().nodeStageVolume(request));
            out().line("volume " + volumeId + " staged at " + stagingPath);
            return ExitCodes.OK;
        }
    }

    @Command(name = "node-unstage", description = "NodeUnstageVolume: unmount the staging path and disconnect. Idempotent.")
    static final class NodeUnstage extends CsiCall {
        @Option(names = "--volume-id", required = true)
        String volumeId;
        @Option(names = "--staging-path", required = true)
        String stagingPath;

        @Override
        int run(Connection c) {
            c.call("NodeUnstageVolume", () -> c.node().nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder()
                    .setVolumeId(volumeId).setStagingTargetPath(stagingPath).build()));
            out().line("volume " + volumeId + " unstaged from " + stagingPath);
            return ExitCodes.OK;
        }
    }

    @Command(name = "node-publish", description = "NodePublishVolume: bind-mount the staged volume (or, with --block, "
            + "the device) at the target path. Idempotent.")
    static final class NodePublish extends CsiCall {
        @Option(names = "--volume-id", required = true)
        String volumeId;
        @Option(names = "--staging-path", required = true)
        String stagingPath;
        @Option(names = "--target-path", required = true)
        String targetPath;
        @Option(names = "--readonly", description = "publish read-only")
        boolean readOnly;
        @CommandLine.Mixin
        CapabilityOptions capability;
        @Option(names = "--publish-context", paramLabel = "KEY=VALUE", description = "from controller-publish (repeatable)")
        Map<String, String> publishContext = new LinkedHashMap<>();
        @Option(names = "--volume-context", paramLabel = "KEY=VALUE", description = "from CreateVolume (repeatable)")
        Map<String, String> volumeContext = new LinkedHashMap<>();

        @Override
        int run(Connection c) {
            NodePublishVolumeRequest request = NodePublishVolumeRequest.newBuilder().setVolumeId(volumeId)
                    .setStagingTargetPath(stagingPath).setTargetPath(targetPath).setReadonly(readOnly)
                    .setVolumeCapability(capability.capability())
                    .putAllPublishContext(publishContext).putAllVolumeContext(volumeContext).build();
            c.call("NodePublishVolume", () -> c.node().nodePublishVolume(request));
            out().line("volume " + volumeId + " published at " + targetPath + (readOnly ? " (read-only)" : ""));
            return ExitCodes.OK;
        }
    }

    @Command(name = "node-unpublish", description = "NodeUnpublishVolume: unmount and remove the target path. Idempotent.")
    static final class NodeUnpublish extends CsiCall {
        @Option(names = "--volume-id", required = true)
        String volumeId;
        @Option(names = "--target-path", required = true)
        String targetPath;

        @Override
        int run(Connection c) {
            c.call("NodeUnpublishVolume", () -> c.node().nodeUnpublishVolume(NodeUnpublishVolumeRequest.newBuilder()
                    .setVolumeId(volumeId).setTargetPath(targetPath).build()));
            out().line("volume " + volumeId + " unpublished from " + targetPath);
            return ExitCodes.OK;
        }
    }

    @Command(name = "node-stats", description = "NodeGetVolumeStats: usage (bytes, inodes) and the volume condition "
            + "(abnormal or not, and why). The call succeeding is exit 0 even when the volume is abnormal.")
    static final class NodeStats extends CsiCall {
        @Option(names = "--volume-id", required = true)
        String volumeId;
        @Option(names = "--volume-path", required = true, description = "the staging or the target path")
        String volumePath;

        @Override
        int run(Connection c) {
            NodeGetVolumeStatsResponse stats = c.call("NodeGetVolumeStats", () -> c.node().nodeGetVolumeStats(
                    NodeGetVolumeStatsRequest.newBuilder().setVolumeId(volumeId).setVolumePath(volumePath).build()));
            List<List<String>> cells = new ArrayList<>();
            List<Map<String, Object>> usage = new ArrayList<>();
            for (VolumeUsage u : stats.getUsageList()) {
                boolean bytes = u.getUnit() == VolumeUsage.Unit.BYTES;
                cells.add(List.of(u.getUnit().name().toLowerCase(Locale.ROOT), amount(u.getTotal(), bytes),
                        amount(u.getUsed(), bytes), amount(u.getAvailable(), bytes)));
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("unit", u.getUnit().name());
                row.put("total", u.getTotal());
                row.put("used", u.getUsed());
                row.put("available", u.getAvailable());
                usage.add(row);
            }
            Map<String, Object> condition = null;
            if (stats.hasVolumeCondition()) {
                condition = new LinkedHashMap<>();
                condition.put("abnormal", stats.getVolumeCondition().getAbnormal());
                condition.put("message", stats.getVolumeCondition().getMessage());
            }
            if (out().format() == Output.Format.table) {
                out().rows(List.of("UNIT", "TOTAL", "USED", "AVAILABLE"), cells, null);
                out().line("condition: " + (condition == null ? "not reported"
                        : (stats.getVolumeCondition().getAbnormal() ? "abnormal: " : "normal: ")
                        + stats.getVolumeCondition().getMessage()));
            } else {
                Map<String, Object> result = new LinkedHashMap<>();
                result.put("volumeId", volumeId);
                result.put("volumePath", volumePath);
                result.put("usage", usage);
                result.put("condition", condition);
                out().structured(result);
            }
            return ExitCodes.OK;
        }

        private static String amount(long value, boolean bytes) {
            return bytes ? size(value) : Long.toString(value);
        }
    }

    @Command(name = "node-expand", description = "NodeExpandVolume: grow the filesystem to the volume's size "
            + "(after controller-expand).")
    static final class NodeExpand extends CsiCall {
        @Option(names = "--volume-id", required = true)
        String volumeId;
        @Option(names = "--volume-path", required = true, description = "the target (or staging) path")
        String volumePath;
        @Option(names = "--staging-path")
        String stagingPath;
        @Option(names = "--required-bytes", required = true, paramLabel = "SIZE", description = "e.g. 128Mi, 2Gi, 1073741824")
        String requiredBytes;
        @Option(names = "--block", description = "the volume is a raw block volume: nothing to grow but report its size")
        boolean block;

        @Override
        int run(Connection c) {
            NodeExpandVolumeRequest.Builder request = NodeExpandVolumeRequest.newBuilder().setVolumeId(volumeId)
                    .setVolumePath(volumePath)
                    .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(bytes("--required-bytes", requiredBytes)));
            if (stagingPath != null) {
                request.setStagingTargetPath(stagingPath);
            }
            if (block) {
                request.setVolumeCapability(VolumeCapability.newBuilder().setBlock(VolumeCapability.BlockVolume.getDefaultInstance())
                        .setAccessMode(VolumeCapability.AccessMode.newBuilder()
                                .setMode(VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER)));
            }
            long capacity = c.call("NodeExpandVolume", () -> c.node().nodeExpandVolume(request.build())).getCapacityBytes();
            if (out().format() == Output.Format.table) {
                out().line("volume " + volumeId + " at " + volumePath + " is " + size(capacity) + " (" + capacity + " bytes)");
            } else {
                Map<String, Object> result = new LinkedHashMap<>();
                result.put("volumeId", volumeId);
                result.put("capacityBytes", capacity);
                out().structured(result);
            }
            return ExitCodes.OK;
        }
    }

    // ---- controller ----

    @Command(name = "controller-publish", description = "ControllerPublishVolume: allow a node to attach the volume; "
            + "prints the publish context as KEY=VALUE lines, one per line, for node-stage --publish-context.")
    static final class ControllerPublish extends CsiCall {
        @Option(names = "--volume-id", required = true)
        String volumeId;
        @Option(names = "--node-id", required = true)
        String nodeId;
        @Option(names = "--readonly")
        boolean readOnly;
        @CommandLine.Mixin
        CapabilityOptions capability;
        @Option(names = "--volume-context", paramLabel = "KEY=VALUE", description = "from CreateVolume (repeatable)")
        Map<String, String> volumeContext = new LinkedHashMap<>();

        @Override
        int run(Connection c) {
            ControllerPublishVolumeRequest request = ControllerPublishVolumeRequest.newBuilder().setVolumeId(volumeId)
                    .setNodeId(nodeId).setReadonly(readOnly).setVolumeCapability(capability.capability())
                    .putAllVolumeContext(volumeContext).build();
            ControllerPublishVolumeResponse response = c.call("ControllerPublishVolume",
                    () -> c.controller().controllerPublishVolume(request));
            Map<String, String> context = new TreeMap<>(response.getPublishContextMap());
            if (out().format() == Output.Format.table) {
                context.forEach((k, v) -> out().line(k + "=" + v));
            } else {
                Map<String, Object> result = new LinkedHashMap<>();
                result.put("volumeId", volumeId);
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
        @Option(names = "--volume-id", required = true)
        String volumeId;
        @Option(names = "--node-id")
        String nodeId;

        @Override
        int run(Connection c) {
            ControllerUnpublishVolumeRequest.Builder request = ControllerUnpublishVolumeRequest.newBuilder().setVolumeId(volumeId);
            if (nodeId != null) {
                request.setNodeId(nodeId);
            }
            c.call("ControllerUnpublishVolume", () -> c.controller().controllerUnpublishVolume(request.build()));
            out().line("volume " + volumeId + " unpublished from " + (nodeId != null ? nodeId : "every node"));
            return ExitCodes.OK;
        }
    }

    @Command(name = "controller-expand", description = "ControllerExpandVolume: grow the volume (rounded up to 4Mi); "
            + "says whether node-expand must follow.")
    static final class ControllerExpand extends CsiCall {
        @Option(names = "--volume-id", required = true)
        String volumeId;
        @Option(names = "--required-bytes", required = true, paramLabel = "SIZE", description = "e.g. 128Mi, 2Gi, 1073741824")
        String requiredBytes;

        @Override
        int run(Connection c) {
            ControllerExpandVolumeRequest request = ControllerExpandVolumeRequest.newBuilder().setVolumeId(volumeId)
                    .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(bytes("--required-bytes", requiredBytes)))
                    .build();
            ControllerExpandVolumeResponse response = c.call("ControllerExpandVolume",
                    () -> c.controller().controllerExpandVolume(request));
            if (out().format() == Output.Format.table) {
                out().line("volume " + volumeId + " is " + size(response.getCapacityBytes()) + " (" + response.getCapacityBytes()
                        + " bytes); node-expand needed: " + (response.getNodeExpansionRequired() ? "yes" : "no"));
            } else {
                Map<String, Object> result = new LinkedHashMap<>();
                result.put("volumeId", volumeId);
                result.put("capacityBytes", response.getCapacityBytes());
                result.put("nodeExpansionRequired", response.getNodeExpansionRequired());
                out().structured(result);
            }
            return ExitCodes.OK;
        }
    }
}
