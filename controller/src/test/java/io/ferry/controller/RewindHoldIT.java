package io.ferry.controller;

import io.etcd.jetcd.Auth;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.Cluster;
import io.etcd.jetcd.Election;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.Lease;
import io.etcd.jetcd.Lock;
import io.etcd.jetcd.Maintenance;
import io.etcd.jetcd.Txn;
import io.etcd.jetcd.Watch;
import io.etcd.jetcd.kv.CompactResponse;
import io.etcd.jetcd.kv.DeleteResponse;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.kv.PutResponse;
import io.etcd.jetcd.options.CompactOption;
import io.etcd.jetcd.options.DeleteOption;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.PutOption;
import io.etcd.jetcd.options.TxnOption;
import io.ferry.etcd.EtcdClients;
import io.ferry.etcd.EtcdOptions;
import io.ferry.runtime.informer.InformerOptions;
import io.ferry.runtime.reconcile.RuntimeOptions;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.store.RawEntry;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.model.Ledger;
import io.ferry.model.Placement;
import io.ferry.model.VolumeIntent;
import io.ferry.model.WorkItem;
import io.ferry.runtime.admin.AdminOptions;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;

import static io.ferry.controller.SimulatedAgents.GI;
import static io.ferry.etcd.testing.Await.result;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Issue #13: after etcd is restored from a backup the controller's informers notice one prefix at a
 * time. The window is made as long as the test needs by holding back the volume intents' listings at
 * the controller's own etcd client, so the intents the controller remembers are those of the lost
 * history while its placements are already the restored ones.
 */
class RewindHoldIT {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    @RegisterExtension
    final SimulatedCluster cluster = new SimulatedCluster(etcd);
    Controller controller;
    PrometheusMeterRegistry registry;
    /** While set, the controller's listings of the volume intents wait for it to complete. */
    final AtomicReference<CompletableFuture<Void>> intentListingsHeld = new AtomicReference<>();

    @AfterEach
    void tearDown() {
        CompletableFuture<Void> held = intentListingsHeld.getAndSet(null);
        if (held != null) {
            held.complete(null);
        }
    }

    void startController() {
        EtcdOptions options = etcd.options(cluster.prefix);
        Client client = new IntentListingsHeldBack(EtcdClients.create(options), cluster.keys.volumes());
        RunningController running = cluster.start(new EtcdStore(client, options.keys(), options.requestTimeout()), client,
                new ControllerOptions("ctl-rewind", Duration.ofSeconds(3), AdminOptions.loopback(0),
                        InformerOptions.defaults().withWatchdogInterval(Duration.ofSeconds(2)),
                        RuntimeOptions.defaults().withDelays(Duration.ofMillis(100), Duration.ofSeconds(1)), Duration.ofMinutes(5)));
        controller = running.controller;
        registry = running.registry;
        await().atMost(Duration.ofSeconds(15)).until(controller::isLeader);
    }

    @Test
    void noDecisionIsTakenUntilEveryInformerHasListedTheRestoredEtcd() throws Exception {
        cluster.agents.addNode("node-1", Map.of());
        cluster.agents.addPool("node-1", "pool-1", 100, Map.of());
        startController();
        result(cluster.store.put(cluster.keys.volume("vol-a"), VolumeIntent.builder("vol-a", GI).build()));
        await().atMost(Duration.ofSeconds(15)).until(() -> placement("vol-a").filter(p -> p.createdAt() != null).isPresent());

        Path backup = etcd.saveSnapshot();

        // Grown after the backup: the restored placement and intent both say 1 GiB again.
        result(cluster.store.put(cluster.keys.volume("vol-a"), VolumeIntent.builder("vol-a", 2 * GI).build()));
        await().atMost(Duration.ofSeconds(15)).until(() -> placement("vol-a").map(Placement::sizeBytes).orElse(0L) == 2 * GI);

        intentListingsHeld.set(new CompletableFuture<>());
        etcd.restoreSnapshot(backup);
        // Every informer but the held one has listed the restored etcd: those that noticed the rewind
        // themselves, and the rest (which ones depends on timing) because the hold told them to.
        await("every informer but the intents' lists the restored etcd").atMost(Duration.ofSeconds(30)).until(() ->
                readiness().contains("waiting for 1 of 13 informers to list it again (" + cluster.keys.volumes() + ")"));
        assertThat(placement("vol-a")).map(Placement::sizeBytes).as("the backup's placement").contains(GI);
        Map<String, Long> written = controllerRecords();

        // The controller now remembers the lost intent (2 GiB) beside the restored placement (1 GiB):
        // deciding on that mix grows the restored placement back. It holds, and says why.
        await("the readiness says what the controller waits for").atMost(Duration.ofSeconds(10)).until(() ->
                readiness().contains("holding decisions: etcd was restored from a backup")
                        && readiness().contains("waiting for 1 of 13 informers to list it again (" + cluster.keys.volumes() + ")"));
        assertThat(registry.get("ferry.controller.rewind.waiting.informers").gauge().value()).isEqualTo(1.0);
        Thread.sleep(3000);
        assertThat(placement("vol-a")).map(Placement::sizeBytes).as("no grow decided on the lost intent").contains(GI);
        assertThat(controllerRecords()).as("nothing the controller writes was written meanwhile").isEqualTo(written);
        assertThat(readiness()).contains("waiting for 1 of 13 informers");

        intentListingsHeld.getAndSet(null).complete(null);
        await("the controller decides again").atMost(Duration.ofSeconds(30)).until(() -> readiness().contains("\"ready\":true"));
        assertThat(registry.get("ferry.controller.rewind.waiting.informers").gauge().value()).isZero();
        assertThat(registry.get("ferry.controller.rewind.holds").counter().count()).isEqualTo(1.0);
        // Decisions resume: a new volume is placed, and the restored volume is left at the backup's size.
        result(cluster.store.put(cluster.keys.volume("vol-b"), VolumeIntent.builder("vol-b", GI).build()));
        await().atMost(Duration.ofSeconds(15)).until(() -> placement("vol-b").isPresent());
        assertThat(placement("vol-a")).map(Placement::sizeBytes).contains(GI);
        assertThat(result(cluster.store.get(cluster.keys.workItem("node-1", "vol-a"), WorkItem.class)))
                .map(v -> v.value().sizeBytes()).contains(GI);
        await("the ledger charges both volumes once").atMost(Duration.ofSeconds(15)).until(() ->
                result(cluster.store.get(cluster.keys.ledger("pool-1"), Ledger.class)).map(v -> v.value().allocatedBytes())
                        .orElse(0L) == 2 * GI);
    }

