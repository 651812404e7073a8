package io.ferry.tools.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.store.Versioned;
import io.ferry.etcd.testing.Await;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.model.Engine;
import io.ferry.model.Layout;
import io.ferry.model.NodeDrain;
import io.ferry.model.PartNames;
import io.ferry.model.Placement;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolSource;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeParts;
import io.ferry.tools.cli.NodeDrainCommands.Fate;
import io.ferry.tools.cli.NodeDrainCommands.Row;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code ferryctl node drain} and {@code undrain} against a real etcd: the drain record, the node's pools made
 * unschedulable and given back (only those the drain took), what the plan says of each volume on the node, and
 * the refusals. The moves themselves are the controller's ({@code NodeDrainIT} of the controller module).
 */
class NodeDrainIT {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    private static final long SIZE = 256L << 20;
    private static final long LEG = VolumeParts.mirrorLegBytes(SIZE);
    private static final ObjectMapper JSON = new ObjectMapper();

    private EtcdStore store;
    private FerryKeys keys;
    private CtlShell ctl;

    @BeforeEach
    void setUp() {
        String prefix = EtcdExtension.uniquePrefix();
        store = EtcdStore.connect(etcd.options(prefix));
        keys = store.keys();
        ctl = new CtlShell(new HashMap<>(Map.of("FERRY_ETCD_ENDPOINTS", etcd.endpoint(), "FERRY_PREFIX", prefix,
                "FERRY_NODE", "node-a")));
        pool("pool-b1", "node-b", true);
        pool("pool-b2", "node-b", false);
        pool("pool-c", "node-c", true);
    }

    @AfterEach
    void tearDown() {
        store.close();
    }

    private void pool(String name, String node, boolean schedulable) {
        Await.result(store.put(keys.poolConfig(name), PoolConfig.builder(name, node, Engine.FILE,
                PoolSource.directory("/var/lib/ferry/" + name)).schedulable(schedulable).build()));
    }

    private PoolConfig poolConfig(String name) {
        return Await.result(store.get(keys.poolConfig(name), PoolConfig.class)).map(Versioned::value).orElseThrow();
    }

    private static Placement placement(String volume, String pool, String node) {
        return Placement.of(volume, pool, node, Engine.FILE, LEG, false, 1, null, null, null, Instant.EPOCH);
    }

    @Test
    void drainMakesTheNodesSchedulablePoolsUnschedulableAndUndrainGivesBackOnlyThose() throws Exception {
        JsonNode out = JSON.readTree(ctl.ok("node", "drain", "node-b", "--max-parallel", "3", "-o", "json").out());
        assertThat(out.get("written").asBoolean()).isTrue();
        NodeDrain drain = Await.result(store.get(keys.nodeDrain("node-b"), NodeDrain.class)).orElseThrow().value();
        assertThat(drain.pools()).containsExactly("pool-b1");
        assertThat(drain.maxParallelMoves()).isEqualTo(3);
        assertThat(poolConfig("pool-b1").schedulable()).isFalse();
        assertThat(poolConfig("pool-b2").schedulable()).isFalse();
        assertThat(poolConfig("pool-c").schedulable()).isTrue();

        long revision = Await.result(store.get(keys.nodeDrain("node-b"), NodeDrain.class)).orElseThrow().modRevision();
        assertThat(ctl.ok("node", "drain", "node-b", "--max-parallel", "3").out())
                .contains("node node-b is draining already; nothing written");
        assertThat(Await.result(store.get(keys.nodeDrain("node-b"), NodeDrain.class)).orElseThrow().modRevision())
                .isEqualTo(revision);

        assertThat(ctl.ok("node", "undrain", "node-b").out())
                .contains("node node-b no longer draining; pools pool-b1 schedulable again");
        assertThat(poolConfig("pool-b1").schedulable()).isTrue();
        // Unschedulable before the drain: the operator's own setting stays.
        assertThat(poolConfig("pool-b2").schedulable()).isFalse();
        assertThat(Await.result(store.get(keys.nodeDrain("node-b"), NodeDrain.class))).isEmpty();
        assertThat(ctl.ok("node", "undrain", "node-b").out()).contains("node node-b is not draining; nothing written");
    }

    @Test
    void thePlanSaysWhatMovesAndWhatStays() throws Exception {
        VolumeParts mirror = VolumeParts.of("db", Layout.MIRROR, List.of(new VolumeParts.Part("db--p0", 0, LEG),
                new VolumeParts.Part("db--p1", 1, LEG)), UUID.randomUUID().toString(), Instant.EPOCH);
        Await.result(store.put(keys.volume("db"), VolumeIntent.builder("db", SIZE).layout(Layout.MIRROR).parts(2).build()));
        Await.result(store.put(keys.volumeParts("db"), mirror));
        Await.result(store.put(keys.placement("db--p0"), placement("db--p0", "pool-b1", "node-b")));
        Await.result(store.put(keys.placement("db--p1"), placement("db--p1", "pool-c", "node-c")));
        Await.result(store.put(keys.volume("one"), VolumeIntent.builder("one", SIZE).build()));
        Await.result(store.put(keys.placement("one"), placement("one", "pool-b2", "node-b")));

        JsonNode out = JSON.readTree(ctl.ok("node", "drain", "node-b", "-o", "json").out());
        assertThat(out.get("volumes")).hasSize(2);
        assertThat(out.get("volumes").get(0).get("volume").asText()).isEqualTo("db--p0");
        assertThat(out.get("volumes").get(0).get("fate").asText()).isEqualTo("moves");
        assertThat(out.get("volumes").get(1).get("volume").asText()).isEqualTo("one");
        assertThat(out.get("volumes").get(1).get("fate").asText()).isEqualTo("stays");
        assertThat(out.get("volumes").get(1).get("detail").asText()).contains("a single volume");

        VolumeParts moving = mirror.withJoining(new VolumeParts.Part(PartNames.of("db", 2), 2, LEG, null, "db--p0"));
        List<Row> rows = NodeDrainCommands.plan("node-b", List.of(placement("db--p0", "pool-b1", "node-b"),
                placement("db--p2", "pool-c", "node-c")), Map.of("db", moving), Map.of());
        assertThat(rows).extracting(Row::fate).containsExactly(Fate.MOVING);
        rows = NodeDrainCommands.plan("node-b", List.of(placement("db--p0", "pool-b1", "node-b")),
                Map.of("db", moving.withMoveDone()), Map.of());
        assertThat(rows).extracting(Row::fate).containsExactly(Fate.LEAVING);
    }

    @Test
    void refusalsWriteNothing() {
        assertThat(ctl.fails(ExitCodes.NOT_FOUND, "node", "drain", "node-x").err()).contains("no node named node-x");
        ctl.fails(ExitCodes.USAGE, "node", "drain", "Bad_Node");
        assertThat(ctl.fails(ExitCodes.USAGE, "node", "drain", "node-b", "--max-parallel", "0").err())
                .contains("--max-parallel: 0 is not in 1..16");
        assertThat(Await.result(store.get(keys.nodeDrain("node-b"), NodeDrain.class))).isEmpty();
        assertThat(poolConfig("pool-b1").schedulable()).isTrue();
    }
}
