package io.ferry.agent.spdk;

import io.ferry.agent.AgentHarness;
import io.ferry.agent.engine.SpdkEngine;
import io.ferry.etcd.testing.Await;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.model.Engine;
import io.ferry.model.Orphan;
import io.ferry.model.OrphanOwner;
import io.ferry.model.OrphanRemovalOutcome;
import io.ferry.model.OrphanRemovalResult;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolSource;
import io.ferry.model.Sizes;
import io.ferry.model.WorkItem;
import io.ferry.runtime.exec.ProcessCommandRunner;
import org.assertj.core.groups.Tuple;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A real agent and etcd over {@link FakeSpdk} (no SPDK target exists on this machine or in the VM
 * testbed): lvols are adopted, reported and removed by the cluster marker in their names.
 */
class SpdkOwnershipIT {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    static final String OTHER_MARK = SpdkEngine.marker("0b6c1e2a-0000-4000-8000-0000000000ff") + "_";

    @RegisterExtension
    final AgentHarness h = new AgentHarness(etcd);

    Path socketDir;
    FakeSpdk spdk;
    SpdkClient client;
    String mark;

    @BeforeEach
    void setUp() throws Exception {
        mark = SpdkEngine.marker(h.createCluster().id()) + "_";
        // Unix socket paths are short; the harness's temporary directory may be too deep.
        socketDir = Files.createTempDirectory(Path.of("/tmp"), "spdk");
        spdk = new FakeSpdk(socketDir.resolve("s.sock"));
        client = new SpdkClient(socketDir.resolve("s.sock"), Duration.ofSeconds(5));
        client.createLvstore("Malloc0", "lvs0");
        Await.result(h.store.put(h.keys.poolConfig("fast"), PoolConfig.builder("fast", AgentHarness.NODE, Engine.SPDK,
                PoolSource.lvstore("lvs0").withBdev("Malloc0")).prepare(true).build()));
    }

    @AfterEach
    void tearDown() throws IOException {
        // The agent goes before the target it talks to; the harness closes the rest after this.
        h.stop();
        spdk.close();
        Files.deleteIfExists(socketDir.resolve("s.sock"));
        Files.deleteIfExists(socketDir);
    }

    static WorkItem work(String volume) {
        return WorkItem.of(volume, AgentHarness.NODE, "fast", Engine.SPDK, 16 * Sizes.MIB, true, 1, null, null);
    }

    List<String> lvolNames() {
        synchronized (spdk) {
            return spdk.lvols.values().stream().map(l -> l.name).sorted().toList();
        }
    }

    @Test
    void lvolsAreAdoptedReportedAndRemovedByTheirClusterMarker() {
        String old = client.createLvol("lvs0", "old", 16 * Sizes.MIB, true);
        client.createLvol("lvs0", "kept", 8 * Sizes.MIB, true);
        String theirsV1 = client.createLvol("lvs0", OTHER_MARK + "v1", 8 * Sizes.MIB, true);
        client.createLvol("lvs0", OTHER_MARK + "theirs", 8 * Sizes.MIB, true);
        h.putWork(work("v1"));
        h.putWork(work("old"));
        h.putWork(work("mine"));
        h.start(new ProcessCommandRunner(), h.options().withSpdkSocket(socketDir.resolve("s.sock")));
        h.awaitReady("v1");
        h.awaitReady("old");
        h.awaitReady("mine");
        assertThat(lvolNames()).containsExactlyInAnyOrder(mark + "v1", mark + "old", mark + "mine", "kept",
                OTHER_MARK + "v1", OTHER_MARK + "theirs");
        synchronized (spdk) {
            assertThat(spdk.lvols.get(old).name).as("renamed in place, same bdev").isEqualTo(mark + "old");
            assertThat(spdk.lvols.get(theirsV1).size).isEqualTo(8 * Sizes.MIB);
        }

        // The work item of "mine" goes (a slip, a restored etcd): kept and reported as this cluster's.
        Await.result(h.store.delete(h.keys.workItem(AgentHarness.NODE, "mine")));
        Await.result(h.store.delete(h.keys.placement("mine")));
        await().atMost(Duration.ofSeconds(30)).until(() -> h.orphans().size() == 4);
        assertThat(h.orphans()).extracting(Orphan::volumeTag, Orphan::owner).containsExactlyInAnyOrder(
                Tuple.tuple("mine", OrphanOwner.THIS_CLUSTER),
                Tuple.tuple("kept", OrphanOwner.UNMARKED),
                Tuple.tuple("theirs", OrphanOwner.OTHER_CLUSTER),
                // Beside this cluster's v1, which a work item names: reported all the same.
                Tuple.tuple("v1", OrphanOwner.OTHER_CLUSTER));

        assertThat(h.removeOrphan("rm-kept", "lvs0/kept").outcome()).isEqualTo(OrphanRemovalOutcome.REFUSED);
        assertThat(h.removeOrphan("rm-theirs", "lvs0/theirs").outcome()).isEqualTo(OrphanRemovalOutcome.REFUSED);
        assertThat(h.removeOrphan("rm-v1", "lvs0/v1").outcome()).isEqualTo(OrphanRemovalOutcome.REFUSED);
        OrphanRemovalResult done = h.removeOrphan("rm-mine", "lvs0/mine");
        assertThat(done.outcome()).as(done.message()).isEqualTo(OrphanRemovalOutcome.DONE);
        assertThat(lvolNames()).containsExactlyInAnyOrder(mark + "v1", mark + "old", "kept", OTHER_MARK + "v1",
                OTHER_MARK + "theirs");
    }
}
