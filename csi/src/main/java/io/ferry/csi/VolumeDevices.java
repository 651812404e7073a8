package io.ferry.csi;

import io.ferry.csi.v1.VolumeCondition;
import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.ExportInfo;
import io.ferry.model.Layout;
import io.ferry.model.Names;
import io.ferry.model.NodeRegistration;
import io.ferry.model.Nqn;
import io.ferry.model.Placement;
import io.ferry.model.PoolConfig;
import io.ferry.model.Reach;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeParts;
import io.ferry.model.VolumeProgress;
import io.ferry.model.VolumeScheduling;
import io.ferry.model.VolumeStatus;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Where a volume's block device is on this node, and only ever one traced back to the volume: the
 * node service's answer to "which device is this volume" for staging, publishing, stats and
 * expansion, apart from what those calls then do with it. A multi-part volume's device is its parts'
 * devices, each found exactly as a single volume's, assembled by {@link PartsAssembler}.
 */
final class VolumeDevices {

    private final EtcdStore store;
    private final FerryKeys keys;
    private final ClusterView view;
    private final String nodeId;
    private final DeviceVerifier verifier;
    private final NvmeConnector nvme;
    private final PartsAssembler assembler;
    private final MirrorLegs mirrors;

    VolumeDevices(EtcdStore store, ClusterView view, String nodeId, DeviceVerifier verifier, NvmeConnector nvme,
                  PartsAssembler assembler) {
        this.store = store;
        this.keys = store.keys();
        this.view = view;
        this.nodeId = nodeId;
        this.verifier = verifier;
        this.nvme = nvme;
        this.assembler = assembler;
        this.mirrors = new MirrorLegs(store, nodeId, this, view, nvme, assembler);
    }

    /** The mirrors staged on this node, as the keeper looks after them. */
    MirrorLegs mirrors() {
        return mirrors;
    }

    /**
     * Loads the volume into a node-scoped view (see {@link ClusterView#forNode}) before anything of
     * it is read there; a no-op for a whole-cluster view. Every call that reads the view for a
     * volume calls this first, so a plugin restarted while volumes are staged catches up on the
     * first call about each. The parts of a multi-part volume whose parts record is known are
     * followed with it.
     */
    void follow(String id) throws Exception {
        Calls.await(view.follow(id));
        for (VolumeParts.Part part : view.volumeParts(id).map(VolumeParts::parts).orElse(List.of())) {
            Calls.await(view.follow(part.name()));
        }
    }

    /** Stops following the volume and its parts: unstaged, they no longer concern this node. */
    void unfollow(String id) {
        view.volumeParts(id).ifPresent(parts -> parts.allPartNames().forEach(view::unfollow));
        view.unfollow(id);
    }

    VolumeIntent intent(String id) throws Exception {
        if (!Names.isValidVolumeName(id)) {
            throw Calls.notFound("volume " + id + " does not exist");
        }
        return Calls.await(store.get(keys.volume(id), VolumeIntent.class)).map(Versioned::value)
                .orElseThrow(() -> Calls.notFound("volume " + id + " does not exist"));
    }

    /**
     * The device the volume is staged and published from: a single volume's own ({@link #attach}),
     * or for a multi-part volume, once the controller has placed its parts, each part's device
     * found as a single volume's (a part is served wherever its volume is attached), assembled.
     */
    Path device(String id, VolumeIntent intent) throws Exception {
        if (!intent.layout().multiPart()) {
            return attach(id);
        }
        VolumeParts parts = Calls.await(view.await(() -> view.volumeParts(id), Calls.remaining()),
                "the controller to place the parts of volume " + id);
        List<Path> partDevices = new ArrayList<>();
        boolean mirror = parts.layout() == Layout.MIRROR;
        Optional<Path> running = mirror ? assembler.mirrors().running(parts.arrayUuid()) : Optional.empty();
        for (VolumeParts.Part part : parts.parts()) {
            Calls.await(view.follow(part.name()));
            if (running.isPresent() && part.movesFrom() != null) {
                // An extra copy on its way: the running array holds the data without it, and the keeper
                // connects and adds it once it is served here. Waiting would hold a restage or a publish.
                continue;
            }
            partDevices.add(attach(part.name(), mirror));
        }
        if (running.isPresent()) {
            mirrors.staged(id);
            return running.get();
        }
        Path device = assembler.assemble(parts, partDevices);
        if (mirror) {
            mirrors.staged(id);
        }
        return device;
    }

    /** Whether the volume is a mirror, by its parts record or, when that is gone, its intent. */
    boolean mirror(String id) {
        return view.volumeParts(id).map(p -> p.layout() == Layout.MIRROR)
                .or(() -> view.volume(id).map(v -> v.layout() == Layout.MIRROR)).orElse(false);
    }

    /** The NVMe export a part is reached through from this node, if it is reached over the network. */
    Optional<ExportInfo> servedExport(String part) {
        Placement placement = view.placement(part).orElse(null);
        VolumeStatus status = placement == null ? null : view.volumeStatus(placement.node(), part).orElse(null);
        if (status == null || status.export() == null || new Ready(placement, status, reach(placement)).usesDevice()) {
            return Optional.empty();
        }
        return Optional.of(status.export());
    }

