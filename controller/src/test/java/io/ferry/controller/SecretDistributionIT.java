package io.ferry.controller;

import io.ferry.etcd.store.Versioned;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.model.Attachment;
import io.ferry.model.DhchapKey;
import io.ferry.model.HostSecret;
import io.ferry.model.VolumeIntent;
import io.ferry.model.WorkItem;
import io.ferry.runtime.informer.InformerOptions;
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

    @RegisterExtension
    final SimulatedCluster cluster = new SimulatedCluster(etcd);

    void startController() {
        cluster.start(SimulatedCluster.options("c1", InformerOptions.defaults().withWatchdogInterval(Duration.ofSeconds(2))));
    }

    HostSecret publish(String node, long generation) {
        HostSecret secret = HostSecret.of(node, SimulatedAgents.hostNqn(node), generation, DhchapKey.generate(),
                DhchapKey.generate(), Instant.now());
        result(cluster.store.put(cluster.keys.hostSecret(node), secret));
        return secret;
    }

    Map<String, HostSecret> copies() {
        return result(cluster.store.list(cluster.keys.exportSecrets(), HostSecret.class)).items().stream()
                .collect(Collectors.toMap(Versioned::key, Versioned::value));
    }

    Optional<WorkItem> work(String node, String volume) {
        return result(cluster.store.get(cluster.keys.workItem(node, volume), WorkItem.class)).map(Versioned::value);
    }

    @Test
    void aConsumersPairReachesExactlyTheNodeThatExportsToItAndLeavesWithTheExport() {
        cluster.agents.addNode("node-1", Map.of());
        cluster.agents.addPool("node-1", "pool-1", 100, Map.of());
        cluster.agents.addNode("node-2", Map.of());
        cluster.agents.addNode("node-3", Map.of());
        HostSecret consumer = publish("node-2", 1);
        publish("node-3", 1);
        publish("node-1", 1);
        startController();
        result(cluster.store.put(cluster.keys.volume("vol-a"), VolumeIntent.builder("vol-a", 10 * GI).build()));
        await().atMost(Duration.ofSeconds(20)).until(() -> work("node-1", "vol-a").isPresent());
        assertThat(copies()).as("no export yet, no copy").isEmpty();

        result(cluster.store.put(cluster.keys.attachment("vol-a", "node-2"),
                Attachment.of("vol-a", "node-2", SimulatedAgents.hostNqn("node-2"), false, Instant.now())));
        await().atMost(Duration.ofSeconds(20)).until(() -> copies().containsKey(cluster.keys.exportSecret("node-1", "node-2")));
        assertThat(copies()).containsOnlyKeys(cluster.keys.exportSecret("node-1", "node-2"));
        assertThat(copies().get(cluster.keys.exportSecret("node-1", "node-2")).samePair(consumer)).isTrue();

        // A new pair published by the consumer replaces the copy.
        HostSecret next = publish("node-2", 2);
        await().atMost(Duration.ofSeconds(20)).until(() -> copies().get(cluster.keys.exportSecret("node-1", "node-2")).samePair(next));

        // The published pair deleted by hand: unknown, so the copy stays while the export does.
        result(cluster.store.delete(cluster.keys.hostSecret("node-2")));
        assertThat(controllerSettles()).containsOnlyKeys(cluster.keys.exportSecret("node-1", "node-2"));

        // The export goes: so does the copy.
        result(cluster.store.delete(cluster.keys.attachment("vol-a", "node-2")));
        await().atMost(Duration.ofSeconds(20)).until(() -> work("node-1", "vol-a").map(w -> w.export() == null).orElse(false));
        await().atMost(Duration.ofSeconds(20)).until(() -> copies().isEmpty());
    }

    @Test
    void aPublishedPairNamingAnotherNodeIsNotCopied() {
        cluster.agents.addNode("node-1", Map.of());
        cluster.agents.addPool("node-1", "pool-1", 100, Map.of());
        cluster.agents.addNode("node-2", Map.of());
        // node-3's agent (or whoever) writes a pair under node-2's key, claiming to be node-2.
        HostSecret forged = HostSecret.of("node-3", SimulatedAgents.hostNqn("node-2"), 1, DhchapKey.generate(),
                DhchapKey.generate(), Instant.now());
        result(cluster.store.put(cluster.keys.hostSecret("node-2"), forged));
        startController();
        result(cluster.store.put(cluster.keys.volume("vol-a"), VolumeIntent.builder("vol-a", 10 * GI).build()));
        result(cluster.store.put(cluster.keys.attachment("vol-a", "node-2"),
                Attachment.of("vol-a", "node-2", SimulatedAgents.hostNqn("node-2"), false, Instant.now())));
        await().atMost(Duration.ofSeconds(20)).until(() -> work("node-1", "vol-a").map(w -> w.export() != null).orElse(false));
        assertThat(controllerSettles()).isEmpty();
        HostSecret real = publish("node-2", 1);
        await().atMost(Duration.ofSeconds(20)).until(() -> Optional.ofNullable(copies().get(cluster.keys.exportSecret("node-1", "node-2")))
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
