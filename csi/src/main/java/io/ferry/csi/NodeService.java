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
import io.ferry.csi.v1.VolumeCondition;
import io.ferry.csi.v1.VolumeUsage;
import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.MkfsOptions;
import io.ferry.model.Names;
import io.ferry.model.NodeRegistration;
import io.ferry.model.Nqn;
import io.ferry.model.Placement;
import io.ferry.model.PoolConfig;
import io.ferry.model.Reach;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeScheduling;
import io.ferry.model.VolumeProgress;
import io.ferry.model.VolumeStatus;
import io.ferry.runtime.device.SignatureProbe;
import io.ferry.runtime.exec.Command;
import io.ferry.runtime.exec.CommandResult;
import io.ferry.runtime.exec.CommandRunner;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
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
                          Path devRoot, NvmeConnector.Options nvme) {
        public static Options defaults(String nodeId) {
            return new Options(nodeId, 0, Map.of(), Path.of("/proc/self/mountinfo"), Path.of("/sys"), Path.of("/dev"),
                    NvmeConnector.Options.defaults());
        }

        public Options withNvme(int reconnectDelay, int ctrlLossTimeout) {
            return new Options(nodeId, maxVolumes, topology, mountInfo, sysRoot, devRoot,
                    new NvmeConnector.Options(reconnectDelay, ctrlLossTimeout, nvme.deviceTimeout()));
        }

        public Options withMaxVolumes(long value) {
            return new Options(nodeId, value, topology, mountInfo, sysRoot, devRoot, nvme);
        }

        public Options withTopology(Map<String, String> value) {
            return new Options(nodeId, maxVolumes, Map.copyOf(value), mountInfo, sysRoot, devRoot, nvme);
        }

        /** Where this host's DH-HMAC-CHAP pair is (the agent's state file; {@code --nvme-auth-keys}). */
        public Options withNvmeAuthKeys(Path value) {
            return new Options(nodeId, maxVolumes, topology, mountInfo, sysRoot, devRoot, nvme.withAuthKeys(value));
        }
    }

    private final EtcdStore store;
    private final FerryKeys keys;
    private final ClusterView view;
    private final KeyedLocks locks;
    private final CommandRunner runner;
    private final SignatureProbe probe;
    private final Options options;
    private final Mounts mounts;
    private final NvmeConnector nvme;
    private final DeviceVerifier verifier;

    public NodeService(EtcdStore store, ClusterView view, KeyedLocks locks, CommandRunner runner, Options options) {
        this.store = store;
        this.keys = store.keys();
        this.view = view;
        this.locks = locks;
        this.runner = runner;
        this.probe = new SignatureProbe(runner);
        this.options = options;
        this.mounts = new Mounts(options.mountInfo());
        this.verifier = new DeviceVerifier(runner, options.sysRoot(), options.devRoot());
        this.nvme = new NvmeConnector(runner, options.sysRoot(), verifier, options.nvme());
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
            Path staging = path("staging_target_path", request.getStagingTargetPath());
            Calls.require(request.hasVolumeCapability(), "volume_capability is required");
            VolumeCapability cap = request.getVolumeCapability();
            String why = Driver.unsupported(cap);
            if (why != null) {
                throw Calls.invalid(why);
            }
            try (KeyedLocks.Held ignored = locks.lock("volume:" + id)) {
                VolumeIntent intent = intent(id);
                follow(id);
                Path device = attach(id);
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
                List<SignatureProbe.Signature> found = probe.probe(device.toString());
                if (found.isEmpty()) {
                    List<String> mkfs = new ArrayList<>(List.of("mkfs." + fsType));
                    List<String> options = fsType.equals(intent.fsType()) ? intent.mkfsOptions() : List.of();
                    mkfs.addAll(intent.thin() ? options : MkfsOptions.keepingAllocation(fsType, options));
                    mkfs.add(device.toString());
                    runner.run(Command.of(mkfs).withTimeout(Duration.ofMinutes(10)).serializedBy("device:" + device));
                } else if (found.stream().noneMatch(sig -> sig.isFilesystem(fsType))) {
                    // mkfs would overwrite whatever this is (mke2fs asks first only on a terminal), and a
                    // partition table or RAID member is someone's data as surely as a filesystem is.
                    throw Calls.failedPrecondition("volume " + id + " is not blank and holds no " + fsType
                            + " filesystem: found " + SignatureProbe.describe(found) + " on " + device
                            + "; refusing to format or mount it");
                }
                if (!found.isEmpty() && fsType.equals("ext4")) {
                    growExt4ToItsDevice(id, device.toString());
                }
                Files.createDirectories(staging);
                List<String> mount = new ArrayList<>(List.of("mount", "-t", fsType));
                List<String> flags = new ArrayList<>(cap.getMount().getMountFlagsList());
                if (fsType.equals("xfs")) {
                    // A clone or restored snapshot carries its origin's XFS UUID; mounting both needs nouuid.
                    flags.add("nouuid");
                }
                if (!flags.isEmpty()) {
                    mount.add("-o");
                    mount.add(String.join(",", flags));
                }
                mount.add(device.toString());
                mount.add(staging.toString());
                runner.run(Command.of(mount));
                return NodeStageVolumeResponse.getDefaultInstance();
            }
        });
    }

    /**
     * Loads the volume into a node-scoped view (see {@link ClusterView#forNode}) before anything of
     * it is read there; a no-op for a whole-cluster view. Every call that reads the view for a
     * volume calls this first, so a plugin restarted while volumes are staged catches up on the
     * first call about each.
     */
    private void follow(String id) throws Exception {
        Calls.await(view.follow(id));
    }

    private VolumeIntent intent(String id) throws Exception {
        if (!Names.isValidVolumeName(id)) {
            throw Calls.notFound("volume " + id + " does not exist");
        }
        return Calls.await(store.get(keys.volume(id), VolumeIntent.class)).map(Versioned::value)
                .orElseThrow(() -> Calls.notFound("volume " + id + " does not exist"));
    }

    /**
     * The block device of the volume on this node: the local device, the serving node's device
     * handed over on this machine, or the connected NVMe namespace, once {@link DeviceVerifier} has
     * traced it back to the volume. A handed-over device passes exactly the checks of a local one
     * (against the serving node's pool), so a status naming another device is refused either way.
     */
    private Path attach(String id) throws Exception {
        String hostNqn = Calls.await(store.get(keys.registration(options.nodeId()), NodeRegistration.class))
                .map(v -> v.value().hostNqn())
                .orElseThrow(() -> Calls.failedPrecondition("node " + options.nodeId()
                        + " is not registered: its Ferry agent must run to give the node a host NQN"));
        Ready ready = Calls.await(view.await(() -> usable(id, hostNqn), Calls.remaining()),
                "volume " + id + " to be Ready and served to " + options.nodeId());
        if (ready.usesDevice()) {
            return verifier.local(id, pool(id, ready.placement()), ready.status().devicePath(), view.clusterId().orElse(null));
        }
        verifier.export(id, view.globalConfig().nqnPrefix(), view.clusterId().orElse(null), ready.status().export());
        return nvme.connect(ready.status().export(), hostNqn, view.globalConfig().nvmeAuth());
    }

    /** How this node reaches the volume placed as {@code placement}, by the one rule ({@link Reach#of}). */
    private Reach reach(Placement placement) {
        return Reach.of(placement.node(), view.registration(placement.node()).orElse(null), placement.engine(),
                options.nodeId(), view.registration(options.nodeId()).orElse(null));
    }

    private PoolConfig pool(String id, Placement placement) {
        PoolConfig pool = view.poolConfig(placement.pool()).orElseThrow(() -> Calls.failedPrecondition("volume " + id
                + ": pool " + placement.pool() + " has no config, so its device cannot be verified"));
        if (!pool.node().equals(placement.node())) {
            throw Calls.failedPrecondition("volume " + id + ": pool " + pool.name() + " belongs to node " + pool.node()
                    + ", not to " + placement.node() + " where the volume is placed; its device cannot be verified");
        }
        return pool;
    }

    /**
     * The device the volume's current status names, verified, when the status is Ready and the
     * device is at hand (a remote volume only while connected); empty otherwise. Throws
     * FAILED_PRECONDITION when the status names a device that is not the volume's.
     */
    private Optional<Path> currentDevice(String id) {
        Placement placement = view.placement(id).orElse(null);
        VolumeStatus status = placement == null ? null : view.volumeStatus(placement.node(), id).orElse(null);
        if (status == null || !status.settled()) {
            return Optional.empty();
        }
        Ready ready = new Ready(placement, status, reach(placement));
        if (ready.usesDevice()) {
            return Optional.of(verifier.local(id, pool(id, placement), status.devicePath(), view.clusterId().orElse(null)));
        }
        if (status.export() == null) {
            return Optional.empty();
        }
        verifier.export(id, view.globalConfig().nqnPrefix(), view.clusterId().orElse(null), status.export());
        return verifier.nvmeNamespace(status.export());
    }

    private Optional<Ready> usable(String id, String hostNqn) {
        Placement placement = view.placement(id).orElse(null);
        return Calls.done(VolumeProgress.servedTo(id, placement, placement == null ? null
                : view.volumeStatus(placement.node(), id).orElse(null), options.nodeId(), hostNqn,
                placement == null ? null : view.registration(placement.node()).orElse(null),
                view.registration(options.nodeId()).orElse(null), true)).map(Ready::of);
    }

    @Override
    public void nodeUnstageVolume(NodeUnstageVolumeRequest request, StreamObserver<NodeUnstageVolumeResponse> observer) {
        Calls.unary("NodeUnstageVolume", observer, () -> {
            String id = request.getVolumeId();
            Calls.require(!id.isEmpty(), "volume_id is required");
            Path staging = path("staging_target_path", request.getStagingTargetPath());
            try (KeyedLocks.Held ignored = locks.lock("volume:" + id)) {
                unmount(staging);
                if (Names.isValidVolumeName(id)) {
                    follow(id);
                }
                if (Names.isValidVolumeName(id) && !handedOver(id)) {
                    // Both names an export of this volume may have: this cluster's, and the one
                    // of before cluster ids that an agent keeps serving until it is unexported.
                    String prefix = view.globalConfig().nqnPrefix();
                    Optional<String> cluster = view.clusterId();
                    if (cluster.isPresent()) {
                        nvme.disconnect(Nqn.forVolume(prefix, cluster.get(), id));
                    }
                    nvme.disconnect(Nqn.legacyForVolume(prefix, id));
                }
                // Unstaged, the volume no longer concerns this node until it is staged again.
                view.unfollow(id);
                return NodeUnstageVolumeResponse.getDefaultInstance();
            }
        });
    }

    /**
     * Whether this node is handed the volume's device on the serving node's machine: it then made no
     * NVMe connection, and one to the volume's subsystem on this kernel is not its to end.
     */
    private boolean handedOver(String id) {
        return view.placement(id).map(p -> reach(p) == Reach.HANDOFF).orElse(false);
    }

    // ---- NodePublishVolume / NodeUnpublishVolume ----

    @Override
    public void nodePublishVolume(NodePublishVolumeRequest request, StreamObserver<NodePublishVolumeResponse> observer) {
        Calls.unary("NodePublishVolume", observer, () -> {
            String id = request.getVolumeId();
            Calls.require(!id.isEmpty(), "volume_id is required");
            Path staging = path("staging_target_path", request.getStagingTargetPath());
            Path target = path("target_path", request.getTargetPath());
            Calls.require(request.hasVolumeCapability(), "volume_capability is required");
            VolumeCapability cap = request.getVolumeCapability();
            String why = Driver.unsupported(cap);
            if (why != null) {
                throw Calls.invalid(why);
            }
            boolean readOnly = request.getReadonly() || Driver.readOnlyMode(cap);
            try (KeyedLocks.Held ignored = locks.lock("volume:" + id)) {
                intent(id);
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
                    source = attach(id);
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
            Path target = path("target_path", request.getTargetPath());
            try (KeyedLocks.Held ignored = locks.lock("volume:" + id)) {
                unmount(target);
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

    private void unmount(Path path) {
        // Stacked mounts (a bind mount repeated by a crashed retry) are all removed.
        for (int i = 0; i < 8 && mounts.at(path).isPresent(); i++) {
            runner.run(Command.of("umount", path.toString()));
        }
    }

    // ---- NodeGetVolumeStats ----

    @Override
    public void nodeGetVolumeStats(NodeGetVolumeStatsRequest request, StreamObserver<NodeGetVolumeStatsResponse> observer) {
        Calls.unary("NodeGetVolumeStats", observer, () -> {
            String id = request.getVolumeId();
            Calls.require(!id.isEmpty(), "volume_id is required");
            Calls.require(!request.getVolumePath().isEmpty(), "volume_path is required");
            if (Names.isValidVolumeName(id)) {
                follow(id);
            }
            if (!Names.isValidVolumeName(id) || view.volume(id).isEmpty()) {
                throw Calls.notFound("volume " + id + " does not exist");
            }
            Path path = volumeAt(id, request.getVolumePath(), true);
            NodeGetVolumeStatsResponse.Builder response = NodeGetVolumeStatsResponse.newBuilder();
            if (Files.isDirectory(path)) {
                // total blocks, free, available, fragment size, total inodes, free inodes
                String[] f = runner.run(Command.of("stat", "-f", "-c", "%b %f %a %S %c %d", path.toString()))
                        .stdout().strip().split("\\s+");
                long blocks = Long.parseLong(f[0]);
                long free = Long.parseLong(f[1]);
                long avail = Long.parseLong(f[2]);
                long size = Long.parseLong(f[3]);
                long inodes = Long.parseLong(f[4]);
                long freeInodes = Long.parseLong(f[5]);
                response.addUsage(VolumeUsage.newBuilder().setUnit(VolumeUsage.Unit.BYTES).setTotal(blocks * size)
                        .setAvailable(avail * size).setUsed((blocks - free) * size));
                response.addUsage(VolumeUsage.newBuilder().setUnit(VolumeUsage.Unit.INODES).setTotal(inodes)
                        .setAvailable(freeInodes).setUsed(inodes - freeInodes));
            } else {
                long bytes = Long.parseLong(runner.run(Command.of("blockdev", "--getsize64", path.toString())).stdout().strip());
                response.addUsage(VolumeUsage.newBuilder().setUnit(VolumeUsage.Unit.BYTES).setTotal(bytes));
            }
            response.setVolumeCondition(condition(id));
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
        String invalid = pathProblem("volume_path", value);
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
            device = currentDevice(id);
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

    private VolumeCondition condition(String id) {
        VolumeScheduling scheduling = view.volumeScheduling(id).orElse(null);
        if (scheduling != null && !scheduling.reachable()) {
            return VolumeCondition.newBuilder().setAbnormal(true)
                    .setMessage(scheduling.message() != null ? scheduling.message() : "the serving node is down").build();
        }
        Placement placement = view.placement(id).orElse(null);
        VolumeStatus status = placement == null ? null : view.volumeStatus(placement.node(), id).orElse(null);
        if (status != null && status.failing()) {
            return VolumeCondition.newBuilder().setAbnormal(true).setMessage("the agent reports: " + status.message()).build();
        }
        try {
            currentDevice(id);
        } catch (StatusRuntimeException e) {
            return VolumeCondition.newBuilder().setAbnormal(true).setMessage(e.getStatus().getDescription()).build();
        }
        return VolumeCondition.newBuilder().setAbnormal(false).setMessage("mounted").build();
    }

    // ---- NodeExpandVolume ----

    @Override
    public void nodeExpandVolume(NodeExpandVolumeRequest request, StreamObserver<NodeExpandVolumeResponse> observer) {
        Calls.unary("NodeExpandVolume", observer, () -> {
            String id = request.getVolumeId();
            Calls.require(!id.isEmpty(), "volume_id is required");
            Calls.require(!request.getVolumePath().isEmpty(), "volume_path is required");
            try (KeyedLocks.Held ignored = locks.lock("volume:" + id)) {
                intent(id);
                follow(id);
                // Only the volume's own device, verified, is ever grown.
                Path path = volumeAt(id, request.getVolumePath(), false);
                if (!Files.isDirectory(path)) {
                    long bytes = Long.parseLong(runner.run(Command.of("blockdev", "--getsize64", path.toString()))
                            .stdout().strip());
                    return NodeExpandVolumeResponse.newBuilder().setCapacityBytes(bytes).build();
                }
                Mounts.Mount mount = mounts.at(path).orElseThrow();
                String device = mount.source();
                switch (mount.fsType()) {
                    case "ext4" -> runner.run(Command.of("resize2fs", device).withTimeout(Duration.ofMinutes(30)));
                    case "xfs" -> runner.run(Command.of("xfs_growfs", path.toString()).withTimeout(Duration.ofMinutes(30)));
                    default -> throw Calls.invalid("cannot grow a " + mount.fsType() + " filesystem");
                }
                long bytes = Long.parseLong(runner.run(Command.of("blockdev", "--getsize64", device)).stdout().strip());
                return NodeExpandVolumeResponse.newBuilder().setCapacityBytes(bytes).build();
            }
        });
    }

    /**
     * An ext4 filesystem that was already on the device may be smaller than it: a volume restored
     * from a snapshot, or cloned, into a larger size, for which the CO never calls
     * NodeExpandVolume. It is grown before it is mounted (offline, so no online-resize ioctl is
     * needed; resize2fs wants a fresh check first). Anything unexpected leaves it as it is: the
     * filesystem is intact and usable at its old size, which beats refusing to stage it.
     */
    private void growExt4ToItsDevice(String id, String device) {
        try {
            long deviceBytes = Long.parseLong(runner.run(Command.of("blockdev", "--getsize64", device)).stdout().strip());
            String header = runner.run(Command.of("dumpe2fs", "-h", device)).stdout();
            long fsBytes = ext4Field(header, "Block count") * ext4Field(header, "Block size");
            if (fsBytes <= 0 || fsBytes >= deviceBytes) {
                return;
            }
            Duration timeout = Duration.ofMinutes(30);
            CommandResult check = runner.execute(Command.of("e2fsck", "-f", "-p", device)
                    .withTimeout(timeout).serializedBy("device:" + device));
            // 0: clean; 1: errors corrected. Anything else wants a person.
            if (check.exitCode() > 1) {
                log.warn("volume {}: its ext4 filesystem ({} bytes) is smaller than {} ({} bytes) but e2fsck -f -p"
                        + " exited {}: not grown. {}", id, fsBytes, device, deviceBytes, check.exitCode(),
                        check.stderr().strip());
                return;
            }
            runner.run(Command.of("resize2fs", device).withTimeout(timeout).serializedBy("device:" + device));
            log.info("volume {}: ext4 filesystem grown from {} to the {} bytes of its device", id, fsBytes, deviceBytes);
        } catch (RuntimeException e) {
            log.warn("volume {}: could not grow its ext4 filesystem to the size of {}: {}", id, device, e.getMessage());
        }
    }

    private static long ext4Field(String dumpe2fsHeader, String field) {
        for (String line : dumpe2fsHeader.split("\n")) {
            if (line.startsWith(field + ":")) {
                return Long.parseLong(line.substring(field.length() + 1).strip());
            }
        }
        return -1;
    }

    /** Paths from the CO must be absolute and free of {@code .}/{@code ..} segments. */
    static Path path(String field, String value) {
        String problem = pathProblem(field, value);
        if (problem != null) {
            throw Calls.invalid(problem);
        }
        return Path.of(value).normalize();
    }

    /** What is wrong with a path from the CO, or null when it is absolute and clean. */
    static String pathProblem(String field, String value) {
        if (value.isEmpty()) {
            return field + " is required";
        }
        if (value.indexOf('\0') >= 0) {
            return field + " contains a NUL character";
        }
        Path p = Path.of(value);
        if (!p.isAbsolute()) {
            return field + " must be absolute: " + value;
        }
        for (Path segment : p) {
            String s = segment.toString();
            if (s.equals("..") || s.equals(".")) {
                return field + " must not contain . or .. segments: " + value;
            }
        }
        return null;
    }

    // visible for tests
    NvmeConnector nvme() {
        return nvme;
    }
}
