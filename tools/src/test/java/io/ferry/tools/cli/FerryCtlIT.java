package io.ferry.tools.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.ferry.agent.engine.LoopDevices;
import io.ferry.cluster.LocalCluster;
import io.ferry.controller.Controller;
import io.ferry.controller.ControllerOptions;
import io.ferry.etcd.ClusterIdentities;
import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.testing.Await;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.model.Attachment;
import io.ferry.model.Engine;
import io.ferry.model.FailureReason;
import io.ferry.model.Ledger;
import io.ferry.model.NodeRegistration;
import io.ferry.model.Placement;
import io.ferry.model.SnapshotStatus;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumePhase;
import io.ferry.model.VolumeStatus;
import io.ferry.model.WorkItem;
import io.ferry.runtime.admin.AdminOptions;
import io.ferry.runtime.informer.InformerOptions;
import io.ferry.runtime.reconcile.RuntimeOptions;
import io.ferry.tools.cli.CtlShell.Result;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * ferryctl end to end: a real etcd, a real controller with its admin API, and a real file-engine
 * agent on loop devices, all driven through {@link FerryCtl#run} exactly as a shell would, checking
 * what is printed and the exit code.
 */
class FerryCtlIT {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    static final String NODE = "node-a";
    static final ObjectMapper JSON = new ObjectMapper();

    @RegisterExtension
    final CtlCluster local = new CtlCluster(etcd, "ferryctl-it-", NODE);
    final CtlShell ctl = local.ctl;
    final LocalCluster cluster = local.cluster;
    final EtcdStore store = local.store;
    final FerryKeys keys = local.keys;
    final Path root = local.root;
    final Path poolDir = local.poolDir;
    Controller controller;

    List<LoopDevices.Loop> ourLoops() {
        return local.scratch.loops();
    }

    /** Starts the controller (admin API on a free loopback port) and one file-engine agent. */
    void startCluster() {
        controller = cluster.startController(new ControllerOptions("ctl-it", Duration.ofSeconds(3), AdminOptions.loopback(0),
                InformerOptions.defaults(), RuntimeOptions.defaults().withConcurrency(64)
                .withDelays(Duration.ofMillis(100), Duration.ofSeconds(2)), Duration.ofMinutes(5)));
        ctl.env().put("FERRY_ADMIN", controller.adminUrl());

        startAgent();
        await().atMost(Duration.ofSeconds(15)).until(controller::isLeader);
    }

    void startAgent() {
        cluster.startAgent(local.agentOptions());
    }

    /** Stops the agent, so that nothing repairs what a test writes in its place. */
    void stopAgent() {
        cluster.stopAgent(NODE);
    }

    /** The node goes down and reboots: the agent stops and its loop devices are gone. */
    void stopAgentAndDetachLoops() {
        stopAgent();
        local.scratch.detachLoops();
    }

    void addFilePool() {
        Result r = ctl.ok("pool", "add", "files", "--node", NODE, "--engine", "file", "--directory", poolDir.toString(),
                "--prepare", "--label", "rack=r1");
        assertThat(r.out()).contains("pool files added on node " + NODE);
    }

    // ------------------------------------------------------------------------------------------

    @Test
    void poolsAreAddedIdempotentlyConflictsAndBadNamesAreRefusedAndListingsParse() throws Exception {
        startCluster();
        addFilePool();
        assertThat(ctl.ok("pool", "add", "files", "--node", NODE, "--engine", "file", "--directory", poolDir.toString(),
                "--prepare", "--label", "rack=r1").out()).contains("pool files unchanged");

        Result conflict = ctl.fails(ExitCodes.CONFLICT, "pool", "add", "files", "--node", NODE, "--engine", "file",
                "--directory", root.resolve("elsewhere").toString(), "--prepare");
        assertThat(conflict.err()).contains("pool files exists with other settings").contains("--replace");

        Result badName = ctl.fails(ExitCodes.USAGE, "pool", "add", "Bad_Pool", "--node", NODE, "--engine", "file",
                "--directory", poolDir.toString());
        assertThat(badName.err()).startsWith("error: ").contains("Bad_Pool");
        Result badEngine = ctl.fails(ExitCodes.USAGE, "pool", "add", "p2", "--node", NODE, "--engine", "zfs", "--directory", "/x");
        assertThat(badEngine.err()).contains("zfs");
        assertThat(ctl.fails(ExitCodes.USAGE, "pool", "add", "p2", "--node", NODE, "--engine", "lvm").err()).contains("--vg");

        // The agent reports the pool: ls shows it healthy, describe shows config and status.
        await().atMost(Duration.ofSeconds(20)).until(() -> ctl.run("pool", "ls").out().contains("healthy"));
        Result ls = ctl.ok("pool", "ls");
        assertThat(ls.out().lines().findFirst().orElseThrow()).startsWith("POOL").contains("CAPACITY").contains("HEALTH");
        assertThat(ls.out()).containsPattern("files\\s+" + NODE + "\\s+file\\s+");

        JsonNode pools = JSON.readTree(ctl.ok("pool", "ls", "-o", "json").out());
        assertThat(pools.isArray()).isTrue();
        assertThat(pools.get(0).path("pool").asText()).isEqualTo("files");
        assertThat(pools.get(0).path("capacityBytes").asLong()).isPositive();
        assertThat(pools.get(0).path("config").path("source").path("directory").asText()).isEqualTo(poolDir.toString());

        JsonNode described = JSON.readTree(ctl.ok("pool", "describe", "files", "-o", "json").out());
        assertThat(described.path("health").asText()).isEqualTo("healthy");
        assertThat(described.path("status").path("healthy").asBoolean()).isTrue();
        assertThat(ctl.ok("pool", "describe", "files").out()).contains("pool: \"files\"").contains("healthy");
        assertThat(ctl.fails(ExitCodes.NOT_FOUND, "pool", "describe", "nope").err()).contains("no pool named nope");

        // --replace overwrites; rm removes; rm again is not found.
        assertThat(ctl.ok("pool", "add", "spare", "--node", "node-b", "--engine", "file", "--directory", "/srv/spare").out())
                .contains("pool spare added on node node-b");
        assertThat(ctl.ok("pool", "add", "spare", "--node", "node-b", "--engine", "file", "--directory", "/srv/spare",
                "--unschedulable", "--replace").out()).contains("pool spare replaced");
        assertThat(ctl.ok("pool", "rm", "spare").out()).contains("pool spare removed");
        assertThat(ctl.fails(ExitCodes.NOT_FOUND, "pool", "rm", "spare").err()).contains("no pool named spare");
    }

    /** Runs ferryctl, expects {@code code}, and asserts the answer came in under 2 s (no deadline waited out). */
    Result failsFast(int code, String... args) {
        long started = System.nanoTime();
        Result r = ctl.fails(code, args);
        assertThat(Duration.ofNanos(System.nanoTime() - started)).as("ferryctl %s answered in", String.join(" ", args))
                .isLessThan(Duration.ofSeconds(2));
        return r;
    }

    @Test
    void volumeWaitSaysWhenAVolumeIsCreatedGrownOrServedAndEndsAtOnceWithItsExitCodeOnAKnownFailure() throws Exception {
        startCluster();
        addFilePool();
        ctl.ok("volume", "create", "vol-w", "--size", "16Mi", "--wait");
        assertThat(ctl.ok("volume", "wait", "vol-w", "--for", "created").out())
                .containsPattern("volume vol-w ready on " + NODE + " at /dev/loop\\d+");
        JsonNode status = JSON.readTree(ctl.ok("volume", "wait", "vol-w", "--for", "created", "-o", "json").out());
        assertThat(status.path("phase").asText()).isEqualTo("Ready");
        assertThat(status.path("devicePath").asText()).startsWith("/dev/loop");

        ctl.ok("volume", "resize", "vol-w", "--size", "32Mi", "--no-wait");
        assertThat(ctl.ok("volume", "wait", "vol-w", "--for", "grown", "--size", "32Mi").out())
                .contains("volume vol-w grown to 32Mi on " + NODE);
        assertThat(ctl.ok("volume", "wait", "vol-w", "--for", "served", "--node", NODE).out())
                .contains("volume vol-w served to " + NODE + " on " + NODE);

        // Known failures end the wait at once with their documented exit codes.
        ctl.ok("volume", "create", "vol-huge", "--size", "1Pi", "--no-wait");
        assertThat(failsFast(ExitCodes.REFUSED, "volume", "wait", "vol-huge", "--for", "created", "--timeout", "60").err())
                .contains("no pool fits");
        Await.result(store.putRaw(keys.volume("vol-bad"),
                "{\"schemaVersion\":1,\"name\":\"vol-bad\",\"sizeBytes\":\"ten\"}".getBytes(StandardCharsets.UTF_8)));
        assertThat(failsFast(ExitCodes.REFUSED, "volume", "wait", "vol-bad", "--for", "created", "--timeout", "60").err())
                .contains("vol-bad").contains("invalid");
        // A copy of a source that does not exist: refused before anything is written, and a hand-written
        // intent naming one is not waited for either.
        assertThat(failsFast(ExitCodes.NOT_FOUND, "volume", "create", "vol-copy", "--size", "16Mi", "--clone-of", "no-such",
                "--timeout", "60").err()).contains("made from volume no-such, which does not exist");
        assertThat(Await.result(store.getRaw(keys.volume("vol-copy")))).isEmpty();
        Await.result(store.put(keys.volume("vol-restored"), VolumeIntent.builder("vol-restored", 16L << 20)
                .sourceSnapshot("no-such-snap").build()));
        assertThat(failsFast(ExitCodes.NOT_FOUND, "volume", "wait", "vol-restored", "--for", "created", "--timeout", "60")
                .err()).contains("made from snapshot no-such-snap");
        ctl.ok("volume", "resize", "vol-w", "--size", "1Pi", "--no-wait");
        assertThat(failsFast(ExitCodes.REFUSED, "volume", "wait", "vol-w", "--for", "grown", "--size", "1Pi",
                "--timeout", "60").err()).contains("cannot grow to");

        // A node the volume's node cannot export to (this agent has no kernel nvmet): once the
        // agent has written its terminal failure, waiting for the volume there fails at once.
        String remoteNqn = "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-000000000002";
        Await.result(store.put(keys.registration("node-b"), NodeRegistration.of("node-b", "127.0.0.2", null,
                remoteNqn, EnumSet.of(Engine.FILE), Map.of(), "stand-in", Instant.now())));
        ctl.ok("volume", "create", "vol-x", "--size", "16Mi", "--wait");
        ctl.fails(ExitCodes.FAILED, "attach", "vol-x", "--node", "node-b", "--host-nqn", remoteNqn, "--no-connect", "--timeout", "60");
        await().atMost(Duration.ofSeconds(20)).until(() -> Await.result(store.get(keys.volumeStatus(NODE, "vol-x"),
                VolumeStatus.class)).flatMap(v -> v.value().ready()).map(c -> c.failureReason() == FailureReason
                .EXPORT_UNAVAILABLE).orElse(false));
        assertThat(failsFast(ExitCodes.FAILED, "volume", "wait", "vol-x", "--for", "served", "--node", "node-b",
                "--timeout", "60").err()).contains("vol-x").contains("node-b");

        assertThat(ctl.fails(ExitCodes.NOT_FOUND, "volume", "wait", "nope", "--for", "created").err()).contains("no volume named nope");
        assertThat(ctl.fails(ExitCodes.NOT_FOUND, "volume", "wait", "vol-w", "--for", "served", "--node", "node-z").err())
                .contains("node node-z is not registered");
        assertThat(ctl.fails(ExitCodes.USAGE, "volume", "wait", "vol-w", "--for", "grown").err()).contains("--size");
        assertThat(ctl.fails(ExitCodes.USAGE, "volume", "wait", "vol-w", "--for", "served").err()).contains("--node");
        assertThat(ctl.fails(ExitCodes.USAGE, "volume", "wait", "vol-w", "--for", "sideways").err()).contains("sideways");
        ctl.ok("detach", "vol-x", "--node", "node-b");
    }

    @Test
    void aVolumeIsCreatedListedDescribedGrownExplainedAndDeleted() throws Exception {
        startCluster();
        addFilePool();
        // Right after the pool is declared: the agent may not have reported it yet, and --wait must
        // ride that out rather than report the momentary NoFit.
        Result created = ctl.ok("volume", "create", "vol-a", "--size", "64Mi", "--wait");
        assertThat(created.out()).containsPattern("volume vol-a ready on " + NODE + " at /dev/loop\\d+");

        assertThat(ctl.ok("volume", "create", "vol-a", "--size", "64Mi").out()).contains("volume vol-a ready on " + NODE);
        Result conflict = ctl.fails(ExitCodes.CONFLICT, "volume", "create", "vol-a", "--size", "128Mi");
        assertThat(conflict.err()).contains("volume vol-a exists with other settings").contains("ferryctl volume describe vol-a");
        assertThat(ctl.fails(ExitCodes.USAGE, "volume", "create", "vol-x", "--size", "ten").err()).contains("ten");
        assertThat(ctl.fails(ExitCodes.USAGE, "volume", "create", "vol-x").err()).contains("--size");

        Result noFit = ctl.fails(ExitCodes.REFUSED, "volume", "create", "huge", "--size", "1Pi");
        assertThat(noFit.err()).contains("volume huge").contains("no pool fits").contains("free space 1")
                .contains("ferryctl volume explain huge");

        Result ls = ctl.ok("volume", "ls");
        assertThat(ls.out().lines().findFirst().orElseThrow()).startsWith("NAME").contains("STATE").contains("DEVICE");
        assertThat(ls.out()).containsPattern("vol-a\\s+64Mi\\s+single\\s+Ready\\s+" + NODE + "\\s+files\\s+/dev/loop\\d+");
        assertThat(ls.out()).containsPattern("huge\\s+1Pi\\s+single\\s+NoFit");
        JsonNode volumes = JSON.readTree(ctl.ok("volume", "ls", "-o", "json").out());
        assertThat(volumes).hasSize(2);

        JsonNode described = JSON.readTree(ctl.ok("volume", "describe", "vol-a", "-o", "json").out());
        assertThat(described.path("placement").path("pool").asText()).isEqualTo("files");
        assertThat(described.path("status").path("phase").asText()).isEqualTo("Ready");
        assertThat(ctl.ok("volume", "describe", "vol-a", "-o", "yaml").out()).contains("phase: \"Ready\"");
        assertThat(ctl.fails(ExitCodes.NOT_FOUND, "volume", "describe", "nope").err()).contains("no volume named nope");

        // Grow: the agent's status follows; shrink: refused before anything is written.
        assertThat(ctl.ok("volume", "resize", "vol-a", "--size", "128Mi").out()).contains("volume vol-a is 128Mi");
        assertThat(JSON.readTree(ctl.ok("volume", "describe", "vol-a", "-o", "json").out()).path("status").path("sizeBytes").asLong())
                .isEqualTo(128L << 20);
        Result shrink = ctl.fails(ExitCodes.REFUSED, "volume", "resize", "vol-a", "--size", "32Mi");
        assertThat(shrink.err()).contains("volume vol-a is 128Mi").contains("shrinking is not supported");
        assertThat(ctl.fails(ExitCodes.NOT_FOUND, "volume", "resize", "nope", "--size", "1Gi").err()).contains("no volume named nope");

        // explain: a table, JSON, both through the admin API (given as host:port, as the controller's --admin is written).
        Result explain = ctl.ok("volume", "explain", "huge");
        assertThat(explain.out()).contains("no pool fits: free space 1").contains("POOL").contains("VERDICT");
        assertThat(explain.out()).containsPattern("files\\s+" + NODE + "\\s+free space");
        JsonNode explained = JSON.readTree(ctl.ok("volume", "explain", "vol-a", "-o", "json",
                "--admin", controller.adminUrl().replaceFirst("^http://", "")).out());
        assertThat(explained.path("volume").asText()).isEqualTo("vol-a");
        assertThat(explained.path("placedOn").path("pool").asText()).isEqualTo("files");
        assertThat(explained.path("pools").get(0).path("pool").asText()).isEqualTo("files");
        assertThat(ctl.fails(ExitCodes.NOT_FOUND, "volume", "explain", "nope").err()).contains("no volume named nope");
        Result noController = ctl.fails(ExitCodes.FAILED, "volume", "explain", "vol-a", "--admin", "http://127.0.0.1:" + freePort());
        assertThat(noController.err()).contains("cannot reach the controller's admin API").contains("--admin");

        // Delete: gone everywhere, the file and loop device too; again: not found, unless told to ignore it.
        assertThat(ctl.ok("volume", "rm", "huge").out()).contains("volume huge deleted");
        assertThat(ctl.ok("volume", "rm", "vol-a", "--wait").out()).contains("volume vol-a deleted");
        assertThat(ctl.ok("volume", "ls", "-o", "json").out().strip()).isEqualTo("[ ]");
        assertThat(ourLoops()).isEmpty();
        assertThat(ctl.fails(ExitCodes.NOT_FOUND, "volume", "rm", "vol-a").err()).contains("no volume named vol-a");
        assertThat(ctl.ok("volume", "rm", "vol-a", "--ignore-not-found").out()).isEmpty();
    }

    /** Creates a volume, writes random bytes to its first MiB through its device; returns their checksum. */
    String createAndWrite(String volume) throws Exception {
        ctl.ok("volume", "create", volume, "--size", "16Mi");
        return local.fillFirstMiB(volume);
    }

    boolean phaseIs(String volume, VolumePhase phase) {
        return local.status(volume).filter(s -> s.phase() == phase).isPresent();
    }

    @Test
    void eventsTellAVolumesLifeDescribeShowsThemAndWatchFollowsNewOnes() throws Exception {
        startCluster();
        addFilePool();
        ctl.ok("volume", "create", "vol-e", "--size", "16Mi", "--wait");
        await().atMost(Duration.ofSeconds(20)).until(() -> ctl.run("events", "--volume", "vol-e").out().contains("Ready"));
        Result listed = ctl.ok("events", "--volume", "vol-e");
        List<String> lines = listed.out().lines().toList();
        assertThat(lines.get(0)).startsWith("TIME").contains("TYPE").contains("REASON").contains("OBJECT").contains("MESSAGE");
        // A refusal may come first, while the new pool is not reported yet: that happened too.
        String placed = lines.stream().filter(l -> l.contains("Placed")).findFirst().orElseThrow();
        assertThat(placed).contains("Normal").contains("volume/vol-e").contains(NODE).contains("files");
        assertThat(lines.indexOf(placed)).isLessThan(lines.indexOf(lines.stream().filter(l -> l.contains("Ready")).findFirst()
                .orElseThrow()));
        JsonNode described = JSON.readTree(ctl.ok("volume", "describe", "vol-e", "-o", "json").out());
        assertThat(described.path("events").findValuesAsText("reason")).containsSubsequence("Placed", "Ready");
        JsonNode all = JSON.readTree(ctl.ok("events", "-o", "json").out());
        assertThat(all.findValuesAsText("object")).containsOnly("volume/vol-e");

        ctl.ok("volume", "rm", "vol-e", "--wait");
        await().atMost(Duration.ofSeconds(20)).until(() -> ctl.run("events", "--volume", "vol-e").out().contains("Deleted"));

        // The watch lists what was recorded, then prints what is recorded after that: volumes created
        // one by one until it has seen one (whenever its listing happened, a later event comes).
        CompletableFuture<Result> watching = CompletableFuture.supplyAsync(() -> ctl.run("events", "-w", "--count", "1"));
        for (int i = 0; i < 10 && !watching.isDone(); i++) {
            ctl.ok("volume", "create", "vol-w" + i, "--size", "16Mi", "--wait");
        }
        Result watched = watching.get(60, TimeUnit.SECONDS);
        assertThat(watched.code()).as("%s", watched).isZero();
        List<String> watchedLines = watched.out().lines().toList();
        assertThat(watchedLines.get(0)).startsWith("TIME");
        assertThat(watchedLines).anySatisfy(l -> assertThat(l).contains("Deleted").contains("volume/vol-e"));
        assertThat(watchedLines.get(watchedLines.size() - 1)).contains("volume/vol-w");

        assertThat(ctl.fails(ExitCodes.USAGE, "events", "--volume", "Bad Name").err()).contains("Bad Name");
        assertThat(ctl.fails(ExitCodes.USAGE, "events", "--volume", "a", "--snapshot", "b").err()).contains("not both");
    }

    @Test
    void aLostVolumeStaysLostWithoutItsRecordsReturnsWithItsFilesAndIsReplacedEmptyOnlyOnTheOperatorsRequest() throws Exception {
        startCluster();
        addFilePool();
        String sum = createAndWrite("lost-a");
        await().atMost(Duration.ofSeconds(15)).until(() -> local.placement("lost-a").filter(p -> p.createdAt() != null).isPresent());

        // Refused: without --empty, on a Ready volume, on no volume.
        assertThat(ctl.fails(ExitCodes.USAGE, "volume", "recreate", "lost-a").err()).contains("--empty");
        assertThat(ctl.fails(ExitCodes.CONFLICT, "volume", "recreate", "lost-a", "--empty").err())
                .contains("volume lost-a is Ready on " + NODE + ", not Lost");
        assertThat(ctl.fails(ExitCodes.NOT_FOUND, "volume", "recreate", "nope", "--empty").err()).contains("no volume named nope");

        // The node reboots without the volume's file, and its status and work item are gone too: only
        // the placement remembers that the volume was created.
        stopAgentAndDetachLoops();
        Await.result(store.delete(keys.volumeStatus(NODE, "lost-a")));
        Await.result(store.delete(keys.workItem(NODE, "lost-a")));
        Path away = Files.createDirectory(root.resolve("away"));
        Files.move(poolDir.resolve("lost-a.img"), away.resolve("lost-a.img"));
        startAgent();
        await().atMost(Duration.ofSeconds(30)).until(() -> phaseIs("lost-a", VolumePhase.LOST));
        assertThat(Files.exists(poolDir.resolve("lost-a.img"))).as("not re-created empty").isFalse();
        JsonNode described = JSON.readTree(ctl.ok("volume", "describe", "lost-a", "-o", "json").out());
        assertThat(described.path("lost").asText()).contains("not re-created").contains("ferryctl volume recreate --empty lost-a");

        // A snapshot of it is refused at once (the agent's terminal SourceLost), not waited out.
        long asked = System.nanoTime();
        assertThat(ctl.fails(ExitCodes.FAILED, "snapshot", "create", "snap-of-lost", "--volume", "lost-a").err())
                .contains("cannot cut snapshot snap-of-lost", "source volume lost-a");
        assertThat(Duration.ofNanos(System.nanoTime() - asked)).isLessThan(Duration.ofSeconds(2));

        // The file returns: the same volume, the same bytes, and the snapshot refused meanwhile is cut.
        Files.move(away.resolve("lost-a.img"), poolDir.resolve("lost-a.img"));
        await().atMost(Duration.ofSeconds(30)).until(() -> phaseIs("lost-a", VolumePhase.READY));
        assertThat(local.checksum("lost-a")).isEqualTo(sum);
        // Its failure was terminal and stands until the agent, seeing the volume back, tries again.
        await().atMost(Duration.ofSeconds(30)).until(() -> Await.result(store.get(keys.snapshotStatus(NODE,
                "snap-of-lost"), SnapshotStatus.class)).map(v -> v.value().readyToUse()).orElse(false));
        assertThat(ctl.ok("snapshot", "create", "snap-of-lost", "--volume", "lost-a").out()).contains("ready");
        ctl.ok("snapshot", "rm", "snap-of-lost");

        // Gone for good this time; the operator gives the data up and asks for an empty volume.
        stopAgentAndDetachLoops();
        Files.delete(poolDir.resolve("lost-a.img"));
        startAgent();
        await().atMost(Duration.ofSeconds(30)).until(() -> phaseIs("lost-a", VolumePhase.LOST));
        assertThat(ctl.ok("volume", "recreate", "lost-a", "--empty").out()).contains("volume lost-a re-created empty on " + NODE);
        assertThat(local.checksum("lost-a")).as("empty").isEqualTo(HexFormat.of().formatHex(
                MessageDigest.getInstance("SHA-256").digest(new byte[1 << 20])));
        await().atMost(Duration.ofSeconds(15)).until(() -> local.placement("lost-a").filter(p -> p.createdAt() != null).isPresent());
        assertThat(ctl.fails(ExitCodes.CONFLICT, "volume", "recreate", "lost-a", "--empty").err()).contains("not Lost");
    }

    @Test
    void aPlacementAndWorkItemDeletedUnderAWrittenVolumeAreRebuiltFromItsStatusWithItsDataAndOneLedgerCharge() throws Exception {
        startCluster();
        addFilePool();
        String sum = createAndWrite("reb-a");
        Placement before = local.placement("reb-a").orElseThrow();
        Ledger ledger = Await.result(store.get(keys.ledger("files"), Ledger.class)).orElseThrow().value();

        // An etcd restored from a backup older than the volume has neither.
        Await.result(store.txn().delete(keys.placement("reb-a")).delete(keys.workItem(NODE, "reb-a")).commit());

        await().atMost(Duration.ofSeconds(15)).until(() -> local.placement("reb-a").isPresent()
                && Await.result(store.get(keys.workItem(NODE, "reb-a"), WorkItem.class)).isPresent());
        Placement after = local.placement("reb-a").orElseThrow();
        assertThat(after.node()).isEqualTo(before.node());
        assertThat(after.pool()).isEqualTo(before.pool());
        assertThat(after.sizeBytes()).isEqualTo(before.sizeBytes());
        await().atMost(Duration.ofSeconds(15)).until(() -> phaseIs("reb-a", VolumePhase.READY)
                && local.status("reb-a").orElseThrow().observedGeneration() >= after.generation());
        assertThat(local.checksum("reb-a")).isEqualTo(sum);
        assertThat(Await.result(store.get(keys.ledger("files"), Ledger.class)).orElseThrow().value())
                .as("charged once").isEqualTo(ledger);
        assertThat(ctl.ok("volume", "ls").out()).containsPattern("reb-a\\s+16Mi\\s+single\\s+Ready\\s+" + NODE + "\\s+files");
    }

    @Test
    void orphanAdoptBringsBackAVolumeEtcdLostEveryRecordOfOnItsNodeWithItsDataAndOneLedgerCharge() throws Exception {
        startCluster();
        addFilePool();
        String sum = createAndWrite("back-a");
        Path file = poolDir.resolve("back-a.img");
        Placement before = local.placement("back-a").orElseThrow();
        Ledger charged = Await.result(store.get(keys.ledger("files"), Ledger.class))
                .orElseThrow().value();

        // An etcd restored from a backup older than the volume: no intent, placement, work item,
        // status or scheduling record, and a ledger that never counted it.
        stopAgentAndDetachLoops();
        Await.result(store.txn().delete(keys.volume("back-a")).delete(keys.placement("back-a"))
                .delete(keys.workItem(NODE, "back-a")).delete(keys.volumeStatus(NODE, "back-a"))
                .delete(keys.volumeScheduling("back-a")).delete(keys.ledger("files")).commit());
        startAgent();
        await().atMost(Duration.ofSeconds(30)).until(() -> ctl.run("orphan", "ls").out()
                .contains("no work item and no placement"));
        assertThat(ctl.ok("orphan", "ls").out()).containsPattern(Pattern.quote(file.toString())
                + "\\s+file\\s+this-cluster\\s+files\\s+16Mi");
        assertThat(local.placement("back-a")).isEmpty();

        // Somebody's image beside it is refused, and no intent is written for it.
        Path copied = Files.write(poolDir.resolve("copied.img"), new byte[4 << 20]);
        await().atMost(Duration.ofSeconds(30)).until(() -> ctl.run("orphan", "ls").out().contains("copied.img"));
        Result refused = ctl.fails(ExitCodes.REFUSED, "orphan", "adopt", NODE, copied.toString());
        assertThat(refused.out()).contains("Refused (Unmarked)");
        assertThat(Await.result(store.getRaw(keys.volume("copied")))).isEmpty();
        assertThat(Await.result(store.getRaw(keys.volumeStatus(NODE, "copied")))).isEmpty();

        Result adopted = ctl.ok("orphan", "adopt", NODE, file.toString(), "--wait");
        assertThat(adopted.out()).contains("Done: adopted " + file + " as volume back-a (16777216 bytes) in pool files")
                .contains("adoptFromNode " + NODE).contains("volume back-a ready on " + NODE);
        Placement after = local.placement("back-a").orElseThrow();
        assertThat(after.node()).isEqualTo(before.node());
        assertThat(after.pool()).isEqualTo(before.pool());
        assertThat(after.sizeBytes()).isEqualTo(before.sizeBytes());
        assertThat(after.createdAt()).as("never created again").isNotNull();
        assertThat(local.status("back-a").orElseThrow().observedGeneration()).isGreaterThanOrEqualTo(after.generation());
        assertThat(local.checksum("back-a")).isEqualTo(sum);
        try (Stream<Path> files = Files.list(poolDir)) {
            assertThat(files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".img")))
                    .as("the one copy, where it always was").containsExactlyInAnyOrder("back-a.img", "copied.img");
        }
        await().atMost(Duration.ofSeconds(15)).until(() -> Await.result(store.get(keys.ledger("files"),
                Ledger.class)).map(v -> v.value().allocatedBytes() == charged.allocatedBytes()).orElse(false));
        assertThat(Await.result(store.get(keys.ledger("files"), Ledger.class)).orElseThrow().value())
                .as("charged once").isEqualTo(charged);
        assertThat(ctl.ok("volume", "ls").out()).containsPattern("back-a\\s+16Mi\\s+single\\s+Ready\\s+" + NODE + "\\s+files");
        await().atMost(Duration.ofSeconds(20)).until(() -> Await.result(store.count(keys.orphanAdoptions())) == 0
                && Await.result(store.count(keys.orphanAdoptionResults(NODE))) == 0
                && !ctl.run("orphan", "ls").out().contains("back-a"));
    }

    @Test
    void attachPrintsOnlyADeviceTheVolumesPoolCouldHaveMadeNeverOneAForgedStatusNames() throws Exception {
        startCluster();
        addFilePool();
        ctl.ok("volume", "create", "vol-f", "--size", "16Mi");
        assertThat(ctl.ok("attach", "vol-f").out().strip()).matches("/dev/loop\\d+");
        // Stopped, so that nothing repairs the statuses written below.
        stopAgent();
        VolumeStatus real = Await.result(store.get(keys.volumeStatus(NODE, "vol-f"), VolumeStatus.class)).orElseThrow().value();
        String hostNqn = Await.result(store.get(keys.attachment("vol-f", NODE), Attachment.class)).orElseThrow().value().hostNqn();
        for (String forged : List.of("/dev/sda", "/etc/passwd", "/dev/loop999")) {
            Await.result(store.put(keys.volumeStatus(NODE, "vol-f"), VolumeStatus.of("vol-f", NODE,
                    VolumePhase.READY, forged, real.sizeBytes(), null, real.observedGeneration(), null,
                    Instant.now())));
            Result refused = ctl.fails(ExitCodes.FAILED, "attach", "vol-f", "--timeout", "10", "--host-nqn", hostNqn);
            assertThat(refused.out()).as("nothing printed for a script to write to").isEmpty();
            assertThat(refused.err()).contains("vol-f").contains(forged);
        }
    }

    @Test
    void attachOnAnotherNodeOfTheServingNodesMachinePrintsTheHandedOverDeviceAndAsksForNoExport() throws Exception {
        startCluster();
        addFilePool();
        ctl.ok("volume", "create", "vol-h", "--size", "16Mi");
        NodeRegistration serving = Await.result(store.get(keys.registration(NODE), NodeRegistration.class)).orElseThrow().value();
        // A second node on this machine (the agent of another `ferry up` node), registered as its agent would.
        String hostNqn = "nqn.2014-08.org.nvmexpress:uuid:0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9";
        Await.result(store.put(keys.registration("node-h"), NodeRegistration.of("node-h", "127.0.0.1", null, hostNqn,
                Set.of(Engine.FILE), Map.of(), "test", Instant.now())
                .withExporters(Set.of()).withMachineId(serving.machineId())));
        String device = ctl.ok("attach", "vol-h", "--node", "node-h", "--timeout", "30").out().strip();
        assertThat(device).isEqualTo(Await.result(store.get(keys.volumeStatus(NODE, "vol-h"), VolumeStatus.class))
                .orElseThrow().value().devicePath());
        assertThat(Await.result(store.get(keys.workItem(NODE, "vol-h"), WorkItem.class)).orElseThrow()
                .value().export()).isNull();
        assertThat(ctl.ok("detach", "vol-h", "--node", "node-h").out()).contains("volume vol-h detached from node-h");

        // The same node on another machine must be exported to, which this agent (no nvmet) cannot do.
        Await.result(store.put(keys.registration("node-h"), Await.result(store.get(keys.registration("node-h"),
                NodeRegistration.class)).orElseThrow().value().withMachineId("machine-elsewhere")));
        long started = System.nanoTime();
        Result refused = ctl.fails(ExitCodes.FAILED, "attach", "vol-h", "--node", "node-h", "--timeout", "60");
        // A known outcome: answered when the agent writes it, not when the timeout runs out.
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(30));
        assertThat(refused.err()).contains("must be exported to node-h", "cannot export NVMe-oF");
        ctl.ok("detach", "vol-h", "--node", "node-h");
    }

    @Test
    void attachedVolumesCarryDataThroughASnapshotIntoAVolumeMadeFromIt() throws Exception {
        startCluster();
        addFilePool();
        ctl.ok("volume", "create", "vol-a", "--size", "64Mi");

        Result attached = ctl.ok("attach", "vol-a");
        String device = attached.out().strip();
        assertThat(device).matches("/dev/loop\\d+");
        assertThat(Await.result(store.get(keys.attachment("vol-a", NODE), Attachment.class))).isPresent();
        byte[] data = "ferryctl was here".getBytes(StandardCharsets.UTF_8);
        try (RandomAccessFile f = new RandomAccessFile(device, "rw")) {
            f.seek(8192);
            f.write(data);
            f.getFD().sync();
        }
        assertThat(readDevice(device, 8192, data.length)).isEqualTo(data);
        assertThat(ctl.ok("attach", "vol-a").out().strip()).isEqualTo(device);
        assertThat(ctl.fails(ExitCodes.NOT_FOUND, "attach", "nope").err()).contains("no volume named nope");

        assertThat(ctl.ok("snapshot", "create", "snap-1", "--volume", "vol-a").out()).contains("snapshot snap-1 of vol-a ready");
        assertThat(ctl.ok("snapshot", "create", "snap-1", "--volume", "vol-a").out()).contains("ready");
        assertThat(ctl.fails(ExitCodes.CONFLICT, "snapshot", "create", "snap-1", "--volume", "vol-other").err())
                .contains("snapshot snap-1 exists for volume vol-a");
        Result snaps = ctl.ok("snapshot", "ls");
        assertThat(snaps.out()).containsPattern("snap-1\\s+vol-a\\s+Ready\\s+" + NODE + "\\s+files\\s+64Mi");
        assertThat(JSON.readTree(ctl.ok("snapshot", "ls", "-o", "json").out()).get(0).path("status").path("readyToUse").asBoolean())
                .isTrue();

        assertThat(ctl.ok("volume", "create", "vol-b", "--size", "64Mi", "--from-snapshot", "snap-1").out())
                .contains("volume vol-b ready on " + NODE);
        String copy = ctl.ok("attach", "vol-b").out().strip();
        assertThat(copy).matches("/dev/loop\\d+").isNotEqualTo(device);
        assertThat(readDevice(copy, 8192, data.length)).isEqualTo(data);

        // A snapshot still in use by a volume made from it, and a volume with snapshots, are refused at once.
        assertThat(ctl.fails(ExitCodes.CONFLICT, "snapshot", "rm", "snap-1").err()).contains("vol-b");
        assertThat(ctl.fails(ExitCodes.CONFLICT, "volume", "rm", "vol-a").err()).contains("snap-1");
        // An attached volume is refused too: its consumer may still be writing to it.
        assertThat(ctl.fails(ExitCodes.CONFLICT, "volume", "rm", "vol-b").err()).contains("attached to " + NODE)
                .contains("ferryctl detach vol-b");

        assertThat(ctl.ok("detach", "vol-a").out()).contains("volume vol-a detached from " + NODE);
        assertThat(ctl.ok("detach", "vol-a").out()).contains("volume vol-a was not attached to " + NODE);
        assertThat(Await.result(store.get(keys.attachment("vol-a", NODE), Attachment.class))).isEmpty();
        ctl.ok("detach", "vol-b");

        ctl.ok("volume", "rm", "vol-b");
        assertThat(ctl.ok("snapshot", "rm", "snap-1").out()).contains("snapshot snap-1 deleted");
        assertThat(ctl.fails(ExitCodes.NOT_FOUND, "snapshot", "rm", "snap-1").err()).contains("no snapshot named snap-1");
        ctl.ok("volume", "rm", "vol-a");
        assertThat(ourLoops()).isEmpty();
        try (Stream<Path> files = Files.list(poolDir)) {
            // Deleted volumes' files stay as emptied spares for the next volumes, and nothing else does
            // (besides the pool's marker).
            assertThat(files.filter(f -> !f.getFileName().toString().equals(".ferry-pool")).toList()).allSatisfy(file -> {
                assertThat(file.getFileName().toString()).startsWith(".spare-");
                assertThat(Files.size(file)).isZero();
            });
        }
    }

    @Test
    void watchNodeLsAndStatusShowTheLiveCluster() throws Exception {
        startCluster();
        CompletableFuture<Result> watch = CompletableFuture.supplyAsync(() -> ctl.run("watch", "--under", "config/", "--count", "2"));
        // Keep changing a pool until the watch has seen two changes (it may start after the first ones).
        int round = 0;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!watch.isDone() && System.nanoTime() < deadline) {
            ctl.run("pool", "add", "files", "--node", NODE, "--engine", "file", "--directory", poolDir.toString(), "--prepare",
                    "--label", "round=r" + round++, "--replace");
            Thread.sleep(200);
        }
        Result watched = watch.get(5, TimeUnit.SECONDS);
        assertThat(watched.code()).as(watched.toString()).isZero();
        assertThat(watched.out()).contains("watching " + local.prefix + "/config/");
        assertThat(watched.out().lines().filter(l -> l.contains(" put " + local.prefix + "/config/pools/files")).count()).isEqualTo(2);

        await().atMost(Duration.ofSeconds(20)).until(() -> ctl.run("pool", "ls").out().contains("healthy"));
        Result nodes = ctl.ok("node", "ls");
        assertThat(nodes.out()).containsPattern("NODE\\s+ALIVE\\s+ADDRESS");
        assertThat(nodes.out()).containsPattern(NODE + "\\s+yes\\s+127\\.0\\.0\\.1\\s+\\S*file\\S*\\s+-\\s+files");
        JsonNode nodeJson = JSON.readTree(ctl.ok("node", "ls", "-o", "json").out());
        assertThat(nodeJson.get(0).path("alive").asBoolean()).isTrue();
        assertThat(nodeJson.get(0).path("registration").path("hostNqn").asText()).startsWith("nqn.");

        ctl.ok("volume", "create", "vol-s", "--size", "8Mi");
        Result status = ctl.ok("status");
        assertThat(status.out()).contains("leader:      ctl-it").contains("nodes:       1 alive (" + NODE + ")")
                .contains("pools:       1, capacity").contains("volumes:     1 {Placed=1}");
        JsonNode statusJson = JSON.readTree(ctl.ok("status", "-o", "json").out());
        assertThat(statusJson.path("nodesAlive").asInt()).isEqualTo(1);
        assertThat(statusJson.path("volumes").asInt()).isEqualTo(1);
        ctl.ok("volume", "rm", "vol-s");
    }

    @Test
    void invalidIntentsAndFailedVolumesAreListedWithTheirErrorsAndCounted() throws Exception {
        startCluster();
        addFilePool();
        ctl.ok("volume", "create", "good", "--size", "8Mi");
        // Typed by hand: a size that is not one, and a value that is not even JSON.
        Await.result(store.putRaw(store.keys().volume("bad-size"),
                "{\"name\":\"bad-size\",\"sizeBytes\":\"lots\"}".getBytes(StandardCharsets.UTF_8)));
        Await.result(store.putRaw(store.keys().volume("not-json"), "{oops".getBytes(StandardCharsets.UTF_8)));

        Result ls = ctl.ok("volume", "ls");
        assertThat(ls.out()).containsPattern("bad-size\\s+-\\s+-\\s+Invalid\\s+-\\s+-\\s+-\\s+invalid volume intent: .*sizeBytes");
        assertThat(ls.out()).containsPattern("not-json\\s+-\\s+-\\s+Invalid\\s+.*invalid volume intent: ");
        assertThat(ls.out()).containsPattern("good\\s+8Mi\\s+single\\s+Ready");
        JsonNode rows = JSON.readTree(ctl.ok("volume", "ls", "-o", "json").out());
        assertThat(rows).anySatisfy(row -> {
            assertThat(row.path("name").asText()).isEqualTo("bad-size");
            assertThat(row.path("state").asText()).isEqualTo("Invalid");
            assertThat(row.path("error").asText()).contains("sizeBytes");
        });

        // The agent reports a volume failed: its message is what ls shows, and status counts it.
        String node = NODE;
        VolumeStatus ready = Await.result(store.get(store.keys().volumeStatus(node, "good"), VolumeStatus.class))
                .orElseThrow().value();
        // Stopped first, so that nothing repairs the status written below.
        stopAgent();
        Await.result(store.put(store.keys().volumeStatus(node, "good"), VolumeStatus.of("good", node,
                VolumePhase.FAILED, null, ready.sizeBytes(), null, ready.observedGeneration(),
                "pool files is not available: disk gone", Instant.now())));
        assertThat(ctl.ok("volume", "ls").out()).containsPattern("good\\s+8Mi\\s+single\\s+Failed\\s+.*pool files is not available: disk gone");

        JsonNode status = JSON.readTree(ctl.ok("status", "-o", "json").out());
        assertThat(status.path("volumes").asInt()).isEqualTo(3);
        assertThat(status.path("volumesByState").path("Invalid").asInt()).isEqualTo(2);
        assertThat(status.path("volumesByState").path("Failed").asInt()).isEqualTo(1);
        // The controller's typed reasons, read from its records' conditions.
        await().atMost(Duration.ofSeconds(10)).until(() -> JSON.readTree(ctl.ok("status", "-o", "json").out())
                .path("volumesByReason").path("InvalidIntent").asInt() == 2);
        assertThat(ctl.ok("status").out()).contains("held:        {InvalidIntent=2");
        assertThat(ctl.ok("status").out()).contains("volumes:     3");
    }

    @Test
    void orphanLsListsOwnersAndOrphanRmRemovesOnlyThisClustersUnnamedVolume() throws Exception {
        startCluster();
        addFilePool();
        await().atMost(Duration.ofSeconds(20)).until(() -> ctl.run("pool", "ls").out().contains("healthy"));
        String clusterId = Await.result(ClusterIdentities.read(store)).orElseThrow().id();

        // Somebody's image copied into the pool directory, and a volume file of this cluster nothing names.
        byte[] foreign = "somebody else's disk image".getBytes(StandardCharsets.UTF_8);
        Path copied = Files.write(poolDir.resolve("copied.img"), foreign);
        Path ours = Files.write(poolDir.resolve("forgotten.img"), new byte[8192]);
        Files.getFileAttributeView(ours, UserDefinedFileAttributeView.class)
                .write("ferry.cluster", StandardCharsets.UTF_8.encode(clusterId));

        await().atMost(Duration.ofSeconds(30)).until(() -> ctl.run("orphan", "ls").out().contains("forgotten.img")
                && ctl.run("orphan", "ls").out().contains("copied.img"));
        Result table = ctl.ok("orphan", "ls", "--node", NODE);
        assertThat(table.out()).containsPattern("NODE\\s+NAME\\s+KIND\\s+OWNER\\s+POOL\\s+SIZE\\s+AGE\\s+REASON");
        assertThat(table.out()).containsPattern(NODE + "\\s+" + Pattern.quote(copied.toString())
                + "\\s+file\\s+unmarked\\s+files");
        assertThat(table.out()).containsPattern(Pattern.quote(ours.toString())
                + "\\s+file\\s+this-cluster\\s+files\\s+8Ki");
        JsonNode json = JSON.readTree(ctl.ok("orphan", "ls", "-o", "json").out());
        assertThat(json).anySatisfy(row -> {
            assertThat(row.path("node").asText()).isEqualTo(NODE);
            assertThat(row.path("orphan").path("name").asText()).isEqualTo(ours.toString());
            assertThat(row.path("orphan").path("owner").asText()).isEqualTo("this-cluster");
            assertThat(row.path("orphan").path("sizeBytes").asLong()).isEqualTo(8192);
            assertThat(row.path("orphan").path("firstSeen").asText()).isNotEmpty();
        });
        assertThat(ctl.ok("orphan", "ls", "--node", "node-z").out()).doesNotContain("copied.img");

        Result refused = ctl.fails(ExitCodes.REFUSED, "orphan", "rm", NODE, copied.toString());
        assertThat(refused.out() + refused.err()).contains("Refused").contains("unmarked");
        assertThat(Files.readAllBytes(copied)).isEqualTo(foreign);

        Result removed = ctl.ok("orphan", "rm", NODE, ours.toString());
        assertThat(removed.out()).contains("Done: removed " + ours);
        assertThat(ours).doesNotExist();
        // The orders were withdrawn after their answers; the agent then drops its answers.
        await().atMost(Duration.ofSeconds(20)).until(() -> Await.result(
                store.count(keys.orphanRemovals())) == 0 && Await.result(
                store.count(keys.orphanRemovalResults(NODE))) == 0);

        Result noAgent = ctl.fails(ExitCodes.TIMEOUT, "orphan", "rm", "node-z", "/x/y.img", "--timeout", "1");
        assertThat(noAgent.err()).contains("The order stays in " + local.prefix + "/orphan-removals/node-z/");
        ctl.fails(ExitCodes.USAGE, "orphan", "rm", "Bad Node", "x");
    }

    @Test
    void theProvisioningBenchmarkPrintsItsFiguresAndLeavesNothingBehind() throws Exception {
        startCluster();
        addFilePool();
        await().atMost(Duration.ofSeconds(20)).until(() -> ctl.run("pool", "ls").out().contains("healthy"));
        Path timings = Files.createTempFile("bench", ".csv");
        Result bench = ctl.ok("bench", "provision", "--volumes", "20", "--concurrency", "4", "--size", "4Mi", "--warmup", "5",
                "--timings", timings.toString());
        assertThat(bench.out()).contains("volumes 20, concurrency 4, size 4Mi");
        assertThat(bench.out()).containsPattern(
                "PHASE\\s+N\\s+PER-SECOND\\s+P50-MS\\s+P95-MS\\s+P99-MS\\s+ETCD-WRITES/ITEM\\s+CLIENT-CPU-MS/ITEM");
        assertThat(bench.out()).containsPattern("provision\\s+20\\s+\\d").containsPattern("delete\\s+20\\s+\\d")
                .containsPattern("etcd put\\s+20\\s+\\d");
        assertThat(bench.out()).contains("of the throughput of plain etcd puts at the same concurrency");
        List<String> csv = Files.readAllLines(timings);
        assertThat(csv.get(0)).isEqualTo("phase,index,startedMs,placedMs,doneMs");
        assertThat(csv).hasSize(61).filteredOn(line -> line.startsWith("provision,")).hasSize(20)
                .allMatch(line -> line.matches("provision,\\d+,[\\d.]+,[\\d.]+,[\\d.]+"));
        Files.delete(timings);
        assertThat(ctl.ok("volume", "ls", "-o", "json").out().strip()).isEqualTo("[ ]");
        assertThat(Await.result(store.listRaw(local.prefix + "/bench-baseline/")).entries()).isEmpty();
        await().atMost(Duration.ofSeconds(20)).until(() -> ourLoops().isEmpty());

        assertThat(ctl.fails(ExitCodes.USAGE, "bench", "provision", "--volumes", "0").err()).contains("--volumes");
        assertThat(ctl.fails(ExitCodes.USAGE, "bench", "provision", "--warmup", "-1").err()).contains("--warmup");
    }

    @Test
    void completionAndHelpArePrintedAnUnknownCommandIsAUsageErrorAndAnUnreachableEtcdSaysSoWithItsExitCode() throws Exception {
        Result completion = ctl.ok("generate-completion");
        assertThat(completion.out()).contains("bash").contains("ferryctl").contains("complete -F");
        assertThat(ctl.ok("--help").out()).contains("Exit codes:").contains("etcd unreachable");
        assertThat(ctl.fails(ExitCodes.USAGE, "volume", "frobnicate").err()).contains("frobnicate");

        Map<String, String> nowhere = Map.of("FERRY_ETCD_ENDPOINTS", "http://127.0.0.1:" + freePort(), "FERRY_PREFIX", local.prefix);
        Result down = CtlShell.run(nowhere, "pool", "ls");
        assertThat(down.code()).as(down.toString()).isEqualTo(ExitCodes.ETCD_UNAVAILABLE);
        assertThat(down.err()).startsWith("error: ").contains("etcd").contains("FERRY_ETCD_ENDPOINTS");
        Result watchDown = CtlShell.run(nowhere, "watch", "--count", "1");
        assertThat(watchDown.code()).as(watchDown.toString()).isEqualTo(ExitCodes.ETCD_UNAVAILABLE);
    }

    static byte[] readDevice(String device, long offset, int length) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(device, "r")) {
            byte[] buffer = new byte[length];
            f.seek(offset);
            f.readFully(buffer);
            return buffer;
        }
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
