package io.ferry.tools.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.ferry.controller.Controller;
import io.ferry.controller.ControllerOptions;
import io.ferry.csi.CsiEndpoint;
import io.ferry.csi.CsiServer;
import io.ferry.etcd.testing.Cleanup;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.runtime.admin.AdminOptions;
import io.ferry.runtime.informer.InformerOptions;
import io.ferry.runtime.reconcile.RuntimeOptions;
import io.ferry.tools.cli.CtlShell.Result;
import io.ferry.tools.up.CsiComponent;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * {@code ferryctl csi} end to end, the way the QEMU testbed uses it: the real plugin (both services,
 * node {@link #NODE}) on a TCP endpoint, a real etcd, a real controller and the real file-engine
 * agent of that node, so staging formats and mounts a real loop device. Must run as root.
 */
class FerryCtlCsiIT {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    static final String NODE = "node-a";
    static final ObjectMapper JSON = new ObjectMapper();

    @RegisterExtension
    final CtlCluster local = new CtlCluster(etcd, "ferryctl-csi-it-", NODE);
    final CtlShell ctl = local.ctl;
    final Path root = local.root;
    CsiServer plugin;
    String endpoint;

    @BeforeEach
    void setUp() throws Exception {
        Controller controller = local.cluster.startController(new ControllerOptions("csi-ctl-it", Duration.ofSeconds(3),
                AdminOptions.loopback(0), InformerOptions.defaults(), RuntimeOptions.defaults().withConcurrency(16)
                .withDelays(Duration.ofMillis(100), Duration.ofSeconds(2)), Duration.ofMinutes(5)));
        local.cluster.startAgent(local.agentOptions().withLabels(Map.of("rack", "r1")));
        plugin = local.cluster.startComponent("csi", CsiComponent.both(new CsiEndpoint.Tcp("127.0.0.1", 0), NODE));
        endpoint = plugin.endpoint().url();
        await().atMost(Duration.ofSeconds(15)).until(controller::isLeader);
    }

    /** Whatever a failed check left mounted goes first, so that Ferry can then delete its volumes. */
    @AfterEach
    void releaseVolumes() throws Exception {
        Cleanup cleanup = new Cleanup();
        cleanup.step(local.scratch::unmountAll);
        cleanup.step(() -> {
            for (String volume : List.of("vol-csi", "never-ready")) {
                csi("controller-unpublish", "--volume-id", volume);
                ctl.run("volume", "rm", volume, "--ignore-not-found");
            }
        });
        cleanup.rethrow();
    }

    /** Mount points under this test's directory, deepest first. */
    List<String> mountsBelowRoot() {
        return local.scratch.mounts();
    }

    /** {@code ferryctl csi <args> --endpoint <the plugin>}. */
    Result csi(String... args) {
        List<String> all = new ArrayList<>(List.of("csi"));
        all.addAll(List.of(args));
        all.add("--endpoint");
        all.add(endpoint);
        return ctl.run(all.toArray(String[]::new));
    }

    Result ok(Result r) {
        assertThat(r.code()).as("%s", r).isZero();
        return r;
    }

    Result fails(int code, Result r) {
        assertThat(r.code()).as("%s", r).isEqualTo(code);
        assertThat(r.err()).startsWith("error: ");
        return r;
    }

    // ------------------------------------------------------------------------------------------

    @Test
    void probeAndNodeInfoDescribeThePluginOverTcp() throws Exception {
        Result probe = ok(csi("probe"));
        assertThat(probe.out()).containsPattern("plugin:\\s+ferry.csi.io ").containsPattern("ready:\\s+yes")
                .contains("CONTROLLER_SERVICE").contains("STAGE_UNSTAGE_VOLUME").contains("PUBLISH_UNPUBLISH_VOLUME")
                .contains(endpoint);
        JsonNode json = JSON.readTree(ok(csi("probe", "-o", "json")).out());
        assertThat(json.path("name").asText()).isEqualTo("ferry.csi.io");
        assertThat(json.path("ready").asBoolean()).isTrue();
        assertThat(json.path("nodeCapabilities").toString()).contains("GET_VOLUME_STATS").contains("VOLUME_CONDITION");
        // The endpoint may also come from the environment, and the options may precede the subcommand.
        ctl.env().put("FERRY_CSI_ENDPOINT", endpoint);
        assertThat(ok(ctl.run("csi", "probe")).out()).containsPattern("ready:\\s+yes");
        assertThat(ok(ctl.run("csi", "--timeout", "30s", "node-info")).out()).containsPattern("node id:\\s+" + NODE);

        await().atMost(Duration.ofSeconds(20)).until(() -> csi("node-info").out().contains("rack"));
        Result info = ok(csi("node-info"));
        assertThat(info.out()).containsPattern("node id:\\s+" + NODE)
                .contains("topology.ferry.csi.io/node=" + NODE).contains("topology.ferry.csi.io/rack=r1");
        JsonNode infoJson = JSON.readTree(ok(csi("node-info", "-o", "json")).out());
        assertThat(infoJson.path("nodeId").asText()).isEqualTo(NODE);
        assertThat(infoJson.path("topology").path("topology.ferry.csi.io/node").asText()).isEqualTo(NODE);
    }

    @Test
    void aVolumeIsPublishedStagedMountedMeasuredGrownAndReleased() throws Exception {
        Path poolDir = root.resolve("pool");
        ok(ctl.run("pool", "add", "files", "--node", NODE, "--engine", "file", "--directory", poolDir.toString(), "--prepare"));
        ok(ctl.run("volume", "create", "vol-csi", "--size", "64Mi", "--consumer", NODE, "--fs", "ext4"));
        Path staging = root.resolve("kubelet/staging/vol-csi");
        Path target = root.resolve("kubelet/pods/p1/volume");

        // The publish context, one KEY=VALUE per line, goes to node-stage unchanged.
        List<String> context = ok(csi("controller-publish", "--volume-id", "vol-csi", "--node-id", NODE)).out().lines().toList();
        assertThat(context).contains("ferry.csi.io/serving-node=" + NODE);
        List<String> stage = new ArrayList<>(List.of("node-stage", "--volume-id", "vol-csi", "--staging-path", staging.toString()));
        context.forEach(kv -> stage.addAll(List.of("--publish-context", kv)));
        assertThat(ok(csi(stage.toArray(String[]::new))).out()).contains("volume vol-csi staged at " + staging);
        ok(csi(stage.toArray(String[]::new)));
        assertThat(mountsBelowRoot()).contains(staging.toString());

        assertThat(ok(csi("node-publish", "--volume-id", "vol-csi", "--staging-path", staging.toString(),
                "--target-path", target.toString())).out()).contains("volume vol-csi published at " + target);
        Files.writeString(target.resolve("hello"), "world");
        assertThat(Files.readString(staging.resolve("hello"))).isEqualTo("world");
        Result republish = fails(ExitCodes.CONFLICT, csi("node-publish", "--volume-id", "vol-csi", "--staging-path",
                staging.toString(), "--target-path", target.toString(), "--readonly"));
        assertThat(republish.err()).contains("NodePublishVolume failed: ALREADY_EXISTS");

        Result stats = ok(csi("node-stats", "--volume-id", "vol-csi", "--volume-path", target.toString()));
        assertThat(stats.out().lines().findFirst().orElseThrow()).startsWith("UNIT").contains("TOTAL").contains("AVAILABLE");
        assertThat(stats.out()).containsPattern("bytes\\s+\\d+").containsPattern("inodes\\s+\\d+").contains("condition: normal: mounted");
        JsonNode statsJson = JSON.readTree(ok(csi("node-stats", "--volume-id", "vol-csi", "--volume-path", target.toString(),
                "-o", "json")).out());
        assertThat(statsJson.path("condition").path("abnormal").asBoolean()).isFalse();
        assertThat(statsJson.path("usage").get(0).path("unit").asText()).isEqualTo("BYTES");
        assertThat(statsJson.path("usage").get(0).path("total").asLong()).isBetween(40L << 20, 64L << 20);
        // A path where the volume is not mounted is NOT_FOUND (CSI NodeGetVolumeStats), with the reason.
        Path empty = Files.createDirectories(root.resolve("kubelet/pods/p2/volume"));
        Result notThere = fails(ExitCodes.NOT_FOUND, csi("node-stats", "--volume-id", "vol-csi", "--volume-path",
                empty.toString()));
        assertThat(notThere.err()).contains("NOT_FOUND").contains("nothing is mounted");

        Result grown = ok(csi("controller-expand", "--volume-id", "vol-csi", "--required-bytes", "128Mi"));
        assertThat(grown.out()).contains("volume vol-csi is 128Mi (134217728 bytes); node-expand needed: yes");
        Result nodeExpand = csi("node-expand", "--volume-id", "vol-csi", "--volume-path", target.toString(),
                "--staging-path", staging.toString(), "--required-bytes", "128Mi");
        if (nodeExpand.code() == 0) {
            assertThat(nodeExpand.out()).contains("is 128Mi (134217728 bytes)");
        } else {
            // Some sandboxes (this build machine among them) refuse the online-resize ioctl even to
            // root; the plugin's INTERNAL status must then carry resize2fs's stderr to the user.
            fails(ExitCodes.FAILED, nodeExpand);
            assertThat(nodeExpand.err()).contains("NodeExpandVolume failed: INTERNAL").contains("resize2fs");
        }

        assertThat(ok(csi("node-unpublish", "--volume-id", "vol-csi", "--target-path", target.toString())).out())
                .contains("volume vol-csi unpublished from " + target);
        ok(csi("node-unpublish", "--volume-id", "vol-csi", "--target-path", target.toString()));
        assertThat(target).doesNotExist();
        assertThat(ok(csi("node-unstage", "--volume-id", "vol-csi", "--staging-path", staging.toString())).out())
                .contains("volume vol-csi unstaged from " + staging);
        ok(csi("node-unstage", "--volume-id", "vol-csi", "--staging-path", staging.toString()));
        assertThat(mountsBelowRoot()).doesNotContain(staging.toString());
        assertThat(ok(csi("controller-unpublish", "--volume-id", "vol-csi", "--node-id", NODE)).out())
                .contains("volume vol-csi unpublished from " + NODE);
        ok(ctl.run("volume", "rm", "vol-csi"));
    }

    @Test
    void pluginErrorsBecomeOneLineWithTheGrpcCodeAndTheDocumentedExitCode() throws Exception {
        Path staging = root.resolve("kubelet/staging/x");
        Result unknown = fails(ExitCodes.NOT_FOUND, csi("node-stage", "--volume-id", "no-such-volume", "--staging-path",
                staging.toString()));
        assertThat(unknown.err()).contains("NodeStageVolume failed: NOT_FOUND: volume no-such-volume does not exist");
        Result relative = fails(ExitCodes.USAGE, csi("node-stage", "--volume-id", "v", "--staging-path", "relative/path"));
        assertThat(relative.err()).contains("INVALID_ARGUMENT").contains("must be absolute");
        fails(ExitCodes.NOT_FOUND, csi("controller-publish", "--volume-id", "no-such-volume", "--node-id", NODE));

        // A volume that never becomes ready: the call's deadline is --timeout.
        ok(ctl.run("volume", "create", "never-ready", "--size", "1Pi", "--no-wait"));
        Result late = fails(ExitCodes.TIMEOUT, csi("node-stage", "--volume-id", "never-ready", "--staging-path",
                staging.toString(), "--timeout", "2s"));
        assertThat(late.err()).contains("DEADLINE_EXCEEDED");

        // Refused before any call: bad endpoint, bad sizes, bad durations, contradicting options.
        assertThat(fails(ExitCodes.USAGE, ctl.run("csi", "probe", "--endpoint", "http://127.0.0.1:1")).err())
                .contains("unsupported scheme http");
        assertThat(fails(ExitCodes.USAGE, ctl.run("csi", "probe", "--endpoint", "tcp://127.0.0.1")).err()).contains("missing port");
        assertThat(fails(ExitCodes.USAGE, csi("controller-expand", "--volume-id", "v", "--required-bytes", "ten")).err())
                .contains("--required-bytes").contains("ten");
        assertThat(fails(ExitCodes.USAGE, csi("probe", "--timeout", "soon")).err()).contains("--timeout soon");
        assertThat(fails(ExitCodes.USAGE, csi("node-stage", "--volume-id", "v", "--staging-path", staging.toString(),
                "--block", "--fs-type", "ext4")).err()).contains("--block cannot go with --fs-type");
        assertThat(ctl.run("csi", "node-stage", "--volume-id", "v").code()).isEqualTo(ExitCodes.USAGE);

        // Nobody listening: exit 6, with the address and the operating system's reason.
        int closedPort;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = s.getLocalPort();
        }
        Result unreachable = fails(ExitCodes.ETCD_UNAVAILABLE, ctl.run("csi", "probe", "--endpoint", "tcp://127.0.0.1:" + closedPort));
        assertThat(unreachable.err()).contains("cannot reach the CSI plugin at tcp://127.0.0.1:" + closedPort)
                .contains("UNAVAILABLE").contains("Connection refused");
        Result noSocket = fails(ExitCodes.ETCD_UNAVAILABLE, ctl.run("csi", "probe", "--endpoint", "unix://" + root.resolve("none.sock")));
        assertThat(noSocket.err()).contains("the socket file does not exist");
    }
}
