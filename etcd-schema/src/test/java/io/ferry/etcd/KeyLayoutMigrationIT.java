package io.ferry.etcd;

import io.ferry.etcd.store.CommitHeldException;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.store.RawEntry;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.model.Engine;
import io.ferry.model.Json;
import io.ferry.model.KeyLayout;
import io.ferry.model.SnapshotWorkItem;
import io.ferry.model.VolumePhase;
import io.ferry.model.VolumeStatus;
import io.ferry.model.WorkItem;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;

import static io.ferry.etcd.testing.Await.failure;
import static io.ferry.etcd.testing.Await.result;
import static org.assertj.core.api.Assertions.assertThat;

/** Key layout 1 to 2 against a real etcd: keys written the old way, as an older Ferry wrote them. */
class KeyLayoutMigrationIT {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    static final long GI = 1L << 30;

    EtcdStore store;
    FerryKeys keys;

    @BeforeEach
    void connect() {
        store = EtcdStore.connect(etcd.options(EtcdExtension.uniquePrefix()));
        keys = store.keys();
    }

    @AfterEach
    void close() {
        store.close();
    }

    /** Writes a cluster in layout 1; returns the old work item keys with the bytes they hold. */
    Map<String, String> oldCluster() {
        Map<String, String> old = new LinkedHashMap<>();
        for (String node : new String[] {"worker-1", "worker-2"}) {
            for (int i = 0; i < 3; i++) {
                String volume = "vol-" + node.charAt(node.length() - 1) + "-" + i;
                old.put(keys.legacyWorkItem(node, volume), Json.encodeToString(
                        WorkItem.of(volume, node, "pool-a", Engine.FILE, GI, false, 1, null, null)));
            }
            old.put(keys.legacySnapshotWorkItem(node, "snap-" + node), Json.encodeToString(
                    SnapshotWorkItem.of("snap-" + node, node, "vol-x", "pool-a", Engine.FILE, GI, 1)));
        }
        // A value no reader can decode is still someone's work item: it moves as it is.
        old.put(keys.legacyWorkItem("worker-1", "broken"), "{\"volume\": \"broken\", \"sizeBytes\": \"lots\"}");
        old.forEach((k, v) -> result(store.putRaw(k, v.getBytes(StandardCharsets.UTF_8))));
        // The agent's own keys stay where they are.
        result(store.put(keys.volumeStatus("worker-1", "vol-1-0"), VolumeStatus.of("vol-1-0", "worker-1",
                VolumePhase.READY, "/var/lib/ferry/pool-a/vol-1-0", GI, null, 1, null, Instant.parse("2026-11-02T10:00:00Z"))));
        return old;
    }

    Map<String, RawEntry> everything() {
        Map<String, RawEntry> all = new TreeMap<>();
        result(store.listRaw(keys.all())).entries().forEach(e -> all.put(e.key(), e));
        return all;
    }

    void assertMigrated(Map<String, String> old) {
        Map<String, RawEntry> all = everything();
        old.forEach((legacyKey, bytes) -> {
            assertThat(all).as("old key %s removed", legacyKey).doesNotContainKey(legacyKey);
            String moved = KeyLayoutMigration.target(keys, legacyKey);
            assertThat(all).as("moved to %s", moved).containsKey(moved);
            assertThat(all.get(moved).valueAsString()).isEqualTo(bytes);
        });
        assertThat(all.keySet().stream().filter(k -> k.startsWith(keys.nodes()))).as("only the agent's keys under nodes/")
                .containsExactly(keys.volumeStatus("worker-1", "vol-1-0"));
        assertThat(result(KeyLayoutMigration.read(store))).map(KeyLayout::migrated).contains(true);
    }

