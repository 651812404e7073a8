package io.ferry.csi;

import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.Condition;
import io.ferry.model.ControllerLeader;
import io.ferry.model.Engine;
import io.ferry.model.ExportInfo;
import io.ferry.model.FailureReason;
import io.ferry.model.Layout;
import io.ferry.model.NodeRegistration;
import io.ferry.model.PartNames;
import io.ferry.model.Placement;
import io.ferry.model.SchedulingPhase;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeParts;
import io.ferry.model.VolumePhase;
import io.ferry.model.VolumeScheduling;
import io.ferry.model.VolumeStatus;

import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static io.ferry.etcd.testing.Await.result;

/**
 * Plays, with etcd writes alone, the controller and the agents of a multi-part volume's parts, as
 * docs/layouts.md and issue #17's shared contract describe them: part intents ({@code partOf} set),
 * their placements and scheduling records and {@code parts/<vol>}, written together; then each
 * part's agent status, with or without an export. The CSI controller calls are tested against it
 * while the real controller learns to place parts (the {@code ctl} branch); the calls read nothing
 * but these keys, so the stand-in can be swapped for the real controller without changing a test.
 */
public final class PartsControllerStandIn {

    public static final Instant T = Instant.parse("2026-12-01T00:00:00Z");
    public static final String ARRAY_UUID = "3b0e1a52-7c4d-4e8f-9a6b-1c2d3e4f5a6b";

    private final EtcdStore store;
    private final FerryKeys keys;

    public PartsControllerStandIn(EtcdStore store) {
        this.store = store;
        this.keys = store.keys();
    }

    /** A running controller, as the CSI calls look for one (a candidate in the election), and registered nodes. */
    public void start(String... nodes) {
        result(store.put(keys.controllerLeader() + "/stand-in", ControllerLeader.of("stand-in", null, T)));
        for (String node : nodes) {
            result(store.put(keys.registration(node), NodeRegistration.of(node, "10.0.0.1", null, hostNqn(node),
                    EnumSet.of(Engine.LVM), Map.of(), "stand-in", T)));
        }
    }

    public static String hostNqn(String node) {
        return "nqn.2014-08.org.nvmexpress:uuid:" + node;
    }

    /**
     * Places the volume's parts, part {@code i} of {@code sizes[i]} bytes on {@code nodes[i]}, at
     * generation 1: what the controller writes in its one transaction.
     */
    public VolumeParts place(String volume, List<String> nodes, long... sizes) {
        VolumeIntent intent = result(store.get(keys.volume(volume), VolumeIntent.class)).orElseThrow().value();
        List<VolumeParts.Part> parts = new ArrayList<>();
        for (int i = 0; i < nodes.size(); i++) {
            String part = PartNames.of(volume, i);
            String node = nodes.get(i);
            parts.add(new VolumeParts.Part(part, i, sizes[i]));
            result(store.put(keys.volume(part), VolumeIntent.builder(part, sizes[i]).partOf(volume).engine(Engine.LVM)
                    .consumerNode(intent.consumerNode()).createdBy("controller").createdAt(T).build()));
            result(store.put(keys.placement(part), Placement.of(part, pool(node), node, Engine.LVM, sizes[i], false, 1,
                    intent.consumerNode(), null, null, T)));
            result(store.put(keys.volumeScheduling(part), VolumeScheduling.of(part, SchedulingPhase.PLACED, Map.of(),
                    null, node, pool(node), true, 1, T)));
        }
        VolumeParts record = VolumeParts.of(volume, intent.layout(), parts,
                intent.layout() == Layout.MIRROR ? ARRAY_UUID : null, T);
        result(store.put(keys.volumeParts(volume), record));
        return record;
    }

    /** The controller cannot place the volume: its record refuses the intent for good. */
    public void refuse(String volume, String message) {
        Versioned<VolumeIntent> intent = result(store.get(keys.volume(volume), VolumeIntent.class)).orElseThrow();
        result(store.put(keys.volumeScheduling(volume), VolumeScheduling.of(volume, SchedulingPhase.NO_FIT,
                Map.of("fewer node domains than legs", 1), message, null, null, true, intent.modRevision(), T)
                .withConditions(List.of(Condition.failed(Condition.SCHEDULED, FailureReason.NO_FIT, message,
                        intent.modRevision(), 0)))));
    }

    /** The agent of the part's node reports it Ready, exported to {@code hosts} (none: not exported). */
    public void ready(String part, String node, long sizeBytes, Set<String> hosts) {
        ExportInfo export = hosts.isEmpty() ? null : ExportInfo.tcp("nqn.2026-12.io.ferry:" + part, "10.0.0.2", 4420,
                "serial-" + part, hosts);
        result(store.put(keys.volumeStatus(node, part), VolumeStatus.of(part, node, pool(node), VolumePhase.READY,
                "/dev/ferry/" + part, sizeBytes, export, 1, null, T)));
    }

    private static String pool(String node) {
        return "pool-" + node;
    }
}
