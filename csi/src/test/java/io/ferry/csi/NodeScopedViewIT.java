package io.ferry.csi;

import io.ferry.etcd.FerryKeys;
import io.ferry.runtime.informer.InformerOptions;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.model.Attachment;
import io.ferry.model.Engine;
import io.ferry.model.NodeRegistration;
import io.ferry.model.Placement;
import io.ferry.model.SchedulingPhase;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumePhase;
import io.ferry.model.VolumeScheduling;
import io.ferry.model.VolumeStatus;
import io.ferry.runtime.exec.ProcessCommandRunner;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;

import static io.ferry.etcd.testing.Await.result;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * A node plugin's watches are scoped to its node: the changes its view receives do not grow with the
 * volumes created, placed, attached and served elsewhere, while a whole-cluster view receives them all.
 */
class NodeScopedViewIT {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    static final long GI = 1L << 30;
    static final Instant T = Instant.parse("2026-11-30T12:00:00Z");

    EtcdStore store;
    FerryKeys keys;
    CsiServer nodePlugin;
    CsiServer controllerPlugin;

    @BeforeEach
    void setUp() throws Exception {
        String prefix = EtcdExtension.uniquePrefix();
        store = EtcdStore.connect(etcd.options(prefix));
        keys = store.keys();
        for (String node : List.of("node-a", "node-b", "node-c")) {
            result(store.put(keys.registration(node), NodeRegistration.of(node, "10.0.0.1", null,
                    "nqn.2014-08.org.nvmexpress:uuid:" + node, EnumSet.of(Engine.FILE), Map.of(), "test", T)));
        }
        // pvc-mine lives on node-b and is consumed on node-a, where the node plugin runs.
        writeVolume("pvc-mine", "node-b", "node-a", 1);
        nodePlugin = new CsiServer(new CsiServer.Options(CsiServer.Mode.NODE, new CsiEndpoint.Tcp("127.0.0.1", 0),
                NodeService.Options.defaults("node-a"), InformerOptions.defaults()), EtcdStore.connect(etcd.options(prefix)),
                true, new ProcessCommandRunner()).start();
        controllerPlugin = new CsiServer(new CsiServer.Options(CsiServer.Mode.CONTROLLER,
                new CsiEndpoint.Tcp("127.0.0.1", 0), null, InformerOptions.defaults()),
                EtcdStore.connect(etcd.options(prefix)), true, new ProcessCommandRunner()).start();
    }

    @AfterEach
    void tearDown() {
        if (nodePlugin != null) {
            nodePlugin.close();
        }
        if (controllerPlugin != null) {
            controllerPlugin.close();
        }
        store.close();
    }

    /** Every key a volume has once placed, served and attached: intent, placement, record, status, attachment. */
    private void writeVolume(String volume, String servedBy, String consumer, long generation) {
        result(store.put(keys.volume(volume), VolumeIntent.builder(volume, GI).consumerNode(consumer).createdBy("test")
                .createdAt(T).build()));
        result(store.put(keys.placement(volume), Placement.of(volume, "pool-" + servedBy, servedBy, Engine.FILE, GI, true,
                generation, consumer, null, null, T)));
        result(store.put(keys.volumeScheduling(volume), VolumeScheduling.of(volume, SchedulingPhase.PLACED, Map.of(),
                null, servedBy, "pool-" + servedBy, true, 1, T)));
        result(store.put(keys.volumeStatus(servedBy, volume), VolumeStatus.of(volume, servedBy, VolumePhase.READY,
                "/dev/loop1", GI, null, generation, null, T)));
        result(store.put(keys.attachment(volume, consumer), Attachment.of(volume, consumer,
                "nqn.2014-08.org.nvmexpress:uuid:" + consumer, false, T)));
    }

