package io.ferry.agent;

import io.ferry.agent.engine.LoopDevices;
import io.ferry.etcd.store.Versioned;
import io.ferry.etcd.testing.Await;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.model.Engine;
import io.ferry.model.FailureReason;
import io.ferry.model.Placement;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolSource;
import io.ferry.model.PoolStatus;
import io.ferry.model.Sizes;
import io.ferry.model.VolumePhase;
import io.ferry.model.VolumeStatus;
import io.ferry.model.WorkItem;
import io.ferry.runtime.device.TestDisks;
import io.ferry.runtime.exec.ProcessCommandRunner;
import io.ferry.runtime.pool.PoolMarker;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Instant;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Absence is never a request to destroy: keys an operator removed by mistake, or that an etcd
 * restored from an older backup never had, leave every volume and its data as they were. Each test
 * writes data through the real loop device and checks it by checksum afterwards.
 */
class DataSafetyIT {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    @RegisterExtension
    final AgentHarness h = AgentHarness.withFilePool(etcd, "files");

    static WorkItem work(String volume) {
        return WorkItem.of(volume, AgentHarness.NODE, "files", Engine.FILE, 16 * Sizes.MIB, true, 1, null, null);
    }

    /** Creates a volume and fills its first MiB through its loop device; returns the checksum. */
    String createAndWrite(String volume) throws Exception {
        h.createAndFill(volume);
        return checksum(volume);
    }

    /** Checksum of the volume's first MiB, read from its file in the pool (not through the agent). */
    String checksum(String volume) throws Exception {
        return TestDisks.sha256OfFirstMiB(h.poolDir.resolve(volume + ".img"));
    }

    boolean reportedAsOrphan(String volume) {
        return h.orphan(volume).isPresent();
    }

    @Test
    void anOperatorDeletingTheNodesPrefixUnderLiveVolumesDestroysNothingNowOrAtTheAgentsNextStart() throws Exception {
        h.start();
        String a = createAndWrite("keep-a");
        String b = createAndWrite("keep-b");

        // The slip the issue names: every key of the node gone, work items and statuses alike.
        etcd.etcdctl("del", "--prefix", h.keys.node(AgentHarness.NODE));
        etcd.etcdctl("del", "--prefix", h.keys.work(AgentHarness.NODE));

        await().atMost(Duration.ofSeconds(30)).until(() -> reportedAsOrphan("keep-a") && reportedAsOrphan("keep-b"));
        Thread.sleep(3 * h.options().orphanInterval().toMillis());
        assertThat(h.poolFiles()).containsExactly("keep-a.img", "keep-b.img");
        assertThat(checksum("keep-a")).isEqualTo(a);
        assertThat(checksum("keep-b")).isEqualTo(b);

        h.stop();
        h.start();
        await().atMost(Duration.ofSeconds(30)).until(() -> reportedAsOrphan("keep-a") && reportedAsOrphan("keep-b"));
        Thread.sleep(3 * h.options().orphanInterval().toMillis());
        assertThat(h.poolFiles()).containsExactly("keep-a.img", "keep-b.img");
        assertThat(checksum("keep-a")).isEqualTo(a);
        assertThat(checksum("keep-b")).isEqualTo(b);
    }

    @Test
    void aWorkItemDeletedWhileTheAgentIsDownDeletesNothingAndTheVolumeIsAdoptedWhenItComesBack() throws Exception {
        h.start();
        String sum = createAndWrite("keep-c");
        h.crash();
        Await.result(h.store.delete(h.keys.workItem(AgentHarness.NODE, "keep-c")));

        h.start();
        await().atMost(Duration.ofSeconds(30)).until(() -> reportedAsOrphan("keep-c"));
        assertThat(h.status("keep-c")).as("the status is kept as the record of what this node served").isPresent();
        assertThat(checksum("keep-c")).isEqualTo(sum);

        // The controller writes the work item again (as it does from the placement): same volume, same data.
        h.putWork(work("keep-c"));
        await().atMost(Duration.ofSeconds(30)).until(() -> h.status("keep-c")
                .filter(s -> s.phase() == VolumePhase.READY).isPresent() && !reportedAsOrphan("keep-c"));
        assertThat(checksum("keep-c")).isEqualTo(sum);
        assertThat(h.poolFiles()).containsExactly("keep-c.img");
    }

