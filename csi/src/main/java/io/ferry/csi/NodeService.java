package io.ferry.csi;

import io.ferry.csi.v1.NodeExpandVolumeRequest;
import io.ferry.csi.v1.NodeExpandVolumeResponse;
import io.ferry.csi.v1.NodeGetCapabilitiesRequest;
import io.ferry.csi.v1.NodeGetCapabilitiesResponse;
import io.ferry.csi.v1.NodeGetInfoRequest;
import io.ferry.csi.v1.NodeGetInfoResponse;
import io.ferry.csi.v1.NodeGetVolumeStatsRequest;
import io.ferry.csi.v1.NodeGetVolumeStatsResponse;
import io.ferry.csi.v1.NodeGrpc;
import io.ferry.csi.v1.NodePublishVolumeRequest;
import io.ferry.csi.v1.NodePublishVolumeResponse;
import io.ferry.csi.v1.NodeServiceCapability;
import io.ferry.csi.v1.NodeStageVolumeRequest;
import io.ferry.csi.v1.NodeStageVolumeResponse;
import io.ferry.csi.v1.NodeUnpublishVolumeRequest;
import io.ferry.csi.v1.NodeUnpublishVolumeResponse;
import io.ferry.csi.v1.NodeUnstageVolumeRequest;
import io.ferry.csi.v1.NodeUnstageVolumeResponse;
import io.ferry.csi.v1.Topology;
import io.ferry.csi.v1.VolumeCapability;
import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.Names;
import io.ferry.model.NodeRegistration;
import io.ferry.model.VolumeIntent;
import io.ferry.runtime.device.SignatureProbe;
import io.ferry.runtime.exec.Command;
import io.ferry.runtime.exec.CommandRunner;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The CSI node service: waits for the volume's status, connects (NVMe/TCP) when the volume lives on
 * another node, formats a blank device, and mounts. Every step first looks at what is already there
 * (mount table, sysfs, the device's signatures), so each call can be repeated after a crash or a
 * timeout. Only a device that {@link DeviceVerifier} traced back to the volume is ever used, and
 * only one on which {@link SignatureProbe} finds nothing at all is ever formatted.
 */
public final class NodeService extends NodeGrpc.NodeImplBase {

    private static final Logger log = LoggerFactory.getLogger(NodeService.class);

    /**
     * @param nodeId       this node's name, as the agent registers it
     * @param maxVolumes   reported to the CO (0: no limit announced)
     * @param topology     extra segments (e.g. rack, zone) reported beside the node; the node's
     *                     registration labels {@code rack} and {@code zone} are added when present
     */
    public record Options(String nodeId, long maxVolumes, Map<String, String> topology, Path mountInfo, Path sysRoot,
                          Path devRoot, NvmeConnector.Options nvme, Duration mirrorCheck) {
        public static Options defaults(String nodeId) {
            return new Options(nodeId, 0, Map.of(), Path.of("/proc/self/mountinfo"), Path.of("/sys"), Path.of("/dev"),
                    NvmeConnector.Options.defaults(), MirrorKeeper.INTERVAL);
        }

        public Options withNvme(int reconnectDelay, int ctrlLossTimeout) {
            return new Options(nodeId, maxVolumes, topology, mountInfo, sysRoot, devRoot,
                    new NvmeConnector.Options(reconnectDelay, ctrlLossTimeout, nvme.deviceTimeout()), mirrorCheck);
        }

        public Options withMaxVolumes(long value) {
            return new Options(nodeId, value, topology, mountInfo, sysRoot, devRoot, nvme, mirrorCheck);
        }

        public Options withTopology(Map<String, String> value) {
            return new Options(nodeId, maxVolumes, Map.copyOf(value), mountInfo, sysRoot, devRoot, nvme, mirrorCheck);
        }

        /** Where this host's DH-HMAC-CHAP pair is (the agent's state file; {@code --nvme-auth-keys}). */
        public Options withNvmeAuthKeys(Path value) {
            return new Options(nodeId, maxVolumes, topology, mountInfo, sysRoot, devRoot, nvme.withAuthKeys(value),
                    mirrorCheck);
        }

        /** How often the mirrors assembled here are looked at ({@link MirrorKeeper}); zero: never. */
        public Options withMirrorCheck(Duration value) {
            return new Options(nodeId, maxVolumes, topology, mountInfo, sysRoot, devRoot, nvme, value);
        }
    }

    private final EtcdStore store;
    private final FerryKeys keys;
    private final ClusterView view;
    private final KeyedLocks locks;
    private final CommandRunner runner;
    private final Options options;
    private final Mounts mounts;
    private final NvmeConnector nvme;
    private final VolumeDevices devices;
    private final Filesystems filesystems;
    private final MirrorKeeper keeper;

    public NodeService(EtcdStore store, ClusterView view, KeyedLocks locks, CommandRunner runner, Options options) {
        this.store = store;
        this.keys = store.keys();
        this.view = view;
        this.locks = locks;
        this.runner = runner;
        this.options = options;
        this.mounts = new Mounts(options.mountInfo());
        DeviceVerifier verifier = new DeviceVerifier(runner, options.sysRoot(), options.devRoot());
        this.nvme = new NvmeConnector(runner, options.sysRoot(), verifier, options.nvme());
        this.devices = new VolumeDevices(store, view, options.nodeId(), verifier, nvme,
                new PartsAssembler(runner, options.sysRoot(), options.devRoot()));
        this.filesystems = new Filesystems(runner);
        this.keeper = new MirrorKeeper(devices.mirrors(), locks);
    }

    /** The loop that looks after the mirrors assembled on this node; its owner starts and closes it. */
    MirrorKeeper mirrorKeeper() {
        return keeper;
    }

    // ---- NodeGetInfo / NodeGetCapabilities ----

    @Override
    public void nodeGetInfo(NodeGetInfoRequest request, StreamObserver<NodeGetInfoResponse> observer) {
        Calls.unary("NodeGetInfo", observer, () -> {
            Topology.Builder topology = Topology.newBuilder().putSegments(Driver.TOPOLOGY_NODE, options.nodeId());
            Optional<NodeRegistration> registration = Calls.await(store.get(keys.registration(options.nodeId()),
                    NodeRegistration.class)).map(Versioned::value);
            registration.map(r -> r.labels().get("rack")).ifPresent(v -> topology.putSegments(Driver.TOPOLOGY_RACK, v));
            registration.map(r -> r.labels().get("zone")).ifPresent(v -> topology.putSegments(Driver.TOPOLOGY_ZONE, v));
            topology.putAllSegments(options.topology());
            return NodeGetInfoResponse.newBuilder().setNodeId(options.nodeId()).setMaxVolumesPerNode(options.maxVolumes())
                    .setAccessibleTopology(topology).build();
        });
    }

    @Override
    public void nodeGetCapabilities(NodeGetCapabilitiesRequest request, StreamObserver<NodeGetCapabilitiesResponse> observer) {
        Calls.unary("NodeGetCapabilities", observer, () -> {
            NodeGetCapabilitiesResponse.Builder response = NodeGetCapabilitiesResponse.newBuilder();
            for (NodeServiceCapability.RPC.Type type : List.of(NodeServiceCapability.RPC.Type.STAGE_UNSTAGE_VOLUME,
                    NodeServiceCapability.RPC.Type.GET_VOLUME_STATS, NodeServiceCapability.RPC.Type.EXPAND_VOLUME,
                    NodeServiceCapability.RPC.Type.VOLUME_CONDITION, NodeServiceCapability.RPC.Type.SINGLE_NODE_MULTI_WRITER)) {
                response.addCapabilities(NodeServiceCapability.newBuilder()
                        .setRpc(NodeServiceCapability.RPC.newBuilder().setType(type)));
            }
            return response.build();
        });
    }

    // ---- NodeStageVolume / NodeUnstageVolume ----

    @Override
    public void nodeStageVolume(NodeStageVolumeRequest request, StreamObserver<NodeStageVolumeResponse> observer) {
        Calls.unary("NodeStageVolume", observer, () -> {
            String id = request.getVolumeId();
            Calls.require(!id.isEmpty(), "volume_id is required");
            Path staging = CsiPaths.path("staging_target_path", request.getStagingTargetPath());
            Calls.require(request.hasVolumeCapability(), "volume_capability is required");
            VolumeCapability cap = request.getVolumeCapability();
            Driver.requireSupported(cap);
            try (KeyedLocks.Held ignored = locks.lock("volume:" + id)) {
                VolumeIntent intent = devices.intent(id);
                devices.follow(id);
                Path device = devices.device(id, intent);
                if (cap.hasBlock()) {
                    return NodeStageVolumeResponse.getDefaultInstance();
                }
                String fsType = !cap.getMount().getFsType().isEmpty() ? cap.getMount().getFsType()
                        : intent.fsType() != null ? intent.fsType() : Driver.DEFAULT_FS_TYPE;
                Optional<Mounts.Mount> mounted = mounts.at(staging);
                if (mounted.isPresent()) {
                    if (!mounted.get().fsType().equals(fsType)) {
                        throw Calls.alreadyExists("volume " + id + " is already staged at " + staging + " as "
                                + mounted.get().fsType() + ", not " + fsType);
                    }
                    return NodeStageVolumeResponse.getDefaultInstance();
                }
                filesystems.formatIfBlank(id, device, fsType, intent);
                Files.createDirectories(staging);
                filesystems.mount(device, staging, fsType, cap.getMount().getMountFlagsList());
                return NodeStageVolumeResponse.getDefaultInstance();
            }
        });
    }

    @Override
    public void nodeUnstageVolume(NodeUnstageVolumeRequest request, StreamObserver<NodeUnstageVolumeResponse> observer) {
        Calls.unary("NodeUnstageVolume", observer, () -> {
            String id = request.getVolumeId();
            Calls.require(!id.isEmpty(), "volume_id is required");
            Path staging = CsiPaths.path("staging_target_path", request.getStagingTargetPath());
            try (KeyedLocks.Held ignored = locks.lock("volume:" + id)) {
                mounts.unmountAll(staging, runner);
                if (Names.isValidVolumeName(id)) {
                    devices.follow(id);
                    boolean mirror = devices.mirror(id);
                    devices.release(id);
                    if (mirror) {
                        // After the array is stopped: the report says what md holds, and it holds nothing here now.
                        keeper.forget(id);
                    }
                    // Unstaged, the volume no longer concerns this node until it is staged again.
                    devices.unfollow(id);
                } else {
                    view.unfollow(id);
                }
                return NodeUnstageVolumeResponse.getDefaultInstance();
            }
        });
    }

    // ---- NodePublishVolume / NodeUnpublishVolume ----

    @Override
    public void nodePublishVolume(NodePublishVolumeRequest request, StreamObserver<NodePublishVolumeResponse> observer) {
        Calls.unary("NodePublishVolume", observer, () -> {
            String id = request.getVolumeId();
            Calls.require(!id.isEmpty(), "volume_id is required");
            Path staging = CsiPaths.path("staging_target_path", request.getStagingTargetPath());
            Path target = CsiPaths.path("target_path", request.getTargetPath());
            Calls.require(request.hasVolumeCapability(), "volume_capability is required");
            VolumeCapability cap = request.getVolumeCapability();
            Driver.requireSupported(cap);
            boolean readOnly = request.getReadonly() || Driver.readOnlyMode(cap);
            try (KeyedLocks.Held ignored = locks.lock("volume:" + id)) {
                VolumeIntent intent = devices.intent(id);
                Optional<Mounts.Mount> existing = mounts.at(target);
                if (existing.isPresent()) {
                    if (existing.get().readOnly() != readOnly) {
                        throw Calls.alreadyExists(target + " is already published with readonly=" + existing.get().readOnly());
                    }
                    if (cap.hasBlock() == Files.isDirectory(target)) {
                        throw Calls.alreadyExists(target + " is already published as a "
                                + (cap.hasBlock() ? "filesystem" : "block device"));
                    }
                    return NodePublishVolumeResponse.getDefaultInstance();
                }
                Path source;
                List<String> elsewhere;
                if (cap.hasBlock()) {
                    source = devices.device(id, intent);
                    // A device bound onto a file shows in the mount table as the device's own name
                    // within devtmpfs.
                    String root = "/" + source.toRealPath().getFileName();
                    elsewhere = mounts.all().stream().filter(m -> m.root().equals(root) && m.fsType().equals("devtmpfs"))
                            .map(Mounts.Mount::mountPoint).filter(p -> !p.equals(target.toString())).toList();
                } else {
                    Mounts.Mount staged = mounts.at(staging).orElseThrow(() ->
                            Calls.failedPrecondition("volume " + id + " is not staged at " + staging));
                    source = staging;
                    elsewhere = mounts.all().stream().filter(m -> m.source().equals(staged.source()))
                            .map(Mounts.Mount::mountPoint)
                            .filter(p -> !p.equals(staging.toString()) && !p.equals(target.toString())).toList();
                }
                // SINGLE_NODE_SINGLE_WRITER (Kubernetes' ReadWriteOncePod) promises one target path
                // (CSI, NodePublishVolume). SINGLE_NODE_WRITER stays usable from several paths: COs
                // that predate the two new modes publish a ReadWriteOnce volume to every pod of the node.
                if (cap.getAccessMode().getMode() == VolumeCapability.AccessMode.Mode.SINGLE_NODE_SINGLE_WRITER
                        && !elsewhere.isEmpty()) {
                    throw Calls.failedPrecondition("volume " + id + " is SINGLE_NODE_SINGLE_WRITER and already published at "
                            + elsewhere);
                }
                if (cap.hasBlock()) {
                    Files.createDirectories(target.getParent());
                    if (!Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
                        Files.createFile(target);
                    }
                } else {
                    Files.createDirectories(target);
                }
                runner.run(Command.of("mount", "--bind", source.toString(), target.toString()));
                if (readOnly) {
                    runner.run(Command.of("mount", "-o", "remount,bind,ro", target.toString()));
                }
                return NodePublishVolumeResponse.getDefaultInstance();
            }
        });
    }

    @Override
    public void nodeUnpublishVolume(NodeUnpublishVolumeRequest request, StreamObserver<NodeUnpublishVolumeResponse> observer) {
        Calls.unary("NodeUnpublishVolume", observer, () -> {
            String id = request.getVolumeId();
            Calls.require(!id.isEmpty(), "volume_id is required");
            Path target = CsiPaths.path("target_path", request.getTargetPath());
            try (KeyedLocks.Held ignored = locks.lock("volume:" + id)) {
                mounts.unmountAll(target, runner);
                if (Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS)) {
                    try (var children = Files.list(target)) {
                        if (children.findAny().isEmpty()) {
                            Files.delete(target);
                        }
                    }
                } else {
                    Files.deleteIfExists(target);
                }
                return NodeUnpublishVolumeResponse.getDefaultInstance();
            }
        });
    }

    // ---- NodeGetVolumeStats ----

    @Override
    public void nodeGetVolumeStats(NodeGetVolumeStatsRequest request, StreamObserver<NodeGetVolumeStatsResponse> observer) {
        Calls.unary("NodeGetVolumeStats", observer, () -> {
            String id = request.getVolumeId();
            Calls.require(!id.isEmpty(), "volume_id is required");
            Calls.require(!request.getVolumePath().isEmpty(), "volume_path is required");
            if (Names.isValidVolumeName(id)) {
                devices.follow(id);
            }
            if (!Names.isValidVolumeName(id) || view.volume(id).isEmpty()) {
                throw Calls.notFound("volume " + id + " does not exist");
            }
            Path path = volumeAt(id, request.getVolumePath(), true);
            NodeGetVolumeStatsResponse.Builder response = NodeGetVolumeStatsResponse.newBuilder();
            filesystems.addUsage(path, Files.isDirectory(path), response);
            response.setVolumeCondition(devices.condition(id));
            return response.build();
        });
    }

    /**
     * The volume path of a stats or expansion call, if the volume is there: a mount point (staged or
     * published filesystem, or a block device bound onto a file) of the volume's device. Anything
     * else, a relative or unclean path included, is where the volume is not, which the
     * specification answers with NOT_FOUND. When the volume's device cannot be told (a remote volume
     * while disconnected) the mount is taken as it is. A status naming a device that fails
     * verification ends the call with FAILED_PRECONDITION, except for stats ({@code
     * forgivingStatus}), whose volume condition reports it instead.
     */
    private Path volumeAt(String id, String value, boolean forgivingStatus) {
        String invalid = CsiPaths.pathProblem("volume_path", value);
        if (invalid != null) {
            throw Calls.notFound("volume " + id + " is not at " + value + ": " + invalid);
        }
        Path path = Path.of(value).normalize();
        if (!Files.exists(path)) {
            throw Calls.notFound("volume " + id + " is not at " + path + ": the path does not exist");
        }
        Mounts.Mount mount = mounts.at(path).orElseThrow(() -> Calls.notFound("volume " + id + " is not at " + path
                + ": nothing is mounted there"));
        Optional<Path> device;
        try {
            device = devices.currentDevice(id);
        } catch (StatusRuntimeException e) {
            if (forgivingStatus) {
                return path;
            }
            throw e;
        }
        if (device.isPresent()) {
            // A filesystem mount names its device as the source; a block volume is the device node
            // itself, bound onto the path.
            Path held = Files.isDirectory(path) ? Path.of(mount.source()) : path;
            if (!DeviceVerifier.sameDevice(held, device.get())) {
                throw Calls.notFound("volume " + id + " is not at " + path + ": it holds " + mount.source()
                        + ", not the volume's device " + device.get());
            }
        }
        return path;
    }

    // ---- NodeExpandVolume ----

    @Override
    public void nodeExpandVolume(NodeExpandVolumeRequest request, StreamObserver<NodeExpandVolumeResponse> observer) {
        Calls.unary("NodeExpandVolume", observer, () -> {
            String id = request.getVolumeId();
            Calls.require(!id.isEmpty(), "volume_id is required");
            Calls.require(!request.getVolumePath().isEmpty(), "volume_path is required");
            try (KeyedLocks.Held ignored = locks.lock("volume:" + id)) {
                VolumeIntent intent = devices.intent(id);
                devices.follow(id);
                // Only the volume's own device, verified, is ever grown.
                Path path = volumeAt(id, request.getVolumePath(), false);
                if (intent.layout().multiPart()) {
                    // The parts first (the controller grew them), then the assembly, then the filesystem:
                    // each step does nothing once done, so a call repeated after a crash finishes the rest.
                    devices.growAssembly(id);
                }
                long bytes = Files.isDirectory(path) ? filesystems.grow(mounts.at(path).orElseThrow(), path)
                        : filesystems.deviceBytes(path.toString());
                return NodeExpandVolumeResponse.newBuilder().setCapacityBytes(bytes).build();
            }
        });
    }

    // visible for tests
    NvmeConnector nvme() {
        return nvme;
    }
}
