package io.ferry.etcd;

import io.ferry.etcd.FerryKeys.Kind;
import io.ferry.model.ValidationException;
import org.assertj.core.api.Assertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class FerryKeysTest {

    final FerryKeys keys = new FerryKeys(FerryKeys.DEFAULT_PREFIX);

    @Test
    void buildsEveryKeyOfTheLayoutUnderTheDefaultPrefix() {
        assertThat(keys.globalConfig()).isEqualTo("/ferry/config/global");
        assertThat(keys.poolConfig("pool-a")).isEqualTo("/ferry/config/pools/pool-a");
        assertThat(keys.volume("data-1")).isEqualTo("/ferry/volumes/data-1");
        assertThat(keys.snapshot("snap-1")).isEqualTo("/ferry/snapshots/snap-1");
        assertThat(keys.attachment("data-1", "worker-2.dc1")).isEqualTo("/ferry/attachments/data-1/worker-2.dc1");
        assertThat(keys.placement("data-1")).isEqualTo("/ferry/placements/data-1");
        assertThat(keys.ledger("pool-a")).isEqualTo("/ferry/ledger/pool-a");
        assertThat(keys.volumeScheduling("data-1")).isEqualTo("/ferry/controller/volumes/data-1");
        assertThat(keys.snapshotScheduling("snap-1")).isEqualTo("/ferry/controller/snapshots/snap-1");
        assertThat(keys.controllerLeader()).isEqualTo("/ferry/controller/leader");
        assertThat(keys.registration("worker-1")).isEqualTo("/ferry/nodes/worker-1/registration");
        assertThat(keys.nodePoolStatus("worker-1", "pool-a")).isEqualTo("/ferry/nodes/worker-1/pools/pool-a");
        assertThat(keys.workItem("worker-1", "data-1")).isEqualTo("/ferry/work/worker-1/volumes/data-1");
        assertThat(keys.snapshotWorkItem("worker-1", "snap-1")).isEqualTo("/ferry/work/worker-1/snapshots/snap-1");
        assertThat(keys.legacyWorkItem("worker-1", "data-1")).isEqualTo("/ferry/nodes/worker-1/work/data-1");
        assertThat(keys.legacySnapshotWorkItem("worker-1", "snap-1")).isEqualTo("/ferry/nodes/worker-1/snapshot-work/snap-1");
        assertThat(keys.keyLayout()).isEqualTo("/ferry/config/key-layout");
        assertThat(keys.volumeStatus("worker-1", "data-1")).isEqualTo("/ferry/nodes/worker-1/volumes/data-1");
        assertThat(keys.snapshotStatus("worker-1", "snap-1")).isEqualTo("/ferry/nodes/worker-1/snapshots/snap-1");
        assertThat(keys.orphans("worker-1")).isEqualTo("/ferry/nodes/worker-1/orphans");
        assertThat(keys.orphanAdoption("worker-1", "adopt-1")).isEqualTo("/ferry/orphan-adoptions/worker-1/adopt-1");
        assertThat(keys.orphanAdoptionResult("worker-1", "adopt-1"))
                .isEqualTo("/ferry/nodes/worker-1/orphan-adoptions/adopt-1");
        assertThat(keys.event("volume", "data-1", "1796032800123-000001"))
                .isEqualTo("/ferry/events/volume/data-1/1796032800123-000001");
        assertThat(keys.eventsOf("snapshot", "snap-1")).isEqualTo("/ferry/events/snapshot/snap-1/");
        Assertions.assertThatThrownBy(() -> keys.event("volume", "data-1", "../x"))
                .isInstanceOf(ValidationException.class);
        Assertions.assertThatThrownBy(() -> keys.eventsOf("pool", "p"))
                .isInstanceOf(ValidationException.class);
    }

    @Test
    void prefixesEndWithASlashSoThatOneNameNeverMatchesAnother() {
        assertThat(keys.volumes()).isEqualTo("/ferry/volumes/");
        assertThat(keys.workItems("worker-1")).isEqualTo("/ferry/work/worker-1/volumes/");
        assertThat(keys.work("worker-1")).isEqualTo("/ferry/work/worker-1/");
        assertThat(keys.work("worker-10")).doesNotStartWith(keys.work("worker-1"));
        assertThat(keys.node("worker-1")).isEqualTo("/ferry/nodes/worker-1/");
        assertThat(keys.node("worker-10")).doesNotStartWith(keys.node("worker-1"));
    }

    @Test
    void usesAConfiguredPrefix() {
        FerryKeys prod = new FerryKeys("/prod/ferry");
        assertThat(prod.volume("v")).isEqualTo("/prod/ferry/volumes/v");
        assertThat(prod.parse("/prod/ferry/volumes/v")).map(FerryKeys.KeyRef::kind).contains(Kind.VOLUME);
        assertThat(prod.parse("/ferry/volumes/v")).isEmpty();
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "ferry", "/ferry/", "/fer ry", "/ferry/../x", "/./x", "//ferry", "/ferry;rm"})
    void rejectsAPrefixThatIsNotACleanAbsolutePath(String prefix) {
        assertThatThrownBy(() -> new FerryKeys(prefix)).isInstanceOf(ValidationException.class).hasMessageContaining("prefix");
    }

    @ParameterizedTest
    @ValueSource(strings = {"a/b", "..", "../etc", "with space", "Upper", "x;rm -rf", "$(id)", "-flag", ""})
    void refusesToBuildAKeyFromABadName(String name) {
        assertThatThrownBy(() -> keys.volume(name)).isInstanceOf(ValidationException.class);
        assertThatThrownBy(() -> keys.workItem("worker-1", name)).isInstanceOf(ValidationException.class);
        assertThatThrownBy(() -> keys.poolConfig(name)).isInstanceOf(ValidationException.class);
    }

    @Test
    void parsesEveryKeyItBuildsBackIntoItsKindAndNames() {
        Map<String, FerryKeys.KeyRef> expected = Map.ofEntries(
                Map.entry(keys.globalConfig(), new FerryKeys.KeyRef(Kind.GLOBAL_CONFIG, List.of())),
                Map.entry(keys.poolConfig("p"), new FerryKeys.KeyRef(Kind.POOL_CONFIG, List.of("p"))),
                Map.entry(keys.volume("v"), new FerryKeys.KeyRef(Kind.VOLUME, List.of("v"))),
                Map.entry(keys.snapshot("s"), new FerryKeys.KeyRef(Kind.SNAPSHOT, List.of("s"))),
                Map.entry(keys.attachment("v", "n.x"), new FerryKeys.KeyRef(Kind.ATTACHMENT, List.of("v", "n.x"))),
                Map.entry(keys.placement("v"), new FerryKeys.KeyRef(Kind.PLACEMENT, List.of("v"))),
                Map.entry(keys.ledger("p"), new FerryKeys.KeyRef(Kind.LEDGER, List.of("p"))),
                Map.entry(keys.volumeScheduling("v"), new FerryKeys.KeyRef(Kind.VOLUME_SCHEDULING, List.of("v"))),
                Map.entry(keys.snapshotScheduling("s"), new FerryKeys.KeyRef(Kind.SNAPSHOT_SCHEDULING, List.of("s"))),
                Map.entry(keys.controllerLeader() + "/694d7a1b2c3d4e5f", new FerryKeys.KeyRef(Kind.CONTROLLER_LEADER, List.of())),
                Map.entry(keys.registration("n"), new FerryKeys.KeyRef(Kind.NODE_REGISTRATION, List.of("n"))),
                Map.entry(keys.nodePoolStatus("n", "p"), new FerryKeys.KeyRef(Kind.NODE_POOL_STATUS, List.of("n", "p"))),
                Map.entry(keys.workItem("n", "v"), new FerryKeys.KeyRef(Kind.NODE_WORK, List.of("n", "v"))),
                Map.entry(keys.snapshotWorkItem("n", "s"), new FerryKeys.KeyRef(Kind.NODE_SNAPSHOT_WORK, List.of("n", "s"))),
                Map.entry(keys.volumeStatus("n", "v"), new FerryKeys.KeyRef(Kind.NODE_VOLUME_STATUS, List.of("n", "v"))),
                Map.entry(keys.snapshotStatus("n", "s"), new FerryKeys.KeyRef(Kind.NODE_SNAPSHOT_STATUS, List.of("n", "s"))),
                Map.entry(keys.orphans("n"), new FerryKeys.KeyRef(Kind.NODE_ORPHANS, List.of("n"))),
                Map.entry(keys.clusterIdentity(), new FerryKeys.KeyRef(Kind.CLUSTER_IDENTITY, List.of())),
                Map.entry(keys.keyLayout(), new FerryKeys.KeyRef(Kind.KEY_LAYOUT, List.of())),
                Map.entry(keys.legacyWorkItem("n", "v"), new FerryKeys.KeyRef(Kind.LEGACY_NODE_WORK, List.of("n", "v"))),
                Map.entry(keys.legacySnapshotWorkItem("n", "s"),
                        new FerryKeys.KeyRef(Kind.LEGACY_NODE_SNAPSHOT_WORK, List.of("n", "s"))),
                Map.entry(keys.orphanRemoval("n", "rm-1"), new FerryKeys.KeyRef(Kind.ORPHAN_REMOVAL, List.of("n", "rm-1"))),
                Map.entry(keys.orphanRemovalResult("n", "rm-1"),
                        new FerryKeys.KeyRef(Kind.NODE_ORPHAN_REMOVAL_RESULT, List.of("n", "rm-1"))),
                Map.entry(keys.orphanAdoption("n", "adopt-1"),
                        new FerryKeys.KeyRef(Kind.ORPHAN_ADOPTION, List.of("n", "adopt-1"))),
                Map.entry(keys.orphanAdoptionResult("n", "adopt-1"),
                        new FerryKeys.KeyRef(Kind.NODE_ORPHAN_ADOPTION_RESULT, List.of("n", "adopt-1"))),
                Map.entry(keys.event("volume", "v", "1796032800123-000001"),
                        new FerryKeys.KeyRef(Kind.EVENT, List.of("volume", "v", "1796032800123-000001"))),
                Map.entry(keys.event("snapshot", "s", "1796032800123-000002"),
                        new FerryKeys.KeyRef(Kind.EVENT, List.of("snapshot", "s", "1796032800123-000002"))),
                Map.entry(keys.hostSecret("n"), new FerryKeys.KeyRef(Kind.HOST_SECRET, List.of("n"))),
                Map.entry(keys.exportSecret("s1", "n"), new FerryKeys.KeyRef(Kind.EXPORT_SECRET, List.of("s1", "n"))));
        assertThat(keys.hostSecret("n")).isEqualTo("/ferry/secrets/hosts/n");
        assertThat(keys.exportSecret("s1", "n")).isEqualTo("/ferry/secrets/exports/s1/n");
        expected.forEach((key, ref) -> assertThat(keys.parse(key)).as(key).contains(ref));
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "/ferry/volumes/Bad Name", "/ferry/volumes/a/b", "/ferry/volumes/", "/ferry/unknown/x",
            "/ferry/nodes/n/work/../x", "/ferry/nodes/n/other/x", "/ferry/nodes/n", "/ferry/config/pools/",
            "/ferrything/volumes/v", "/other/volumes/v", "/ferry/attachments/v", "/ferry/work/n/volumes",
            "/ferry/work/n/other/v", "/ferry/work/n/volumes/v/x", "/ferry/work/N/volumes/v",
            "/ferry/events/pool/p/1796032800123-000001", "/ferry/events/volume/Bad Name/1796032800123-000001",
            "/ferry/events/volume/v/12", "/ferry/events/volume/v", "/ferry/events/volume/v/1796032800123-000001/x",
            "/ferry/secrets/hosts/", "/ferry/secrets/hosts/n/x", "/ferry/secrets/exports/s1", "/ferry/secrets/other/n"})
    void parseReturnsNothingForKeysOutsideTheLayoutOrWithBadNames(String key) {
        assertThat(keys.parse(key)).isEmpty();
    }
}