    @Test
    void aWorkItemNoPlacementAccountsForCreatesAndGrowsNothing() throws Exception {
        h.start();
        // Forged: no placement at all. Nothing is created; the status says why, typed.
        h.putWorkWithoutPlacement(work("forged"));
        await().atMost(Duration.ofSeconds(30)).until(() -> h.status("forged").flatMap(VolumeStatus::ready)
                .map(c -> c.failureReason() == FailureReason.UNPLACED_WORK).orElse(false));
        assertThat(h.status("forged").orElseThrow().message()).contains("no placement exists for it");
        assertThat(h.poolFiles()).isEmpty();

        // A placement for another node does not count either.
        Await.result(h.store.put(h.keys.placement("forged"), Placement.of("forged", "files", "node-z",
                Engine.FILE, 16 * Sizes.MIB, true, 1, null, null, null, Instant.now())));
        h.putWorkWithoutPlacement(WorkItem.of("forged", AgentHarness.NODE, "files", Engine.FILE, 16 * Sizes.MIB, true, 2,
                null, null));
        await().atMost(Duration.ofSeconds(30)).until(() -> h.status("forged").map(VolumeStatus::message)
                .filter(m -> m.contains("its placement is on node node-z")).isPresent());
        assertThat(h.poolFiles()).isEmpty();

        // A real volume: growing it beyond what its placement holds (the ledger's charge) is refused too.
        String sum = createAndWrite("placed");
        h.putWorkWithoutPlacement(WorkItem.of("placed", AgentHarness.NODE, "files", Engine.FILE, 64 * Sizes.MIB, true, 2,
                null, null));
        await().atMost(Duration.ofSeconds(30)).until(() -> h.status("placed").map(VolumeStatus::message)
                .filter(m -> m.contains("its placement holds " + 16 * Sizes.MIB + " bytes")).isPresent());
        assertThat(Files.size(h.poolDir.resolve("placed.img"))).isEqualTo(16 * Sizes.MIB);
        assertThat(checksum("placed")).isEqualTo(sum);

        // The controller's own growth (placement and work item together) is carried out.
        h.putWork(WorkItem.of("placed", AgentHarness.NODE, "files", Engine.FILE, 64 * Sizes.MIB, true, 3, null, null));
        await().atMost(Duration.ofSeconds(30)).until(() -> h.status("placed")
                .filter(s -> s.phase() == VolumePhase.READY && s.sizeBytes() == 64 * Sizes.MIB).isPresent());
        assertThat(checksum("placed")).isEqualTo(sum);
    }

    @Test
    void onlyAnExplicitDeletionOrderRemovesAVolumeAndTheAgentAcknowledgesItsGeneration() throws Exception {
        h.start();
        createAndWrite("gone-a");
        h.orderDeletion("gone-a");
        await().atMost(Duration.ofSeconds(30)).until(() -> h.status("gone-a")
                .filter(s -> s.phase() == VolumePhase.DELETED && s.observedGeneration() == 2).isPresent());
        assertThat(h.poolFiles()).isEmpty();
        assertThat(h.loops()).isEmpty();

        // Withdrawing the acknowledged order is what lets the agent drop its status.
        Await.result(h.store.delete(h.keys.workItem(AgentHarness.NODE, "gone-a")));
        await().atMost(Duration.ofSeconds(30)).until(() -> h.status("gone-a").isEmpty());
    }

    /** The volume's status as stored, with its version (how many times it was written since created). */
    Versioned<VolumeStatus> storedStatus(String volume) {
        return Await.result(h.store.get(h.keys.volumeStatus(AgentHarness.NODE, volume), VolumeStatus.class)).orElseThrow();
    }

