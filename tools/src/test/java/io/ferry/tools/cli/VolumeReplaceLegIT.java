package io.ferry.tools.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.store.Versioned;
import io.ferry.etcd.testing.Await;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.model.Layout;
import io.ferry.model.PartNames;
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
 * {@code ferryctl volume replace-leg} against a real etcd: what it writes into the volume's intent (lostParts,
 * nothing else), when it writes nothing, and its refusals. The parts record is written here as the controller
 * would, since only the intent is the command's to write.
 */
class VolumeReplaceLegIT {

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

    /** A placed 2-leg mirror: its intent and the parts record the controller would have written. */
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
    void declaringALegLostWritesOnlyLostPartsAndARepeatWritesNothing() throws Exception {
        placedMirror("db");
        Versioned<VolumeIntent> before = intent("db");

        Result r = ctl.ok("volume", "replace-leg", "db", "db--p1");
        assertThat(r.out()).contains("leg db--p1 of volume db declared lost").contains("replacement leg on another pool")
                .contains("LegReplaced").contains("ferryctl volume explain db");
        Versioned<VolumeIntent> after = intent("db");
        assertThat(after.value().lostParts()).containsExactly("db--p1");
        assertThat(after.value().toBuilder().lostParts(List.of()).build()).isEqualTo(before.value());
        assertThat(after.modRevision()).isGreaterThan(before.modRevision());

        Result again = ctl.ok("volume", "replace-leg", "db", "db--p1");
        assertThat(again.out()).contains("db--p1 of volume db is already declared lost; its replacement is pending");
        assertThat(intent("db").modRevision()).isEqualTo(after.modRevision());

        JsonNode json = JSON.readTree(ctl.ok("volume", "replace-leg", "db", "db--p1", "-o", "json").out());
        assertThat(json.get("outcome").asText()).isEqualTo("alreadyDeclaredLost");
        assertThat(json.get("written").asBoolean()).isFalse();
        assertThat(intent("db").modRevision()).isEqualTo(after.modRevision());
    }

    @Test
    void aLegAlreadyReplacedIsReportedWithItsReplacementAndNothingIsWritten() throws Exception {
        VolumeParts parts = placedMirror("db");
        Await.result(store.put(keys.volumeParts("db"),
                parts.withReplacement("db--p1", new VolumeParts.Part("db--p2", 2, LEG, "db--p1"))));
        long revision = intent("db").modRevision();

        assertThat(ctl.ok("volume", "replace-leg", "db", "db--p1").out())
                .contains("leg db--p1 of volume db was already replaced by db--p2; nothing written");
        JsonNode json = JSON.readTree(ctl.ok("volume", "replace-leg", "db", "db--p1", "-o", "json").out());
        assertThat(json.get("outcome").asText()).isEqualTo("alreadyReplaced");
        assertThat(json.get("replacedBy").asText()).isEqualTo("db--p2");
        assertThat(intent("db").modRevision()).isEqualTo(revision);
    }

    @Test
    void theOnlyOtherLegBeingAReplacementIsRefusedUnlessTheOperatorSaysItFinishedRebuilding() throws Exception {
        VolumeParts parts = placedMirror("db");
        // db--p1 was replaced by db--p2, which may still be rebuilding: db--p0 is the only leg known to hold the data.
        Await.result(store.put(keys.volumeParts("db"),
                parts.withReplacement("db--p1", new VolumeParts.Part("db--p2", 2, LEG, "db--p1"))));
        long revision = intent("db").modRevision();

        Result refused = ctl.fails(ExitCodes.REFUSED, "volume", "replace-leg", "db", "db--p0");
        assertThat(refused.err()).contains("db--p2").contains("cannot tell from etcd whether md finished rebuilding")
                .contains("--replacement-rebuilt");
        assertThat(intent("db").modRevision()).isEqualTo(revision);

        JsonNode json = JSON.readTree(ctl.ok("volume", "replace-leg", "db", "db--p0", "--replacement-rebuilt", "-o", "json")
                .out());
        assertThat(json.get("outcome").asText()).isEqualTo("declaredLost");
        assertThat(json.get("written").asBoolean()).isTrue();
        assertThat(json.get("lostParts")).extracting(JsonNode::asText).containsExactly("db--p0");
        assertThat(intent("db").value().lostParts()).containsExactly("db--p0");
    }

    @Test
    void refusalsAndBadArgumentsWriteNothing() throws Exception {
        placedMirror("db");
        long revision = intent("db").modRevision();

        assertThat(ctl.fails(ExitCodes.NOT_FOUND, "volume", "replace-leg", "nope", "nope--p0").err())
                .contains("no volume named nope");
        assertThat(ctl.fails(ExitCodes.USAGE, "volume", "replace-leg", "db", "other--p0").err())
                .contains("\"other--p0\" is not a leg of volume db");
        ctl.fails(ExitCodes.USAGE, "volume", "replace-leg", "db", "db-p1");
        ctl.fails(ExitCodes.USAGE, "volume", "replace-leg", "db", "db--pX");
        ctl.fails(ExitCodes.USAGE, "volume", "replace-leg", "Bad_Name", "Bad_Name--p0");
        assertThat(ctl.fails(ExitCodes.REFUSED, "volume", "replace-leg", "db", "db--p5").err())
                .contains("db--p5 is not a leg of volume db; its legs are db--p0, db--p1");
        assertThat(intent("db").modRevision()).isEqualTo(revision);

        Await.result(store.put(keys.volume("one"), VolumeIntent.builder("one", SIZE).build()));
        assertThat(ctl.fails(ExitCodes.REFUSED, "volume", "replace-leg", "one", "one--p0").err())
                .contains("volume one is a single volume; only a mirror's legs can be replaced");
        Await.result(store.put(keys.volume("lin"), VolumeIntent.builder("lin", SIZE).layout(Layout.LINEAR).parts(2).build()));
        assertThat(ctl.fails(ExitCodes.REFUSED, "volume", "replace-leg", "lin", "lin--p0").err())
                .contains("volume lin is a linear volume; only a mirror's legs can be replaced");

        Await.result(store.put(keys.volume("new"), mirror("new")));
        assertThat(ctl.fails(ExitCodes.REFUSED, "volume", "replace-leg", "new", "new--p0").err())
                .contains("volume new has no legs yet");

        Await.result(store.put(keys.volume("db"), intent("db").value().withDeletionRequested()));
        long deleting = intent("db").modRevision();
        assertThat(ctl.fails(ExitCodes.REFUSED, "volume", "replace-leg", "db", "db--p1").err())
                .contains("volume db is being deleted");
        assertThat(intent("db").modRevision()).isEqualTo(deleting);
        assertThat(intent("db").value().lostParts()).isEmpty();
    }
}