    /**
     * A leg's connection made again when the kernel gave it up (its node was away longer than the
     * controller-loss timeout) and the part is served to this node again; empty while it is not.
     */
    Optional<Path> reconnected(String part) {
        String hostNqn = view.registration(nodeId).map(NodeRegistration::hostNqn).orElse(null);
        Optional<Ready> ready = hostNqn == null ? Optional.empty() : usable(part, hostNqn);
        if (ready.isEmpty() || ready.get().usesDevice()) {
            return Optional.empty();
        }
        try {
            return Optional.of(connect(part, ready.get(), hostNqn, true));
        } catch (StatusRuntimeException e) {
            return Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        }
    }

    /** How often a growth looks again whether every part's device here shows its new size. */
    private static final Duration PART_SIZE_POLL = Duration.ofMillis(500);

    /**
     * Grows the assembled device of a staged multi-part volume to the size its parts record gives
     * (docs/layouts.md, "Growing a multi-part volume"), once every part's verified device on this
     * node shows the part's new size: an LV at once, an NVMe namespace when its serving node has
     * revalidated it and this host has seen the change, which no etcd key tells; so this looks
     * again every half second within the call's deadline. Returns the assembled device.
     */
    Path growAssembly(String id) throws Exception {
        VolumeParts parts = view.volumeParts(id).orElseThrow(() -> Calls.failedPrecondition("volume " + id
                + " has no parts record: the controller has not placed it"));
        List<Path> partDevices = new ArrayList<>();
        for (VolumeParts.Part part : parts.parts()) {
            Calls.await(view.follow(part.name()));
            partDevices.add(grownDevice(id, part));
        }
        return assembler.grow(parts, partDevices);
    }

    private Path grownDevice(String id, VolumeParts.Part part) throws InterruptedException {
        while (true) {
            Optional<Path> found = legDevice(part.name());
            long bytes = found.map(assembler::bytes).orElse(-1L);
            if (found.isPresent() && bytes >= part.sizeBytes()) {
                return found.get();
            }
            if (Calls.remaining().compareTo(PART_SIZE_POLL) <= 0) {
                // The CO retries NodeExpandVolume; nothing was changed yet.
                throw Status.UNAVAILABLE.withDescription("volume " + id + ": part " + part.name() + " shows "
                        + (found.isEmpty() ? "no device on this node" : bytes + " bytes on this node") + ", not yet its "
                        + part.sizeBytes() + " bytes; retry").asRuntimeException();
            }
            Thread.sleep(PART_SIZE_POLL.toMillis());
        }
    }

    /** A leg's verified device on this node, if it has one now; a device that fails verification is none. */
    Optional<Path> legDevice(String part) {
        try {
            return currentDevice(part);
        } catch (StatusRuntimeException e) {
            return Optional.empty();
        }
    }

    /**
     * Undoes {@link #device} once nothing is mounted from it any more: takes a multi-part volume's
     * device apart, then ends this node's connections to its parts, or to the single volume.
     * Read from etcd and sysfs alone, so it works the same after a restart of the plugin.
     */
    void release(String id) throws Exception {
        Optional<VolumeParts> parts = view.volumeParts(id);
        mirrors.forgetMirror(id);
        assembler.disassemble(id, parts);
        // Retired legs too: one the keeper had not let go of yet is still connected.
        for (String part : parts.map(VolumeParts::allPartNames).orElse(List.of())) {
            Calls.await(view.follow(part));
            disconnect(part);
        }
        disconnect(id);
    }

    /**
     * The block device of the volume on this node: the local device, the serving node's device
     * handed over on this machine, or the connected NVMe namespace, once {@link DeviceVerifier} has
     * traced it back to the volume. A handed-over device passes exactly the checks of a local one
     * (against the serving node's pool), so a status naming another device is refused either way.
     */
    Path attach(String id) throws Exception {
        return attach(id, false);
    }

    /**
     * @param mirrorLeg connect with a short I/O failure timeout ({@link NvmeConnector#LEG_FAST_IO_FAIL_SECONDS}):
     *                  md must see a lost leg's I/O fail to go on with the others, where a single
     *                  volume's I/O rather waits for its node to return
     */
    private Path attach(String id, boolean mirrorLeg) throws Exception {
        String hostNqn = Calls.await(store.get(keys.registration(nodeId), NodeRegistration.class))
                .map(v -> v.value().hostNqn())
                .orElseThrow(() -> Calls.failedPrecondition("node " + nodeId
                        + " is not registered: its Ferry agent must run to give the node a host NQN"));
        Ready ready = Calls.await(view.await(() -> usable(id, hostNqn), Calls.remaining()),
                "volume " + id + " to be Ready and served to " + nodeId);
        if (ready.usesDevice()) {
            return verifier.local(id, pool(id, ready.placement()), ready.status().devicePath(), view.clusterId().orElse(null));
        }
        return connect(id, ready, hostNqn, mirrorLeg);
    }

