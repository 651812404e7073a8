package io.ferry.controller;

import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.store.Versioned;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.model.Attachment;
import io.ferry.model.DhchapKey;
import io.ferry.model.HostSecret;
import io.ferry.model.VolumeIntent;
import io.ferry.model.WorkItem;
import io.ferry.runtime.informer.InformerOptions;
import io.ferry.runtime.reconcile.RuntimeOptions;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Vertx;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

import static io.ferry.controller.SimulatedAgents.GI;
import static io.ferry.etcd.testing.Await.result;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The controller copies a consumer's DH-HMAC-CHAP pair to exactly the storage nodes that export to it. */
class SecretDistributionIT {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    Vertx vertx;
    EtcdStore store;
    FerryKeys keys;
    SimulatedAgents agents;
    Vertx controllerVertx;
    EtcdStore controllerStore;
    Controller controller;

    @BeforeEach
    void setUp() {
        String prefix = EtcdExtension.uniquePrefix();
        vertx = Vertx.vertx();
        store = EtcdStore.connect(etcd.options(prefix));
        keys = store.keys();
        agents = new SimulatedAgents(vertx, store);
        agents.start();
        controllerVertx = Vertx.vertx();
        controllerStore = EtcdStore.connect(etcd.options(prefix));
        controller = new Controller(controllerVertx, controllerStore, new ControllerOptions("c1", Duration.ofSeconds(3), null,
                InformerOptions.defaults().withWatchdogInterval(Duration.ofSeconds(2)),
                RuntimeOptions.defaults().withDelays(Duration.ofMillis(100), Duration.ofSeconds(2)), Duration.ofMinutes(5)),
                new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
    }

    @AfterEach
    void tearDown() {
        result(controller.stop());
        controllerStore.close();
        result(controllerVertx.close());
        agents.close();
        store.close();
        result(vertx.close());
    }

    HostSecret publish(String node, long generation) {
        HostSecret secret = HostSecret.of(node, SimulatedAgents.hostNqn(node), generation, DhchapKey.generate(),
                DhchapKey.generate(), Instant.now());
        result(store.put(keys.hostSecret(node), secret));
        return secret;
    }

    Map<String, HostSecret> copies() {
        return result(store.list(keys.exportSecrets(), HostSecret.class)).items().stream()
                .collect(Collectors.toMap(Versioned::key, Versioned::value));
    }

    Optional<WorkItem> work(String node, String volume) {
        return result(store.get(keys.workItem(node, volume), WorkItem.class)).map(Versioned::value);
    }

    @Test
    void aConsumersPairReachesExactlyTheNodeThatExportsToItAndLeavesWithTheExport() {
        agents.addNode("node-1", Map.of());
        agents.addPool("node-1", "pool-1", 100, Map.of());
        agents.addNode("node-2", Map.of());
        agents.addNode("node-3", Map.of());
        HostSecret consumer = publish("node-2", 1);
        publish("node-3", 1);
        publish("node-1", 1);
        result(controller.start());
        result(store.put(keys.volume("vol-a"), VolumeIntent.builder("vol-a", 10 * GI).build()));
        await().atMost(Duration.ofSeconds(20)).until(() -> work("node-1", "vol-a").isPresent());
        assertThat(copies()).as("no export yet, no copy").isEmpty();

        result(store.put(keys.attachment("vol-a", "node-2"),
                Attachment.of("vol-a", "node-2", SimulatedAgents.hostNqn("node-2"), false, Instant.now())));
        await().atMost(Duration.ofSeconds(20)).until(() -> copies().containsKey(keys.exportSecret("node-1", "node-2")));
        assertThat(copies()).containsOnlyKeys(keys.exportSecret("node-1", "node-2"));
        assertThat(copies().get(keys.exportSecret("node-1", "node-2")).samePair(consumer)).isTrue();

        // A new pair published by the consumer replaces the copy.
        HostSecret next = publish("node-2", 2);
        await().atMost(Duration.ofSeconds(20)).until(() -> copies().get(keys.exportSecret("node-1", "node-2")).samePair(next));

        // The published pair deleted by hand: unknown, so the copy stays while the export does.
        result(store.delete(keys.hostSecret("node-2")));
        assertThat(controllerSettles()).containsOnlyKeys(keys.exportSecret("node-1", "node-2"));

        // The export goes: so does the copy.
        result(store.delete(keys.attachment("vol-a", "node-2")));
        await().atMost(Duration.ofSeconds(20)).until(() -> work("node-1", "vol-a").map(w -> w.export() == null).orElse(false));
        await().atMost(Duration.ofSeconds(20)).until(() -> copies().isEmpty());
    }

    @Test
    void aPublishedPairNamingAnotherNodeIsNotCopied() {
        agents.addNode("node-1", Map.of());
        agents.addPool("node-1", "pool-1", 100, Map.of());
        agents.addNode("node-2", Map.of());
        // node-3's agent (or whoever) writes a pair under node-2's key, claiming to be node-2.
        HostSecret forged = HostSecret.of("node-3", SimulatedAgents.hostNqn("node-2"), 1, DhchapKey.generate(),
                DhchapKey.generate(), Instant.now());
        result(store.put(keys.hostSecret("node-2"), forged));
        result(controller.start());
        result(store.put(keys.volume("vol-a"), VolumeIntent.builder("vol-a", 10 * GI).build()));
        result(store.put(keys.attachment("vol-a", "node-2"),
                Attachment.of("vol-a", "node-2", SimulatedAgents.hostNqn("node-2"), false, Instant.now())));
        await().atMost(Duration.ofSeconds(20)).until(() -> work("node-1", "vol-a").map(w -> w.export() != null).orElse(false));
        assertThat(controllerSettles()).isEmpty();
        HostSecret real = publish("node-2", 1);
        await().atMost(Duration.ofSeconds(20)).until(() -> Optional.ofNullable(copies().get(keys.exportSecret("node-1", "node-2")))
                .map(real::samePair).orElse(false));
    }

    /** The copies after the distributor had time for a few passes. */
    Map<String, HostSecret> controllerSettles() {
        try {
            Thread.sleep(1500);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return copies();
    }
}