    @Test
    void aDeletionCostsTheAgentOneWriteAndAnAcknowledgementTakenWithItsOrderIsNotWrittenAgain() throws Exception {
        h.start();
        createAndWrite("gone-b");
        long readyVersion = storedStatus("gone-b").version();
        h.orderDeletion("gone-b");
        await().atMost(Duration.ofSeconds(30)).until(() -> h.status("gone-b")
                .filter(s -> s.phase() == VolumePhase.DELETED && s.observedGeneration() == 2).isPresent());
        Versioned<VolumeStatus> acknowledgement = storedStatus("gone-b");
        assertThat(acknowledgement.version()).as("Ready, then Deleted, nothing in between").isEqualTo(readyVersion + 1);

        // As the controller's release does, the acknowledgement is removed with the order; here the
        // order's removal comes later, as when the work items' watch runs behind the statuses'.
        String statusKey = h.keys.volumeStatus(AgentHarness.NODE, "gone-b");
        Await.result(h.store.delete(statusKey));
        Thread.sleep(1500);
        assertThat(h.status("gone-b")).as("not acknowledged a second time while the order is still seen").isEmpty();
        Await.result(h.store.delete(h.keys.workItem(AgentHarness.NODE, "gone-b")));
        await().atMost(Duration.ofSeconds(10)).until(() -> Boolean.TRUE.equals(Await.result(h.agent().idle())));
        assertThat(h.status("gone-b")).isEmpty();
        assertThat(h.poolFiles()).isEmpty();
        assertThat(h.loops()).isEmpty();
    }

    @Test
    void anAcknowledgementRemovedByHandWhileItsOrderStandsIsWrittenAgain() throws Exception {
        h.start();
        createAndWrite("gone-c");
        h.orderDeletion("gone-c");
        await().atMost(Duration.ofSeconds(30)).until(() -> h.status("gone-c")
                .filter(s -> s.phase() == VolumePhase.DELETED).isPresent());
        Await.result(h.store.delete(h.keys.volumeStatus(AgentHarness.NODE, "gone-c")));
        await().atMost(VolumeReconciler.ACKNOWLEDGEMENT_TAKEN_RECHECK.plusSeconds(10)).until(() -> h.status("gone-c")
                .filter(s -> s.phase() == VolumePhase.DELETED && s.observedGeneration() == 2).isPresent());
        assertThat(h.poolFiles()).isEmpty();
    }

    Optional<PoolStatus> poolStatus(String pool) {
        return Await.result(h.store.get(h.keys.nodePoolStatus(AgentHarness.NODE, pool), PoolStatus.class))
                .map(Versioned::value);
    }

    /** What a reboot does to the node's loop devices. */
    void detachLoops() {
        var devices = new LoopDevices(new ProcessCommandRunner(),
                Duration.ofSeconds(10));
        h.loops().forEach(loop -> devices.detach(loop.device(), null));
    }

    @Test
    void aPoolWhoseFileSystemDidNotMountLeavesItsVolumesLostNotRecreatedEmptyAndTheyReturnWithIt() throws Exception {
        h.start();
        String sum = createAndWrite("kept-d");
        h.crash();
        detachLoops();
        // The pool's file system is not mounted after the reboot: its mount point is an empty directory.
        Path away = h.root.resolve("pool-unmounted");
        Files.move(h.poolDir, away);
        Files.createDirectory(h.poolDir);

        h.start();
        await().atMost(Duration.ofSeconds(30)).until(() -> h.status("kept-d")
                .filter(s -> s.phase() == VolumePhase.LOST).isPresent());
        VolumeStatus lost = h.status("kept-d").orElseThrow();
        assertThat(lost.devicePath()).as("a lost volume offers no device").isNull();
        assertThat(lost.message()).contains("not re-created");
        await().atMost(Duration.ofSeconds(30)).until(() -> poolStatus("files").filter(p -> !p.healthy()
                && p.conditions().stream().anyMatch(c -> c.reason().equals("MarkerMissing"))).isPresent());
        try (var files = Files.list(h.poolDir)) {
            assertThat(files.toList()).as("nothing created on the root file system").isEmpty();
        }

        // The file system is mounted again: the same volume, the same bytes, without anyone's help.
        Files.delete(h.poolDir);
        Files.move(away, h.poolDir);
        await().atMost(Duration.ofSeconds(30)).until(() -> h.status("kept-d")
                .filter(s -> s.phase() == VolumePhase.READY).isPresent());
        assertThat(checksum("kept-d")).isEqualTo(sum);
    }

