package io.ferry.tools.cli;

import io.ferry.csi.v1.CapacityRange;
import io.ferry.csi.v1.NodeExpandVolumeRequest;
import io.ferry.csi.v1.NodeGetInfoRequest;
import io.ferry.csi.v1.NodeGetInfoResponse;
import io.ferry.csi.v1.NodeGetVolumeStatsRequest;
import io.ferry.csi.v1.NodeGetVolumeStatsResponse;
import io.ferry.csi.v1.NodePublishVolumeRequest;
import io.ferry.csi.v1.NodeStageVolumeRequest;
import io.ferry.csi.v1.NodeUnpublishVolumeRequest;
import io.ferry.csi.v1.NodeUnstageVolumeRequest;
import io.ferry.csi.v1.VolumeCapability;
import io.ferry.csi.v1.VolumeUsage;
import io.ferry.tools.cli.CsiVolumeOptions.RequiredBytes;
import io.ferry.tools.cli.CsiVolumeOptions.StagingPath;
import io.ferry.tools.cli.CsiVolumeOptions.TargetPath;
import io.ferry.tools.cli.CsiVolumeOptions.VolumeId;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/** The {@code ferryctl csi node-*} commands: one per call of the CSI node service. */
final class CsiNodeCommands {

    private CsiNodeCommands() {
    }

    /**
     * What node-stage and node-publish send alike: the volume's capability and the contexts a CO
     * passes on from earlier calls.
     */
    static final class CapabilityAndContexts {
        @Mixin
        CsiCapabilityOptions capability;
        @Option(names = "--publish-context", paramLabel = "KEY=VALUE", description = "from controller-publish (repeatable)")
        Map<String, String> publishContext = new LinkedHashMap<>();
        @Option(names = "--volume-context", paramLabel = "KEY=VALUE", description = "from CreateVolume (repeatable)")
        Map<String, String> volumeContext = new LinkedHashMap<>();
    }

    @Command(name = "node-info", description = "NodeGetInfo: the node id, volume limit and topology the plugin reports.")
    static final class NodeInfo extends CsiCommands.CsiCall {
        @Override
        int run(CsiConnection c) {
            NodeGetInfoResponse info = c.call("NodeGetInfo", () -> c.node().nodeGetInfo(NodeGetInfoRequest.getDefaultInstance()));
            Map<String, String> topology = new TreeMap<>(info.getAccessibleTopology().getSegmentsMap());
            if (out().format() == Output.Format.table) {
                Map<String, String> f = new LinkedHashMap<>();
                f.put("node id", info.getNodeId());
                f.put("max volumes", info.getMaxVolumesPerNode() == 0 ? "not announced" : Long.toString(info.getMaxVolumesPerNode()));
                f.put("topology", topology.isEmpty() ? "-" : String.join(", ",
                        topology.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).toList()));
                CsiCommands.fields(out(), f);
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
    static final class NodeStage extends CsiCommands.CsiCall {
        @Mixin
        VolumeId volume;
        @Mixin
        StagingPath staging;
        @Mixin
        CapabilityAndContexts sent;

        @Override
        int run(CsiConnection c) {
            NodeStageVolumeRequest request = NodeStageVolumeRequest.newBuilder().setVolumeId(volume.id)
                    .setStagingTargetPath(staging.path).setVolumeCapability(sent.capability.capability())
                    .putAllPublishContext(sent.publishContext).putAllVolumeContext(sent.volumeContext).build();
            c.call("NodeStageVolume", () -> c.node().nodeStageVolume(request));
            out().line("volume " + volume.id + " staged at " + staging.path);
            return ExitCodes.OK;
        }
    }

    @Command(name = "node-unstage", description = "NodeUnstageVolume: unmount the staging path and disconnect. Idempotent.")
    static final class NodeUnstage extends CsiCommands.CsiCall {
        @Mixin
        VolumeId volume;
        @Mixin
        StagingPath staging;

        @Override
        int run(CsiConnection c) {
            c.call("NodeUnstageVolume", () -> c.node().nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder()
                    .setVolumeId(volume.id).setStagingTargetPath(staging.path).build()));
            out().line("volume " + volume.id + " unstaged from " + staging.path);
            return ExitCodes.OK;
        }
    }