    /** Connects to the volume's export once it is traced back to the volume ({@link DeviceVerifier#export}). */
    private Path connect(String id, Ready ready, String hostNqn, boolean mirrorLeg) throws InterruptedException {
        verifier.export(id, view.globalConfig().nqnPrefix(), view.clusterId().orElse(null), ready.status().export());
        return nvme.connect(ready.status().export(), hostNqn, view.globalConfig().nvmeAuth(), mirrorLeg);
    }

    /** How this node reaches the volume placed as {@code placement}, by the one rule ({@link Reach#of}). */
    private Reach reach(Placement placement) {
        return Reach.of(placement.node(), view.registration(placement.node()).orElse(null), placement.engine(),
                nodeId, view.registration(nodeId).orElse(null));
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
    Optional<Path> currentDevice(String id) {
        Optional<VolumeParts> parts = view.volumeParts(id);
        if (parts.isPresent()) {
            return assembler.assembled(parts.get());
        }
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
                : view.volumeStatus(placement.node(), id).orElse(null), nodeId, hostNqn,
                placement == null ? null : view.registration(placement.node()).orElse(null),
                view.registration(nodeId).orElse(null), true)).map(Ready::of);
    }

    /** Whether this node is handed the volume's device on the serving node's machine. */
    private boolean handedOver(String id) {
        return view.placement(id).map(p -> reach(p) == Reach.HANDOFF).orElse(false);
    }

    /**
     * Ends this node's NVMe connection to the volume, if it made one; a device handed over on this
     * machine was never connected, and a connection to its subsystem here is not this node's to end.
     */
    void disconnect(String id) {
        if (handedOver(id)) {
            return;
        }
        nqnsOf(id).forEach(nvme::disconnect);
    }

    /** Whether this node holds an NVMe connection to the volume's export (see {@link #disconnect}). */
    boolean connectedTo(String id) {
        return !handedOver(id) && nqnsOf(id).stream().anyMatch(nvme::connected);
    }

    /**
     * Both names an export of this volume may have: this cluster's, and the one of before cluster ids
     * that an agent keeps serving until it is unexported.
     */
    List<String> nqnsOf(String id) {
        String prefix = view.globalConfig().nqnPrefix();
        Optional<String> cluster = view.clusterId();
        List<String> nqns = new ArrayList<>();
        cluster.ifPresent(c -> nqns.add(Nqn.forVolume(prefix, c, id)));
        nqns.add(Nqn.legacyForVolume(prefix, id));
        return nqns;
    }

    /**
     * How the volume looks from this node, as NodeGetVolumeStats reports it; a multi-part volume is
     * abnormal when any of its parts is, named.
     */
    VolumeCondition condition(String id) {
        Optional<MirrorHealth> mirror = mirrors.mirrorHealth(id);
        if (mirror.isPresent()) {
            // Looked after from now on, also when the plugin restarted since the stage.
            mirrors.staged(id);
            StringBuilder message = new StringBuilder(mirror.get().message());
            boolean abnormal = mirror.get().abnormal();
            for (String part : view.volumeParts(id).map(VolumeParts::partNames).orElse(List.of())) {
                // md learns of a lost leg only from I/O that fails; the controller may know first.
                Optional<String> problem = servingProblem(part);
                if (problem.isPresent()) {
                    abnormal = true;
                    message.append("; part ").append(part).append(": ").append(problem.get());
                }
            }
            return VolumeCondition.newBuilder().setAbnormal(abnormal).setMessage(message.toString()).build();
        }
        for (String part : view.volumeParts(id).map(VolumeParts::partNames).orElse(List.of())) {
            Optional<String> problem = servingProblem(part);
            if (problem.isPresent()) {
                return VolumeCondition.newBuilder().setAbnormal(true).setMessage("part " + part + ": " + problem.get())
                        .build();
            }
        }
        Optional<String> problem = servingProblem(id);
        if (problem.isPresent()) {
            return VolumeCondition.newBuilder().setAbnormal(true).setMessage(problem.get()).build();
        }
        try {
            currentDevice(id);
        } catch (StatusRuntimeException e) {
            return VolumeCondition.newBuilder().setAbnormal(true).setMessage(e.getStatus().getDescription()).build();
        }
        return VolumeCondition.newBuilder().setAbnormal(false).setMessage("mounted").build();
    }

    /** What the controller or the serving agent reports wrong with serving the volume, if anything. */
    private Optional<String> servingProblem(String id) {
        VolumeScheduling scheduling = view.volumeScheduling(id).orElse(null);
        if (scheduling != null && !scheduling.reachable()) {
            return Optional.of(scheduling.message() != null ? scheduling.message() : "the serving node is down");
        }
        Placement placement = view.placement(id).orElse(null);
        VolumeStatus status = placement == null ? null : view.volumeStatus(placement.node(), id).orElse(null);
        if (status != null && status.failing()) {
            return Optional.of("the agent reports: " + status.message());
        }
        return Optional.empty();
    }
}