    /**
     * Creates {@code count} volumes served by node-b or node-c for node-c, then touches pvc-mine's
     * status once and waits until the node plugin has that change: its watches have by then
     * delivered everything written before (one etcd, writes in order). Returns the changes the
     * node plugin's view received meanwhile.
     */
    private long changesWhileOthersAreCreated(int count, int round) {
        ClusterView node = nodePlugin.view();
        ClusterView whole = controllerPlugin.view();
        long nodeBefore = node.changesReceived();
        long wholeBefore = whole.changesReceived();
        for (int i = 0; i < count; i++) {
            writeVolume("other-" + round + "-" + i, i % 2 == 0 ? "node-b" : "node-c", "node-c", 1);
        }
        long marker = 100 + round;
        result(store.put(keys.volumeStatus("node-b", "pvc-mine"), VolumeStatus.of("pvc-mine", "node-b",
                VolumePhase.READY, "/dev/loop1", GI, null, 1, "round " + marker, T)));
        await().atMost(Duration.ofSeconds(30)).until(() -> node.volumeStatus("node-b", "pvc-mine")
                .map(s -> ("round " + marker).equals(s.message())).orElse(false));
        await().atMost(Duration.ofSeconds(30)).until(() -> whole.changesReceived() - wholeBefore >= 5L * count + 1);
        return node.changesReceived() - nodeBefore;
    }

    @Test
    void theNodePluginsChangesDoNotGrowWithVolumesOfOtherNodes() throws Exception {
        ClusterView node = nodePlugin.view();
        assertThat(node.scope()).contains("node-a");
        Calls.await(node.follow("pvc-mine"));
        assertThat(node.placement("pvc-mine")).map(Placement::node).contains("node-b");
        assertThat(node.volumeStatus("node-b", "pvc-mine")).map(VolumeStatus::phase).contains(VolumePhase.READY);
        assertThat(node.registration("node-b")).isPresent();
        assertThat(node.registration("node-a")).isPresent();
        assertThat(node.volume("pvc-mine")).isPresent();

        List<Long> perRound = new ArrayList<>();
        perRound.add(changesWhileOthersAreCreated(20, 1));
        perRound.add(changesWhileOthersAreCreated(200, 2));
        // Only the touch of pvc-mine's status reached the node plugin, with 20 volumes elsewhere as with 200.
        assertThat(perRound).containsExactly(1L, 1L);
        // The whole-cluster view of the controller service saw each of those volumes' five keys.
        assertThat(controllerPlugin.view().changesReceived()).isGreaterThanOrEqualTo(5L * 220);
        // The node plugin reads nothing it does not watch.
        assertThatThrownBy(() -> node.volumes()).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("node-a");
    }

    @Test
    void aFollowedVolumeMovedToAnotherNodeIsReadThereAndAnUnfollowedOneCostsNothing() throws Exception {
        ClusterView node = nodePlugin.view();
        Calls.await(node.follow("pvc-mine"));
        assertThat(node.volumeStatus("node-b", "pvc-mine")).isPresent();

        // Placed again on node-c (a new generation): the view moves its status watch there.
        result(store.put(keys.volumeStatus("node-c", "pvc-mine"), VolumeStatus.of("pvc-mine", "node-c",
                VolumePhase.READY, "/dev/loop2", GI, null, 2, null, T)));
        result(store.put(keys.placement("pvc-mine"), Placement.of("pvc-mine", "pool-node-c", "node-c", Engine.FILE, GI,
                true, 2, "node-a", null, null, T)));
        await().atMost(Duration.ofSeconds(30)).until(() -> node.volumeStatus("node-c", "pvc-mine")
                .map(s -> s.observedGeneration() == 2).orElse(false));
        assertThat(node.volumeStatus("node-b", "pvc-mine")).isEmpty();
        assertThat(node.registration("node-c")).isPresent();

        node.unfollow("pvc-mine");
        assertThat(node.placement("pvc-mine")).isEmpty();
        long before = node.changesReceived();
        writeVolume("pvc-mine", "node-c", "node-a", 3);
        // Nothing more arrives for a volume the node no longer stages (give the watches time to deliver).
        Thread.sleep(500);
        assertThat(node.changesReceived()).isEqualTo(before);
    }
}