    @Test
    void aVolumeWhoseWorkItemSaysItMustExistIsLostNotRecreatedEvenWithoutItsStatusAndReturnsWithItsFiles() throws Exception {
        h.start();
        String sum = createAndWrite("kept-e");
        h.crash();
        detachLoops();
        // Everything the node knew is gone: its status, its work item, and the files (moved away).
        Await.result(h.store.delete(h.keys.volumeStatus(AgentHarness.NODE, "kept-e")));
        Await.result(h.store.delete(h.keys.workItem(AgentHarness.NODE, "kept-e")));
        Path away = Files.createDirectory(h.root.resolve("moved-away"));
        Files.move(h.poolDir.resolve("kept-e.img"), away.resolve("kept-e.img"));

        h.start();
        // The controller rewrites the work item from the placement, which records the first creation.
        h.putWork(work("kept-e").withCreationRecord(true, 0));
        await().atMost(Duration.ofSeconds(30)).until(() -> h.status("kept-e")
                .filter(s -> s.phase() == VolumePhase.LOST).isPresent());
        VolumeStatus lost = h.status("kept-e").orElseThrow();
        assertThat(lost.devicePath()).isNull();
        assertThat(lost.pool()).isEqualTo("files");
        assertThat(lost.message()).contains("first creation").contains("not re-created");
        assertThat(h.poolFiles()).as("no empty volume in its place").isEmpty();

        Files.move(away.resolve("kept-e.img"), h.poolDir.resolve("kept-e.img"));
        await().atMost(Duration.ofSeconds(30)).until(() -> h.status("kept-e")
                .filter(s -> s.phase() == VolumePhase.READY).isPresent());
        assertThat(checksum("kept-e")).isEqualTo(sum);
    }

    @Test
    void anOperatorsEmptyReplacementOfALostVolumeCreatesItEmptyOnceAndThenItMustExistAgain() throws Exception {
        h.start();
        createAndWrite("kept-f");
        h.crash();
        detachLoops();
        Files.delete(h.poolDir.resolve("kept-f.img"));
        h.start();
        h.putWork(work("kept-f").withCreationRecord(true, 0));
        await().atMost(Duration.ofSeconds(30)).until(() -> h.status("kept-f")
                .filter(s -> s.phase() == VolumePhase.LOST).isPresent());

        // Another generation alone (an export change, say) is no decision: still Lost.
        WorkItem later = WorkItem.of("kept-f", AgentHarness.NODE, "files", Engine.FILE, 16 * Sizes.MIB, true, 2, null, null);
        h.putWork(later);
        Thread.sleep(1000);
        assertThat(h.status("kept-f").orElseThrow().phase()).isEqualTo(VolumePhase.LOST);
        assertThat(h.poolFiles()).isEmpty();

        // The operator's decision, as the controller passes it on: empty since generation 3.
        h.putWork(WorkItem.of("kept-f", AgentHarness.NODE, "files", Engine.FILE, 16 * Sizes.MIB, true, 3, null, null)
                .withCreationRecord(false, 3));
        await().atMost(Duration.ofSeconds(30)).until(() -> h.status("kept-f")
                .filter(s -> s.phase() == VolumePhase.READY && s.observedGeneration() == 3).isPresent());
        assertThat(h.poolFiles()).containsExactly("kept-f.img");
        byte[] head = new byte[1 << 20];
        try (RandomAccessFile f = new RandomAccessFile(h.poolDir.resolve("kept-f.img").toFile(), "r")) {
            f.readFully(head);
        }
        assertThat(head).as("the new volume is empty").containsOnly((byte) 0);

        // The new volume, once created, is not re-created either, even before the controller records it.
        h.crash();
        detachLoops();
        Files.delete(h.poolDir.resolve("kept-f.img"));
        h.start();
        await().atMost(Duration.ofSeconds(30)).until(() -> h.status("kept-f")
                .filter(s -> s.phase() == VolumePhase.LOST).isPresent());
        assertThat(h.poolFiles()).isEmpty();
    }