    @Test
    void movesEveryWorkItemOutOfTheAgentsPrefixKeepingItsBytesAndRecordsTheLayout() {
        Map<String, String> old = oldCluster();
        assertThat(result(KeyLayoutMigration.read(store))).as("layout 1: no key").isEmpty();

        KeyLayoutMigration.Outcome outcome = result(KeyLayoutMigration.run(store, Instant.now()));

        assertThat(outcome).isEqualTo(new KeyLayoutMigration.Outcome(old.size(), old.size(), true));
        assertMigrated(old);
        assertThat(keys.parse(keys.workItem("worker-1", "vol-1-0")).orElseThrow().kind()).isEqualTo(FerryKeys.Kind.NODE_WORK);
    }

    @Test
    void runningItAgainChangesNothing() {
        Map<String, String> old = oldCluster();
        result(KeyLayoutMigration.run(store, Instant.now()));
        Map<String, Long> before = new TreeMap<>();
        everything().forEach((k, e) -> before.put(k, e.modRevision()));

        KeyLayoutMigration.Outcome again = result(KeyLayoutMigration.run(store, Instant.now()));

        assertThat(again).isEqualTo(new KeyLayoutMigration.Outcome(0, 0, false));
        Map<String, Long> after = new TreeMap<>();
        everything().forEach((k, e) -> after.put(k, e.modRevision()));
        assertThat(after).as("not one key rewritten").isEqualTo(before);
        assertMigrated(old);
    }

    @Test
    void aControllerThatDiesAtAnyPointOfTheMigrationLeavesEveryWorkItemSomewhereAndTheNextStartFinishesIt() {
        int items = oldCluster().size();
        // Two writes per work item (copy, then delete) and the layout key: die before each one in turn.
        for (int crashAfter = 0; crashAfter <= 2 * items; crashAfter++) {
            store.close();
            connect();
            Map<String, String> old = oldCluster();
            AtomicInteger commits = new AtomicInteger();
            int limit = crashAfter;
            EtcdStore dying = store.holdingCommitsWhile(() -> commits.incrementAndGet() > limit
                    ? Optional.of("the controller died") : Optional.empty());

            Throwable died = failure(KeyLayoutMigration.run(dying, Instant.now()));

            assertThat(died).as("died after %d writes", limit).isInstanceOf(CommitHeldException.class);
            Map<String, RawEntry> all = everything();
            old.forEach((legacyKey, bytes) -> {
                String moved = KeyLayoutMigration.target(keys, legacyKey);
                RawEntry somewhere = all.containsKey(moved) ? all.get(moved) : all.get(legacyKey);
                assertThat(somewhere).as("%s lost after %d writes", legacyKey, limit).isNotNull();
                assertThat(somewhere.valueAsString()).isEqualTo(bytes);
            });
            assertThat(result(KeyLayoutMigration.read(store))).as("no layout key before the last write").isEmpty();

            result(KeyLayoutMigration.run(store, Instant.now()));

            assertMigrated(old);
        }
    }

    static WorkItem item(String volume, int generation) {
        return WorkItem.of(volume, "worker-1", "pool-a", Engine.FILE, generation * GI, false, generation, null, null);
    }

    @Test
    void whenBothPlacesHoldAWorkItemTheOneWrittenLastWins() {
        WorkItem first = item("vol-a", 1);
        WorkItem grown = item("vol-a", 2);
        // An older controller led after a migration and wrote the old place last.
        result(store.put(keys.workItem("worker-1", "vol-a"), first));
        result(store.put(keys.legacyWorkItem("worker-1", "vol-a"), grown));
        // The other way round: the new place is the later decision.
        result(store.put(keys.legacyWorkItem("worker-1", "vol-b"), item("vol-b", 1)));
        result(store.put(keys.workItem("worker-1", "vol-b"), item("vol-b", 2)));

        result(KeyLayoutMigration.run(store, Instant.now()));

        assertThat(result(store.get(keys.workItem("worker-1", "vol-a"), WorkItem.class)).orElseThrow().value()).isEqualTo(grown);
        assertThat(result(store.get(keys.workItem("worker-1", "vol-b"), WorkItem.class)).orElseThrow().value())
                .isEqualTo(item("vol-b", 2));
        assertThat(result(store.count(keys.legacyWorkItems("worker-1")))).isZero();
    }
}
