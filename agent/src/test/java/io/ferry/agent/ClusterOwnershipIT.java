package io.ferry.agent;

import io.ferry.etcd.testing.Await;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.model.Engine;
import io.ferry.model.Orphan;
import io.ferry.model.OrphanAdoptionResult;
import io.ferry.model.OrphanRefusal;
import io.ferry.model.OrphanOwner;
import io.ferry.model.OrphanRemovalOutcome;
import io.ferry.model.OrphanRemovalResult;
import io.ferry.model.Placement;
import io.ferry.model.PoolStatus;
import io.ferry.model.Sizes;
import io.ferry.model.VolumePhase;
import io.ferry.model.VolumeStatus;
import io.ferry.model.WorkItem;
import io.ferry.runtime.pool.PoolMarker;
import java.nio.charset.StandardCharsets;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Two Ferry clusters on one host never touch each other's storage, and an orphan is removed only
 * on an operator's order, only if it carries this cluster's marker. Real etcd, real loop devices.
 */
class ClusterOwnershipIT {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    @RegisterExtension
    final AgentHarness h = AgentHarness.withFilePool(etcd, "files");

    /** A second cluster's agent on the same host, where a test needs one. */
    AgentHarness other;

    @AfterEach
    void closeOther() throws IOException {
        if (other != null) {
            other.close();
        }
    }

    static WorkItem work(String volume) {
        return WorkItem.of(volume, AgentHarness.NODE, "files", Engine.FILE, 16 * Sizes.MIB, true, 1, null, null);
    }

    /** Creates a volume and fills its first MiB through its loop device; returns the checksum of its image. */
    String createAndWrite(String volume) throws Exception {
        return checksum(h.createAndFill(volume));
    }