    @Command(name = "node-publish", description = "NodePublishVolume: bind-mount the staged volume (or, with --block, "
            + "the device) at the target path. Idempotent.")
    static final class NodePublish extends CsiCommands.CsiCall {
        @Mixin
        VolumeId volume;
        @Mixin
        StagingPath staging;
        @Mixin
        TargetPath target;
        @Option(names = "--readonly", description = "publish read-only")
        boolean readOnly;
        @Mixin
        CapabilityAndContexts sent;

        @Override
        int run(CsiConnection c) {
            NodePublishVolumeRequest request = NodePublishVolumeRequest.newBuilder().setVolumeId(volume.id)
                    .setStagingTargetPath(staging.path).setTargetPath(target.path).setReadonly(readOnly)
                    .setVolumeCapability(sent.capability.capability())
                    .putAllPublishContext(sent.publishContext).putAllVolumeContext(sent.volumeContext).build();
            c.call("NodePublishVolume", () -> c.node().nodePublishVolume(request));
            out().line("volume " + volume.id + " published at " + target.path + (readOnly ? " (read-only)" : ""));
            return ExitCodes.OK;
        }
    }

    @Command(name = "node-unpublish", description = "NodeUnpublishVolume: unmount and remove the target path. Idempotent.")
    static final class NodeUnpublish extends CsiCommands.CsiCall {
        @Mixin
        VolumeId volume;
        @Mixin
        TargetPath target;

        @Override
        int run(CsiConnection c) {
            c.call("NodeUnpublishVolume", () -> c.node().nodeUnpublishVolume(NodeUnpublishVolumeRequest.newBuilder()
                    .setVolumeId(volume.id).setTargetPath(target.path).build()));
            out().line("volume " + volume.id + " unpublished from " + target.path);
            return ExitCodes.OK;
        }
    }

    @Command(name = "node-stats", description = "NodeGetVolumeStats: usage (bytes, inodes) and the volume condition "
            + "(abnormal or not, and why). The call succeeding is exit 0 even when the volume is abnormal.")
    static final class NodeStats extends CsiCommands.CsiCall {
        @Mixin
        VolumeId volume;
        @Option(names = "--volume-path", required = true, description = "the staging or the target path")
        String volumePath;

        @Override
        int run(CsiConnection c) {
            NodeGetVolumeStatsResponse stats = c.call("NodeGetVolumeStats", () -> c.node().nodeGetVolumeStats(
                    NodeGetVolumeStatsRequest.newBuilder().setVolumeId(volume.id).setVolumePath(volumePath).build()));
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
                result.put("volumeId", volume.id);
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
    static final class NodeExpand extends CsiCommands.CsiCall {
        @Mixin
        VolumeId volume;
        @Option(names = "--volume-path", required = true, description = "the target (or staging) path")
        String volumePath;
        @Option(names = "--staging-path")
        String stagingPath;
        @Mixin
        RequiredBytes required;
        @Option(names = "--block", description = "the volume is a raw block volume: nothing to grow but report its size")
        boolean block;

        @Override
        int run(CsiConnection c) {
            NodeExpandVolumeRequest.Builder request = NodeExpandVolumeRequest.newBuilder().setVolumeId(volume.id)
                    .setVolumePath(volumePath)
                    .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(required.bytes()));
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
                out().line("volume " + volume.id + " at " + volumePath + " is " + size(capacity) + " (" + capacity + " bytes)");
            } else {
                Map<String, Object> result = new LinkedHashMap<>();
                result.put("volumeId", volume.id);
                result.put("capacityBytes", capacity);
                out().structured(result);
            }
            return ExitCodes.OK;
        }
    }
}