    @Test
    void aPoolAddedOverADirectoryWithSomebodyElsesFilesClaimsNothingAndTouchesNothing() throws Exception {
        Path images = Files.createDirectories(h.root.resolve("vm-images"));
        byte[] precious = new byte[1 << 20];
        new Random(42).nextBytes(precious);
        Files.write(images.resolve("precious.img"), precious);
        Await.result(h.store.put(h.keys.poolConfig("images"), PoolConfig.builder("images",
                AgentHarness.NODE, Engine.FILE, PoolSource.directory(images.toString())).prepare(true).build()));
        h.start();
        await().atMost(Duration.ofSeconds(30)).until(() -> poolStatus("images").filter(p -> !p.healthy()
                && p.conditions().stream().anyMatch(c -> c.reason().equals("ForeignFiles"))).isPresent());
        // Even a work item naming the foreign file's volume gets nothing: no adoption, no truncation.
        h.putWork(WorkItem.of("precious", AgentHarness.NODE, "images", Engine.FILE, 1 << 20, true, 1, null, null));
        Thread.sleep(3 * h.options().orphanInterval().toMillis());
        assertThat(Files.readAllBytes(images.resolve("precious.img"))).isEqualTo(precious);
        assertThat(h.status("precious").map(VolumeStatus::phase)).isNotEqualTo(Optional.of(VolumePhase.READY));
        assertThat(h.loops()).noneMatch(l -> l.backingFile().startsWith(images.toString()));
    }

    @Test
    void systemDirectoriesAndOverlappingDirectoriesAreRefusedAsPoolDirectories() throws Exception {
        Await.result(h.store.putRaw(h.keys.poolConfig("etc"), ("{\"name\":\"etc\",\"node\":\"" + AgentHarness.NODE
                + "\",\"engine\":\"file\",\"source\":{\"directory\":\"/etc\"},\"prepare\":true}")
                .getBytes(StandardCharsets.UTF_8)));
        Await.result(h.store.put(h.keys.poolConfig("inner"), PoolConfig.builder("inner",
                AgentHarness.NODE, Engine.FILE, PoolSource.directory(h.poolDir.resolve("inner").toString()))
                .prepare(true).build()));
        h.start();
        await().atMost(Duration.ofSeconds(30)).until(() -> poolStatus("etc").filter(p -> !p.healthy()
                && p.conditions().stream().anyMatch(c -> c.message() != null && c.message().contains("system directory")))
                .isPresent());
        await().atMost(Duration.ofSeconds(30)).until(() -> poolStatus("inner").filter(p -> !p.healthy()
                && p.conditions().stream().anyMatch(c -> c.reason().equals("OverlapsPool"))).isPresent()
                && poolStatus("files").filter(p -> !p.healthy()).isPresent());
        assertThat(h.poolDir.resolve("inner")).doesNotExist();
        assertThat(Path.of("/etc", PoolMarker.FILE_NAME)).doesNotExist();
    }

    @Test
    void aVolumeWhoseDeviceIsStillOpenIsDeletedOnlyOnceItIsClosedAndNoneOfItsBytesReachTheNextVolume() throws Exception {
        h.start();
        String sum = createAndWrite("busy");
        String device = h.status("busy").orElseThrow().devicePath();
        try (RandomAccessFile holder = new RandomAccessFile(device, "r")) {
            // A consumer still has it open (a mount would); the controller's order arrives anyway.
            h.orderDeletion("busy");
            await().atMost(Duration.ofSeconds(30)).until(() -> h.status("busy")
                    .filter(s -> s.phase() == VolumePhase.DELETING && s.message() != null
                            && s.message().contains("in use")).isPresent());
            assertThat(h.poolFiles()).containsExactly("busy.img");
            assertThat(checksum("busy")).isEqualTo(sum);
            assertThat(h.spareFiles()).as("nothing recycled while open").isEmpty();
            byte[] head = new byte[16];
            holder.readFully(head);
        }
        await().atMost(Duration.ofSeconds(60)).until(() -> h.status("busy")
                .filter(s -> s.phase() == VolumePhase.DELETED).isPresent());
        assertThat(h.poolFiles()).isEmpty();

        h.putWork(work("next"));
        await().atMost(Duration.ofSeconds(30)).until(() -> h.status("next")
                .filter(s -> s.phase() == VolumePhase.READY).isPresent());
        byte[] fresh = new byte[1 << 20];
        try (RandomAccessFile f = new RandomAccessFile(h.status("next").orElseThrow().devicePath(), "r")) {
            f.readFully(fresh);
        }
        assertThat(fresh).containsOnly((byte) 0);
    }
}
