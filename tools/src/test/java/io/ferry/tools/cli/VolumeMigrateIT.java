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
import io.ferry.model.MirrorReport;
import io.ferry.model.PartMove;
import io.ferry.model.PartNames;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolSource;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeParts;
import io.ferry.tools.cli.CtlShell.Result;
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
 * {@code ferryctl volume migrate} against a real etcd: it writes moveParts into the volume's intent and nothing
 * else, cancels, repeats without writing, and refuses what cannot move. The parts record is written here as the
 * controller would, since only the intent is the command's to write.
 */
class VolumeMigrateIT {

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
        Await.result(store.put(keys.poolConfig("pool-c"), PoolConfig.builder("pool-c", "node-c", Engine.FILE,
                PoolSource.directory("/var/lib/ferry/c")).build()));
    }

    @AfterEach
    void tearDown() {
        store.close();
    }

    private static VolumeIntent mirror(String name) {
        return VolumeIntent.builder(name, SIZE).consumerNode("node-a").layout(Layout.MIRROR).parts(2)
                .createdBy("test").createdAt(Instant.parse("2026-12-01T10:00:00Z")).build();
    }

    private static VolumeParts.Part leg(String volume, int index) {
        return new VolumeParts.Part(PartNames.of(volume, index), index, LEG);
    }

    private VolumeParts placedMirror(String name) {
        Await.result(store.put(keys.volume(name), mirror(name)));
        VolumeParts parts = VolumeParts.of(name, Layout.MIRROR, List.of(leg(name, 0), leg(name, 1)),
                UUID.randomUUID().toString(), Instant.now());
        Await.result(store.put(keys.volumeParts(name), parts));
        return parts;
    }

    private Versioned<VolumeIntent> intent(String name) {
        return Await.result(store.get(keys.volume(name), VolumeIntent.class)).orElseThrow();
    }

    @Test
    void aMoveWritesOnlyMovePartsARepeatWritesNothingAndCancelTakesItOut() throws Exception {
        placedMirror("db");
        Versioned<VolumeIntent> before = intent("db");

        Result r = ctl.ok("volume", "migrate", "db", "db--p1", "--to-pool", "pool-c");
        assertThat(r.out()).contains("leg db--p1 of volume db asked to move to pool pool-c").contains("LegMoved");
        Versioned<VolumeIntent> after = intent("db");
        assertThat(after.value().moveParts()).containsExactly(new PartMove("db--p1", "pool-c"));
        assertThat(after.value().toBuilder().moveParts(List.of()).build()).isEqualTo(before.value());

        assertThat(ctl.ok("volume", "migrate", "db", "db--p1", "--to-pool", "pool-c").out())
                .contains("asked for already; nothing written");
        assertThat(intent("db").modRevision()).isEqualTo(after.modRevision());

        JsonNode json = JSON.readTree(ctl.ok("volume", "migrate", "db", "db--p1", "--cancel", "-o", "json").out());
        assertThat(json.get("outcome").asText()).isEqualTo("cancelled");
        assertThat(json.get("written").asBoolean()).isTrue();
        assertThat(intent("db").value().moveParts()).isEmpty();
        assertThat(ctl.ok("volume", "migrate", "db", "db--p1", "--cancel").out())
                .contains("no move of leg db--p1 is asked for; nothing written");
    }

    @Test
    void aMoveUnderWayIsShownAndASecondLegWaitsForIt() throws Exception {
        VolumeParts parts = placedMirror("db");
        ctl.ok("volume", "migrate", "db", "db--p0");
        assertThat(intent("db").value().moveParts()).containsExactly(new PartMove("db--p0", null));
        VolumeParts moving = parts.withJoining(new VolumeParts.Part("db--p2", 2, LEG, null, "db--p0"));
        Await.result(store.put(keys.volumeParts("db"), moving));
        Await.result(store.put(keys.mirrorReport("db", "node-a"), MirrorReport.of("db", "node-a", parts.arrayUuid(),
                List.of(new MirrorReport.Leg("db--p0", MirrorReport.LegState.IN_SYNC),
                        new MirrorReport.Leg("db--p1", MirrorReport.LegState.IN_SYNC),
                        new MirrorReport.Leg("db--p2", MirrorReport.LegState.REBUILDING)), "recover", 42.5, 2048,
                Instant.now())));
        long revision = intent("db").modRevision();

        assertThat(ctl.fails(ExitCodes.REFUSED, "volume", "migrate", "db", "db--p1").err())
                .contains("leg db--p0 of volume db is moving now (to db--p2); a mirror moves one leg at a time");
        assertThat(ctl.fails(ExitCodes.REFUSED, "volume", "migrate", "db", "db--p2").err())
                .contains("leg db--p2 is itself joining the mirror");
        assertThat(intent("db").modRevision()).isEqualTo(revision);

        JsonNode described = JSON.readTree(ctl.ok("volume", "describe", "db", "-o", "json").out());
        assertThat(described.get("parts").get(2).get("movesFrom").asText()).isEqualTo("db--p0");
        JsonNode health = described.get("mirrorHealth").get(0);
        assertThat(health.get("node").asText()).isEqualTo("node-a");
        assertThat(health.get("legs").get(2).get("state").asText()).isEqualTo("rebuilding");
        assertThat(health.get("syncPercent").asDouble()).isEqualTo(42.5);

        Await.result(store.put(keys.volumeParts("db"), moving.withMoveDone()));
        assertThat(ctl.ok("volume", "migrate", "db", "db--p0").out())
                .contains("leg db--p0 of volume db is no longer a member: db--p2 took its place; nothing written");
    }

    @Test
    void refusalsAndBadArgumentsWriteNothing() {
        placedMirror("db");
        long revision = intent("db").modRevision();

        assertThat(ctl.fails(ExitCodes.NOT_FOUND, "volume", "migrate", "nope", "nope--p0").err())
                .contains("no volume named nope");
        assertThat(ctl.fails(ExitCodes.USAGE, "volume", "migrate", "db", "other--p0").err())
                .contains("\"other--p0\" is not a leg of volume db");
        assertThat(ctl.fails(ExitCodes.USAGE, "volume", "migrate", "db").err())
                .contains("name the leg of volume db to move: one of db--p0, db--p1");
        ctl.fails(ExitCodes.USAGE, "volume", "migrate", "db", "db--p0", "--to-pool", "Bad Pool");
        ctl.fails(ExitCodes.USAGE, "volume", "migrate", "db", "db--p0", "--to-pool", "pool-c", "--cancel");
        assertThat(ctl.fails(ExitCodes.NOT_FOUND, "volume", "migrate", "db", "db--p0", "--to-pool", "pool-x").err())
                .contains("no pool named pool-x");
        assertThat(ctl.fails(ExitCodes.REFUSED, "volume", "migrate", "db", "db--p5").err())
                .contains("db--p5 is not a leg of volume db; its legs are db--p0, db--p1");
        assertThat(intent("db").modRevision()).isEqualTo(revision);

        Await.result(store.put(keys.volume("one"), VolumeIntent.builder("one", SIZE).build()));
        assertThat(ctl.fails(ExitCodes.REFUSED, "volume", "migrate", "one", "--to-pool", "pool-c").err())
                .contains("volume one is a single volume; live migration moves a mirror's legs")
                .contains("filesystem sits directly on its one device");
        Await.result(store.put(keys.volume("db"), intent("db").value().withLostPart("db--p1")));
        assertThat(ctl.fails(ExitCodes.REFUSED, "volume", "migrate", "db", "db--p1").err())
                .contains("leg db--p1 is declared lost");
        Await.result(store.put(keys.volume("db"), intent("db").value().withDeletionRequested()));
        assertThat(ctl.fails(ExitCodes.REFUSED, "volume", "migrate", "db", "db--p0").err())
                .contains("volume db is being deleted");
        assertThat(intent("db").value().moveParts()).isEmpty();
    }
}
