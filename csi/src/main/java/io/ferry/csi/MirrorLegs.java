package io.ferry.csi;

import io.ferry.etcd.store.EtcdStore;
import io.ferry.model.Layout;
import io.ferry.model.MirrorReport;
import io.ferry.model.VolumeParts;
import io.grpc.Status;
import io.vertx.core.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Predicate;

/**
 * The mirrors staged on this node, as {@link MirrorKeeper} looks after them: their health, legs md
 * dropped given back, a replacement leg added in place of a retired one, and a retired leg taken out
 * of the array and disconnected. Each leg's device is found by {@link VolumeDevices}, the one place
 * that traces a device back to its volume.
 */
final class MirrorLegs implements MirrorKeeper.Mirrors {

    // The node service's log category: operators follow a volume's staging under one name.
    private static final Logger log = LoggerFactory.getLogger(NodeService.class);

    /**
     * How long the keeper waits for etcd to take a report: it holds the volume's lock meanwhile, so a
     * slow etcd delays a stage of that volume by at most this, and the report is written next round.
     */
    static final Duration REPORT_TIMEOUT = Duration.ofSeconds(5);

    private final EtcdStore store;
    private final String nodeId;
    private final VolumeDevices devices;
    private final ClusterView view;
    private final NvmeConnector nvme;
    private final PartsAssembler assembler;
    private final Set<String> stagedMirrors = ConcurrentHashMap.newKeySet();

    MirrorLegs(EtcdStore store, String nodeId, VolumeDevices devices, ClusterView view, NvmeConnector nvme,
               PartsAssembler assembler) {
        this.store = store;
        this.nodeId = nodeId;
        this.devices = devices;
        this.view = view;
        this.nvme = nvme;
        this.assembler = assembler;
    }

    /** Looked after from now on: staged here, or found assembled after a restart of the plugin. */
    void staged(String id) {
        stagedMirrors.add(id);
    }

    @Override
    public Set<String> stagedMirrors() {
        return Set.copyOf(stagedMirrors);
    }

    @Override
    public void forgetMirror(String id) {
        stagedMirrors.remove(id);
    }

    /**
     * While a mirror has one leg in sync, that leg's I/O waits for a lost path (ctrl-loss-tmo) instead
     * of failing after {@link NvmeConnector#LEG_FAST_IO_FAIL_SECONDS}: md would pass its errors up to
     * the filesystem. With two or more in sync, each fails fast again, so md can drop one.
     */
    @Override
    public void holdLastLeg(String id, MirrorHealth health) {
        boolean last = health.inSync() == 1;
        for (MirrorHealth.Leg leg : health.legs()) {
            if (leg.state() == MirrorHealth.LegState.IN_SYNC) {
                devices.servedExport(leg.part()).ifPresent(export -> nvme.failFast(export.nqn(), !last));
            }
        }
    }

    /**
     * The health of a mirror assembled on this node, from its md array and each leg's device here;
     * empty when the volume is no mirror or its array is not running. A leg placed since the stage (a
     * replacement) is followed from here on, so its placement and status are known to this node.
     */
    @Override
    public Optional<MirrorHealth> mirrorHealth(String id) {
        Optional<VolumeParts> parts = view.volumeParts(id).filter(p -> p.layout() == Layout.MIRROR);
        Optional<Path> md = parts.flatMap(assembler::assembled);
        if (md.isEmpty()) {
            return Optional.empty();
        }
        parts.get().allPartNames().forEach(view::follow);
        List<Optional<Path>> legs = parts.get().partNames().stream().map(devices::legDevice).toList();
        return Optional.of(assembler.mirrors().health(md.get(), parts.get(), legs));
    }

    /**
     * What this node's md says of the mirror, one leg per member of the parts record in its order
     * (which {@code health} was read for), under the record's array UUID so that the controller can
     * tell a report of another array of the volume.
     */
    @Override
    public Optional<MirrorReport> mirrorReport(String id, MirrorHealth health) {
        Optional<VolumeParts> parts = view.volumeParts(id).filter(p -> p.layout() == Layout.MIRROR);
        if (parts.isEmpty() || !parts.get().partNames().equals(health.legs().stream().map(MirrorHealth.Leg::part).toList())) {
            return Optional.empty();
        }
        List<MirrorReport.Leg> legs = health.legs().stream()
                .map(l -> new MirrorReport.Leg(l.part(), MirrorReport.LegState.valueOf(l.state().name()))).toList();
        boolean syncing = health.progress() >= 0 && !"idle".equals(health.syncAction());
        // Tenths of a percent: finer would make every round's reading a change.
        double percent = syncing ? Math.floor(health.progress() * 1000) / 10 : -1;
        return Optional.of(MirrorReport.of(id, nodeId, parts.get().arrayUuid(), legs, health.syncAction(), percent,
                syncing ? health.rateKibPerSecond() : 0, Instant.now()));
    }