    static String checksum(Path file) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    }

    static void markAsCluster(Path file, String clusterId) throws IOException {
        Files.getFileAttributeView(file, UserDefinedFileAttributeView.class)
                .write("ferry.cluster", StandardCharsets.UTF_8.encode(clusterId));
    }

    @Test
    void anAdoptionIsRefusedForAnUnmarkedFileAnotherClustersFileAndAVolumeAPlacementNamesAndChangesNothing()
            throws Exception {
        h.start();
        createAndWrite("placed-g");
        Await.result(h.store.delete(h.keys.workItem(AgentHarness.NODE, "placed-g")));
        Await.result(h.store.put(h.keys.placement("placed-g"), Placement.of("placed-g", "files",
                AgentHarness.NODE, Engine.FILE, 16 * Sizes.MIB, true, 1, null, null, null, Instant.now())));
        Await.result(h.store.delete(h.keys.volumeStatus(AgentHarness.NODE, "placed-g")));
        byte[] bytes = new byte[4 << 20];
        new Random(11).nextBytes(bytes);
        Path copied = Files.write(h.poolDir.resolve("copied.img"), bytes);
        Path theirs = Files.write(h.poolDir.resolve("theirs.img"), bytes);
        markAsCluster(theirs, "0a1b2c3d-other-cluster");
        Path placed = h.poolDir.resolve("placed-g.img");
        String placedSum = checksum(placed);
        String foreignSum = checksum(copied);
        await().atMost(Duration.ofSeconds(30)).until(() -> h.orphan("copied").isPresent()
                && h.orphan("theirs").isPresent() && h.orphan("placed-g").isPresent());
        assertThat(h.orphan("theirs").orElseThrow().owner()).isEqualTo(OrphanOwner.OTHER_CLUSTER);

        OrphanAdoptionResult unmarked = h.adoptOrphan("adopt-copied", copied.toString());
        assertThat(unmarked.outcome()).isEqualTo(OrphanRemovalOutcome.REFUSED);
        assertThat(unmarked.reason()).as(unmarked.message()).isEqualTo(OrphanRefusal.UNMARKED);
        OrphanAdoptionResult foreign = h.adoptOrphan("adopt-theirs", theirs.toString());
        assertThat(foreign.reason()).as(foreign.message()).isEqualTo(OrphanRefusal.OTHER_CLUSTER);
        OrphanAdoptionResult named = h.adoptOrphan("adopt-placed", placed.toString());
        assertThat(named.reason()).as(named.message()).isEqualTo(OrphanRefusal.NAMED_BY_PLACEMENT);
        assertThat(named.volume()).isNull();

        Thread.sleep(2 * h.options().orphanInterval().toMillis());
        for (String volume : new String[] {"copied", "theirs", "placed-g"}) {
            assertThat(h.status(volume)).as("no status written for " + volume).isEmpty();
        }
        assertThat(checksum(copied)).isEqualTo(foreignSum);
        assertThat(checksum(theirs)).isEqualTo(foreignSum);
        assertThat(checksum(placed)).isEqualTo(placedSum);
        assertThat(h.poolFiles()).containsExactlyInAnyOrder("copied.img", "theirs.img", "placed-g.img");
    }

    @Test
    void anAdoptionOrderForAnOrphanThatNoLongerExistsIsAnsweredNotFoundAndChangesNothing() throws Exception {
        h.start();
        createAndWrite("gone-h");
        createAndWrite("other-i");
        Await.result(h.store.delete(h.keys.workItem(AgentHarness.NODE, "gone-h")));
        Await.result(h.store.delete(h.keys.placement("gone-h")));
        Await.result(h.store.delete(h.keys.volumeStatus(AgentHarness.NODE, "gone-h")));
        Path file = h.poolDir.resolve("gone-h.img");
        await().atMost(Duration.ofSeconds(30)).until(() -> h.orphan("gone-h").isPresent());
        assertThat(h.removeOrphan("rm-gone", file.toString()).outcome()).isEqualTo(OrphanRemovalOutcome.DONE);
        VolumeStatus other = h.status("other-i").orElseThrow();

        OrphanAdoptionResult answer = h.adoptOrphan("adopt-gone", file.toString());
        assertThat(answer.outcome()).isEqualTo(OrphanRemovalOutcome.REFUSED);
        assertThat(answer.reason()).as(answer.message()).isEqualTo(OrphanRefusal.NOT_FOUND);
        assertThat(answer.message()).contains(file.toString());
        Thread.sleep(2 * h.options().orphanInterval().toMillis());
        assertThat(h.status("gone-h")).isEmpty();
        assertThat(file).doesNotExist();
        assertThat(h.poolFiles()).containsExactly("other-i.img");
        assertThat(h.status("other-i").orElseThrow()).isEqualTo(other);

        // Withdrawing the order lets the agent drop its answer.
        Await.result(h.store.delete(h.keys.orphanAdoption(AgentHarness.NODE, "adopt-gone")));
        await().atMost(Duration.ofSeconds(30)).until(() -> Await.result(h.store.getRaw(
                h.keys.orphanAdoptionResult(AgentHarness.NODE, "adopt-gone"))).isEmpty());
    }

    @Test
    void aSecondClusterPointedAtTheSamePoolDirectoryRefusesItAndTouchesNothing() throws Exception {
        h.start();
        String sum = createAndWrite("mine-a");
        String marker = Files.readString(h.poolDir.resolve(PoolMarker.FILE_NAME));
        h.stop();
        var attached = h.loops();

        // Another cluster (its own etcd prefix, its own id) on the same host, same node name, same directory.
        other = new AgentHarness(etcd.options(EtcdExtension.uniquePrefix()));
        other.filePool("files", h.poolDir);
        other.start();
        other.putWork(WorkItem.of("mine-a", AgentHarness.NODE, "files", Engine.FILE, 16 * Sizes.MIB, true, 1, null,
                null));
        other.putWork(WorkItem.of("theirs-b", AgentHarness.NODE, "files", Engine.FILE, 16 * Sizes.MIB, true, 1, null,
                null));

        String poolStatus = other.keys.nodePoolStatus(AgentHarness.NODE, "files");
        await().atMost(Duration.ofSeconds(30)).until(() -> Await.result(other.store.get(poolStatus, PoolStatus.class))
                .filter(s -> s.value().conditions().stream()
                        .anyMatch(c -> c.reason().equals("MarkerOfAnotherCluster"))).isPresent());
        await().atMost(Duration.ofSeconds(30)).until(() -> other.status("mine-a").isPresent()
                && other.status("theirs-b").isPresent());
        Thread.sleep(3 * other.options().orphanInterval().toMillis());

        assertThat(other.status("mine-a").orElseThrow().phase()).isNotEqualTo(VolumePhase.READY);
        assertThat(other.status("theirs-b").orElseThrow().phase()).isNotEqualTo(VolumePhase.READY);
        assertThat(h.poolFiles()).containsExactly("mine-a.img");
        assertThat(checksum(h.poolDir.resolve("mine-a.img"))).isEqualTo(sum);
        assertThat(Files.readString(h.poolDir.resolve(PoolMarker.FILE_NAME))).isEqualTo(marker);
        assertThat(h.loops()).as("no loop device attached or detached in the directory").isEqualTo(attached);
    }

    @Test
    void aForeignImageCopiedIntoTheClaimedDirectoryIsReportedUnmarkedAndAnOrderToRemoveItIsRefused() throws Exception {
        h.start();
        createAndWrite("mine-c");
        byte[] foreign = new byte[3 << 20];
        new Random(7).nextBytes(foreign);
        Path copied = Files.write(h.poolDir.resolve("copied.img"), foreign);
        String sum = checksum(copied);

        await().atMost(Duration.ofSeconds(30)).until(() -> h.orphan("copied").isPresent());
        Orphan reported = h.orphan("copied").orElseThrow();
        assertThat(reported.owner()).isEqualTo(OrphanOwner.UNMARKED);
        assertThat(reported.pool()).isEqualTo("files");
        assertThat(reported.sizeBytes()).isEqualTo(3 << 20);
        assertThat(reported.firstSeen()).isNotNull();
        assertThat(reported.name()).isEqualTo(copied.toString());

        OrphanRemovalResult result = h.removeOrphan("rm-copied", copied.toString());
        assertThat(result.outcome()).isEqualTo(OrphanRemovalOutcome.REFUSED);
        assertThat(result.message()).contains("unmarked");
        Thread.sleep(2 * h.options().orphanInterval().toMillis());
        assertThat(checksum(copied)).isEqualTo(sum);
        // Its first sighting is kept from scan to scan.
        assertThat(h.orphan("copied").orElseThrow().firstSeen()).isEqualTo(reported.firstSeen());
        assertThat(h.status("mine-c").orElseThrow().phase()).isEqualTo(VolumePhase.READY);
    }

    @Test
    void anOrderRemovesThisClustersUnownedVolumeButNotOneAWorkItemOrPlacementStillNames() throws Exception {
        h.start();
        createAndWrite("lost-d");
        createAndWrite("kept-e");
        Path file = h.poolDir.resolve("lost-d.img");

        OrphanRemovalResult named = h.removeOrphan("rm-named", file.toString());
        assertThat(named.outcome()).isEqualTo(OrphanRemovalOutcome.REFUSED);
        assertThat(named.message()).contains("work item");

        // The work item goes (a slip, a restored etcd): the agent keeps the volume and reports it.
        Await.result(h.store.delete(h.keys.workItem(AgentHarness.NODE, "lost-d")));
        Await.result(h.store.delete(h.keys.placement("lost-d")));
        Await.result(h.store.delete(h.keys.workItem(AgentHarness.NODE, "kept-e")));
        Await.result(h.store.put(h.keys.placement("kept-e"), Placement.of("kept-e", "files",
                AgentHarness.NODE, Engine.FILE, 16 * Sizes.MIB, true, 1, null, null, null, Instant.now())));
        await().atMost(Duration.ofSeconds(30)).until(() -> h.orphan("lost-d").isPresent());
        assertThat(h.orphan("lost-d").orElseThrow().owner()).isEqualTo(OrphanOwner.THIS_CLUSTER);
        assertThat(file).exists();

        Path kept = h.poolDir.resolve("kept-e.img");
        OrphanRemovalResult placed = h.removeOrphan("rm-placed", kept.toString());
        assertThat(placed.outcome()).isEqualTo(OrphanRemovalOutcome.REFUSED);
        assertThat(placed.message()).contains("placement");
        assertThat(kept).exists();

        OrphanRemovalResult done = h.removeOrphan("rm-lost", file.toString());
        assertThat(done.outcome()).as(done.message()).isEqualTo(OrphanRemovalOutcome.DONE);
        assertThat(file).doesNotExist();
        await().atMost(Duration.ofSeconds(30)).until(() -> h.orphan("lost-d").isEmpty());

        // Withdrawing the order lets the agent drop its answer.
        Await.result(h.store.delete(h.keys.orphanRemoval(AgentHarness.NODE, "rm-lost")));
        await().atMost(Duration.ofSeconds(30)).until(() -> Await.result(h.store.getRaw(
                h.keys.orphanRemovalResult(AgentHarness.NODE, "rm-lost"))).isEmpty());
    }

    @Test
    void anAgentWaitsForTheClusterIdBeforeCreatingAnything() throws Exception {
        other = new AgentHarness(etcd.options(EtcdExtension.uniquePrefix()), false);
        other.filePool("files");
        other.putWork(work("early-f"));
        other.startInBackground();
        Thread.sleep(4000);
        assertThat(other.poolDir).doesNotExist();
        assertThat(other.status("early-f")).isEmpty();

        other.createCluster();
        await().atMost(Duration.ofSeconds(30)).until(() -> other.status("early-f")
                .filter(s -> s.phase() == VolumePhase.READY).isPresent());
        assertThat(other.poolFiles()).containsExactly("early-f.img");
    }
}