    Optional<Placement> placement(String volume) {
        return result(cluster.store.get(cluster.keys.placement(volume), Placement.class)).map(v -> v.value());
    }

    /** Every key the controller writes, with its revision. */
    Map<String, Long> controllerRecords() {
        Map<String, Long> records = new TreeMap<>();
        for (String under : new String[] {cluster.keys.placements(), cluster.keys.ledgers(),
                cluster.keys.prefix() + "/controller/volumes/"}) {
            result(cluster.store.listRaw(under)).entries().forEach(e -> records.put(e.key(), e.modRevision()));
        }
        result(cluster.store.listRaw(cluster.keys.work())).entries().stream().filter(e -> e.key().contains("/volumes/"))
                .forEach((RawEntry e) -> records.put(e.key(), e.modRevision()));
        return records;
    }

    String readiness() throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(controller.adminUrl() + "/readyz")).build(),
                HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8)).body();
    }

    /** The controller's etcd client, answering reads under one prefix only once the test lets it. */
    final class IntentListingsHeldBack implements Client {
        private final Client client;
        private final KV kv;

        IntentListingsHeldBack(Client client, String heldPrefix) {
            this.client = client;
            KV real = client.getKVClient();
            this.kv = new KV() {
                @Override
                public CompletableFuture<GetResponse> get(ByteSequence key, GetOption option) {
                    CompletableFuture<Void> held = intentListingsHeld.get();
                    if (held != null && key.toString(StandardCharsets.UTF_8).startsWith(heldPrefix)) {
                        return held.thenCompose(v -> real.get(key, option));
                    }
                    return real.get(key, option);
                }

                @Override
                public CompletableFuture<GetResponse> get(ByteSequence key) {
                    return get(key, GetOption.DEFAULT);
                }

                @Override
                public CompletableFuture<PutResponse> put(ByteSequence key, ByteSequence value) {
                    return real.put(key, value);
                }

                @Override
                public CompletableFuture<PutResponse> put(ByteSequence key, ByteSequence value, PutOption option) {
                    return real.put(key, value, option);
                }

                @Override
                public CompletableFuture<DeleteResponse> delete(ByteSequence key) {
                    return real.delete(key);
                }

                @Override
                public CompletableFuture<DeleteResponse> delete(ByteSequence key, DeleteOption option) {
                    return real.delete(key, option);
                }

                @Override
                public CompletableFuture<CompactResponse> compact(long revision) {
                    return real.compact(revision);
                }

                @Override
                public CompletableFuture<CompactResponse> compact(long revision, CompactOption option) {
                    return real.compact(revision, option);
                }

                @Override
                public Txn txn() {
                    return real.txn();
                }

                @Override
                public Txn txn(TxnOption option) {
                    return real.txn(option);
                }

                @Override
                public void close() {
                    real.close();
                }
            };
        }

        @Override
        public Auth getAuthClient() {
            return client.getAuthClient();
        }

        @Override
        public KV getKVClient() {
            return kv;
        }

        @Override
        public Cluster getClusterClient() {
            return client.getClusterClient();
        }

        @Override
        public Maintenance getMaintenanceClient() {
            return client.getMaintenanceClient();
        }

        @Override
        public Lease getLeaseClient() {
            return client.getLeaseClient();
        }

        @Override
        public Watch getWatchClient() {
            return client.getWatchClient();
        }

        @Override
        public Lock getLockClient() {
            return client.getLockClient();
        }

        @Override
        public Election getElectionClient() {
            return client.getElectionClient();
        }

        @Override
        public void close() {
            client.close();
        }
    }
}