    @Override
    public void writeReport(MirrorReport report) {
        await(store.put(store.keys().mirrorReport(report.volume(), nodeId), report), "writing the mirror report");
    }

    @Override
    public void withdrawReport(String id) {
        await(store.delete(store.keys().mirrorReport(id, nodeId)), "removing the mirror report");
    }

    /** Waits a bounded time for etcd: the keeper's thread has no call deadline to bound it. */
    private static void await(Future<?> future, String what) {
        try {
            future.toCompletionStage().toCompletableFuture().get(REPORT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw new IllegalStateException(what + ": etcd did not answer within " + REPORT_TIMEOUT.toSeconds() + " s");
        } catch (ExecutionException e) {
            throw new IllegalStateException(what + ": " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(what + ": interrupted");
        }
    }

    /**
     * First takes the retired legs out of the array, then gives the mirror back its legs that
     * {@code health} (just read) shows out of the array and whose devices are here: a leg md dropped
     * is re-added, a leg placed blank (a replacement, or a leg joining by a move) added. Last, the
     * array's slots are fitted to the members ({@link MirrorArrays#fitSlots}): a joining leg gets one,
     * a leg that left gives its back. Only legs {@code mayTry} allows; what was done, one per leg.
     */
    @Override
    public List<MirrorArrays.Repair> repairMirror(String id, MirrorHealth health, Predicate<String> mayTry) {
        VolumeParts parts = view.volumeParts(id).orElse(null);
        if (parts == null) {
            return List.of();
        }
        Path md = assembler.mirrors().device(health);
        List<MirrorArrays.Repair> done = new ArrayList<>(retire(parts, md, mayTry));
        Map<String, Path> out = new LinkedHashMap<>();
        for (MirrorHealth.Leg leg : health.legs()) {
            if (leg.state() == MirrorHealth.LegState.IN_SYNC || leg.state() == MirrorHealth.LegState.REBUILDING
                    || !mayTry.test(leg.part())) {
                continue;
            }
            Optional<Path> device = leg.state() == MirrorHealth.LegState.ABSENT ? devices.reconnected(leg.part())
                    : devices.legDevice(leg.part());
            device.ifPresent(d -> out.put(leg.part(), d));
        }
        if (!out.isEmpty()) {
            done.addAll(assembler.mirrors().repair(parts, md, out));
        }
        try {
            // Read again: the retirement above may just have taken the last retired leg out.
            assembler.mirrors().fitSlots(parts, md, !retiredMembers(parts, md).isEmpty());
        } catch (RuntimeException e) {
            log.warn("{} (tried again in the next round)", Status.fromThrowable(e).getDescription());
        }
        return done;
    }

    /**
     * Takes each retired leg still in the array out of it ({@link MirrorArrays#retire}), and ends this
     * node's connection to a retired leg once it is no member: the controller has withdrawn its export,
     * and its node deletes it.
     */
    private List<MirrorArrays.Repair> retire(VolumeParts parts, Path md, Predicate<String> mayTry) {
        Map<String, String> inArray = retiredMembers(parts, md);
        Map<String, String> members = new LinkedHashMap<>();
        for (VolumeParts.Part leg : parts.retired()) {
            String member = inArray.get(leg.name());
            if (member != null) {
                if (mayTry.test(leg.name())) {
                    members.put(leg.name(), member);
                }
            } else if (devices.connectedTo(leg.name())) {
                devices.disconnect(leg.name());
                log.info("volume {}: retired leg {} disconnected", parts.volume(), leg.name());
            }
        }
        return members.isEmpty() ? List.of() : assembler.mirrors().retire(parts, md, members);
    }

    /**
     * The retired legs that are still members of the array, each with its member's kernel name: found
     * by the subsystem of its NVMe namespace, or as its local device while its status still names one.
     */
    private Map<String, String> retiredMembers(VolumeParts parts, Path md) {
        Map<String, String> members = new LinkedHashMap<>();
        for (VolumeParts.Part leg : parts.retired()) {
            Optional<String> member = assembler.mirrors().members().memberOf(md, devices.nqnsOf(leg.name()));
            if (member.isEmpty()) {
                member = devices.legDevice(leg.name()).flatMap(d -> assembler.mirrors().members().memberOf(md, d));
            }
            member.ifPresent(m -> members.put(leg.name(), m));
        }
        return members;
    }
}
