package io.ferry.tools.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.ferry.csi.PartsControllerStandIn;
import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.testing.Await;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.model.Attachment;
import io.ferry.model.Layout;
import io.ferry.model.SnapshotIntent;
import io.ferry.model.VolumeIntent;
import io.ferry.tools.cli.CtlShell.Result;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * ferryctl on multi-part volumes (issue #17): {@code volume create --layout}, its wait for every
 * part, {@code volume ls}/{@code describe} with the parts, {@code volume wait}, and the refusals,
 * against a real etcd with {@link PartsControllerStandIn} playing the controller and the parts' agents.
 */
class VolumeLayoutsIT {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    private static final long LEG = 256L << 20;
    private static final ObjectMapper JSON = new ObjectMapper();

    private EtcdStore store;
    private FerryKeys keys;
    private CtlShell ctl;
    private PartsControllerStandIn controller;

    @BeforeEach
    void setUp() {
        String prefix = EtcdExtension.uniquePrefix();
        store = EtcdStore.connect(etcd.options(prefix));
        keys = store.keys();
        ctl = new CtlShell(new HashMap<>(Map.of("FERRY_ETCD_ENDPOINTS", etcd.endpoint(), "FERRY_PREFIX", prefix,
                "FERRY_NODE", "node-a")));
        controller = new PartsControllerStandIn(store);
        controller.start("node-a", "node-b", "node-c");
    }

    @AfterEach
    void tearDown() {
        store.close();
    }

    /** `volume create --layout mirror --parts 3`, running while the stand-in places and readies the legs. */
    private CompletableFuture<Result> createMirror(String name) {
        return CompletableFuture.supplyAsync(() -> ctl.run("volume", "create", name, "--size", "256Mi", "--consumer",
                "node-a", "--layout", "mirror", "--parts", "3", "--timeout", "30"));
    }

    private void awaitIntent(String name) {
        await().atMost(Duration.ofSeconds(10)).until(() -> Await.result(store.get(keys.volume(name), VolumeIntent.class))
                .isPresent());
    }

    @Test
    void createWithALayoutWaitsForEveryPartAndLsAndDescribeShowThem() throws Exception {
        CompletableFuture<Result> create = createMirror("db");
        awaitIntent("db");
        VolumeIntent intent = Await.result(store.get(keys.volume("db"), VolumeIntent.class)).orElseThrow().value();
        assertThat(intent.layout()).isEqualTo(Layout.MIRROR);
        assertThat(intent.parts()).isEqualTo(3);
        controller.place("db", List.of("node-a", "node-b", "node-c"), LEG, LEG, LEG);
        controller.ready("db--p0", "node-a", LEG, Set.of());
        controller.ready("db--p1", "node-b", LEG, Set.of());
        Thread.sleep(500);
        assertThat(create.isDone()).as("ready before its third leg").isFalse();
        controller.ready("db--p2", "node-c", LEG, Set.of());
        Result created = create.get(30, TimeUnit.SECONDS);
        assertThat(created.code()).as(created.toString()).isZero();
        assertThat(created.out()).contains("volume db ready: mirror of 3 parts: db--p0 on node-a, db--p1 on node-b,"
                + " db--p2 on node-c");

        // The same request again is unchanged; another part count is a conflict.
        assertThat(ctl.ok("volume", "create", "db", "--size", "256Mi", "--consumer", "node-a", "--layout", "mirror",
                "--parts", "3").out()).contains("volume db ready");
        ctl.fails(ExitCodes.CONFLICT, "volume", "create", "db", "--size", "256Mi", "--consumer", "node-a", "--layout",
                "mirror", "--parts", "2");

        Result ls = ctl.ok("volume", "ls");
        assertThat(ls.out().lines().findFirst().orElseThrow()).contains("LAYOUT");
        assertThat(ls.out()).contains("mirror/3").contains("node-a,node-b,node-c").doesNotContain("db--p");
        JsonNode rows = JSON.readTree(ctl.ok("volume", "ls", "-o", "json").out());
        assertThat(rows).hasSize(1);
        assertThat(rows.get(0).get("layout").asText()).isEqualTo("mirror");
        assertThat(rows.get(0).get("state").asText()).isEqualTo("Ready");
        assertThat(rows.get(0).get("parts")).extracting(p -> p.get("node").asText())
                .containsExactly("node-a", "node-b", "node-c");

        JsonNode describe = JSON.readTree(ctl.ok("volume", "describe", "db", "-o", "json").out());
        assertThat(describe.get("parts")).extracting(p -> p.get("placement").get("pool").asText())
                .containsExactly("pool-node-a", "pool-node-b", "pool-node-c");
        assertThat(describe.get("parts")).extracting(p -> p.get("state").asText()).containsOnly("Ready");

        // Served to node-a: its own leg needs a device, the others an export to its host.
        String host = PartsControllerStandIn.hostNqn("node-a");
        controller.ready("db--p1", "node-b", LEG, Set.of(host));
        ctl.fails(ExitCodes.TIMEOUT, "volume", "wait", "db", "--for", "served", "--node", "node-a", "--timeout", "1");
        controller.ready("db--p2", "node-c", LEG, Set.of(host));
        assertThat(ctl.ok("volume", "wait", "db", "--for", "served", "--node", "node-a").out())
                .contains("volume db served to node-a: mirror of 3 parts");
    }

    @Test
    void aMirrorThatCannotBePlacedIsRefusedAndResizeAndCloneAreRefusedWithAReason() throws Exception {
        CompletableFuture<Result> create = createMirror("nofit");
        awaitIntent("nofit");
        controller.refuse("nofit", "no placement: fewer node domains than legs 1");
        Result refused = create.get(30, TimeUnit.SECONDS);
        assertThat(refused.code()).as(refused.toString()).isEqualTo(ExitCodes.REFUSED);
        assertThat(refused.err()).contains("fewer node domains than legs");

        ctl.fails(ExitCodes.USAGE, "volume", "create", "bad", "--size", "256Mi", "--layout", "mirror", "--parts", "5");
        // Growing a volume whose parts could never be placed ends at once with the reason.
        assertThat(ctl.fails(ExitCodes.REFUSED, "volume", "resize", "nofit", "--size", "1Gi").err())
                .contains("fewer node domains than legs");
        assertThat(ctl.fails(ExitCodes.REFUSED, "volume", "create", "copy", "--size", "256Mi", "--clone-of", "nofit")
                .err()).contains("cloning a multi-part volume is not supported yet");
        assertThat(Await.result(store.get(keys.volume("copy"), VolumeIntent.class))).isEmpty();
        assertThat(ctl.fails(ExitCodes.REFUSED, "snapshot", "create", "snap", "--volume", "nofit").err())
                .contains("snapshots of multi-part volumes are not supported yet");
        assertThat(Await.result(store.get(keys.snapshot("snap"), SnapshotIntent.class))).isEmpty();

        // ferryctl attach does not assemble parts: refused at once, before any attachment is written.
        assertThat(ctl.fails(ExitCodes.REFUSED, "attach", "nofit", "--timeout", "30").err())
                .contains("ferryctl attach does not assemble parts yet");
        assertThat(Await.result(store.get(keys.attachment("nofit", "node-a"), Attachment.class))).isEmpty();
    }
}
