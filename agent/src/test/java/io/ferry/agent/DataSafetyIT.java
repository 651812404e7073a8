package io.ferry.agent;

import io.ferry.etcd.testing.Await;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.model.Engine;
import io.ferry.model.OrphanReport;
import io.ferry.model.Sizes;
import io.ferry.model.VolumePhase;
import io.ferry.model.VolumeStatus;
import io.ferry.model.WorkItem;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
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

    AgentHarness h;

    @BeforeEach
    void setUp() throws Exception {
        h = new AgentHarness(etcd.options(EtcdExtension.uniquePrefix()));
        h.filePool("files");
    }

    @AfterEach
    void tearDown() throws IOException {
        h.close();
    }

    static WorkItem work(String volume) {
        return WorkItem.of(volume, AgentHarness.NODE, "files", Engine.FILE, 16 * Sizes.MIB, true, 1, null, null);
    }

    /** Creates a volume and fills its first MiB through its loop device; returns the checksum. */
    String createAndWrite(String volume) throws Exception {
        h.putWork(work(volume));
        await().atMost(Duration.ofSeconds(30)).until(() -> h.status(volume)
                .filter(s -> s.phase() == VolumePhase.READY).isPresent());
        VolumeStatus ready = h.status(volume).orElseThrow();
        byte[] data = new byte[1 << 20];
        new Random(volume.hashCode()).nextBytes(data);
        try (RandomAccessFile device = new RandomAccessFile(ready.devicePath(), "rw")) {
            device.write(data);
            device.getFD().sync();
        }
        return checksum(volume);
    }

    /** Checksum of the volume's first MiB, read from its file in the pool (not through the agent). */
    String checksum(String volume) throws Exception {
        Path file = h.poolDir.resolve(volume + ".img");
        byte[] head = new byte[1 << 20];
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
            f.readFully(head);
        }
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(head));
    }

    boolean reportedAsOrphan(String volume) {
        return Await.result(h.store.get(h.keys.orphans(AgentHarness.NODE), OrphanReport.class))
                .map(v -> v.value().orphans().stream().anyMatch(o -> volume.equals(o.volumeTag())))
                .orElse(false);
    }

    @Test
    void anOperatorDeletingTheNodesPrefixUnderLiveVolumesDestroysNothingNowOrAtTheAgentsNextStart() throws Exception {
        h.start();
        String a = createAndWrite("keep-a");
        String b = createAndWrite("keep-b");

        // The slip the issue names: every key of the node gone, work items and statuses alike.
        etcd.etcdctl("del", "--prefix", h.keys.node(AgentHarness.NODE));

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
}
