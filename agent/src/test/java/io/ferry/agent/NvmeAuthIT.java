package io.ferry.agent;

import io.ferry.etcd.testing.Await;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.model.Condition;
import io.ferry.model.DhchapKey;
import io.ferry.model.Engine;
import io.ferry.model.ExportSpec;
import io.ferry.model.FailureReason;
import io.ferry.model.GlobalConfig;
import io.ferry.model.HostSecret;
import io.ferry.model.NvmeAuth;
import io.ferry.model.Sizes;
import io.ferry.model.VolumeStatus;
import io.ferry.model.WorkItem;
import io.ferry.runtime.auth.HostKeyFile;
import io.ferry.runtime.exec.ProcessCommandRunner;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.Set;
import io.ferry.model.Json;
import io.ferry.model.PoolStatus;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * NVMe in-band authentication on a storage node, against a real etcd and a plain tree standing in
 * for a kernel target with CONFIG_NVME_TARGET_AUTH: the agent publishes its own pair, and exports
 * to a consumer only once the copy of that consumer's pair is there.
 */
class NvmeAuthIT {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    static final String CONSUMER = "node-b";
    static final String CONSUMER_NQN = "nqn.2014-08.org.nvmexpress:uuid:bbbbbbbb-0000-4000-8000-000000000002";

    @RegisterExtension
    final AgentHarness h = AgentHarness.withFilePool(etcd, "files");

    Path nvmet;

    @BeforeEach
    void setUp() throws Exception {
        nvmet = h.root.resolve("nvmet");
        Files.createDirectories(nvmet.resolve("subsystems"));
        Files.createDirectories(nvmet.resolve("ports"));
        Path host = nvmet.resolve("hosts").resolve(CONSUMER_NQN);
        Files.createDirectories(host);
        for (String attr : new String[] {"dhchap_key", "dhchap_ctrl_key", "dhchap_hash", "dhchap_dhgroup"}) {
            Files.writeString(host.resolve(attr), "");
        }
    }

    void start() {
        h.start(new ProcessCommandRunner(), h.options().withNvmetRoot(nvmet));
        // The pool is prepared (its marker written) before any work is given.
        await().atMost(Duration.ofSeconds(20)).until(() -> Await.result(h.store.get(
                h.keys.nodePoolStatus(AgentHarness.NODE, "files"), PoolStatus.class))
                .map(v -> v.value().healthy()).orElse(false));
    }

    Condition ready(String volume) {
        return h.status(volume).flatMap(VolumeStatus::ready).orElse(null);
    }

    boolean linked(String volume) throws IOException {
        try (var subs = Files.list(nvmet.resolve("subsystems"))) {
            return subs.anyMatch(s -> s.getFileName().toString().endsWith(":vol:" + volume)
                    && Files.exists(s.resolve("allowed_hosts").resolve(CONSUMER_NQN), LinkOption.NOFOLLOW_LINKS));
        }
    }

    void exportTo(String volume) {
        h.putWork(WorkItem.of(volume, AgentHarness.NODE, "files", Engine.FILE, 16 * Sizes.MIB, true, 1, null,
                ExportSpec.tcp(CONSUMER, Set.of(CONSUMER_NQN))));
    }

    @Test
    void theAgentPublishesThePairItKeepsAndKeepsItAcrossRestarts() throws Exception {
        start();
        Path file = h.stateDir.resolve(HostKeyFile.FILE_NAME);
        HostKeyFile.Pair kept = HostKeyFile.read(file).orElseThrow();
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
        HostSecret published = Await.result(h.store.get(h.keys.hostSecret(AgentHarness.NODE), HostSecret.class))
                .orElseThrow().value();
        assertThat(published.hostKey()).isEqualTo(kept.hostKey().value());
        assertThat(published.ctrlKey()).isEqualTo(kept.ctrlKey().value());
        assertThat(published.hostNqn()).isEqualTo(h.agent().hostNqn());
        assertThat(published.generation()).isEqualTo(1);

        h.stop();
        Await.result(h.store.delete(h.keys.hostSecret(AgentHarness.NODE)));
        start();
        assertThat(HostKeyFile.read(file)).contains(kept);
        HostSecret again = Await.result(h.store.get(h.keys.hostSecret(AgentHarness.NODE), HostSecret.class))
                .orElseThrow().value();
        assertThat(again.samePair(published)).as("the same pair, published again").isTrue();
    }

    @Test
    void anExportWaitsForTheConsumersPairAndGoesAheadWhenItArrives() throws Exception {
        start();
        exportTo("vol-a");
        await().atMost(Duration.ofSeconds(20)).until(() -> ready("vol-a") != null && ready("vol-a").isFailure());
        Condition waiting = ready("vol-a");
        assertThat(waiting.failureReason()).isEqualTo(FailureReason.NVME_AUTH_PENDING);
        assertThat(waiting.message()).contains(CONSUMER_NQN, CONSUMER);
        assertThat(linked("vol-a")).as("nothing exported without the keys").isFalse();

        HostSecret pair = HostSecret.of(CONSUMER, CONSUMER_NQN, 1, DhchapKey.generate(), DhchapKey.generate(), Instant.now());
        Await.result(h.store.put(h.keys.exportSecret(AgentHarness.NODE, CONSUMER), pair));
        await().atMost(Duration.ofSeconds(20)).until(() -> ready("vol-a") != null && ready("vol-a").carriedOut(1));
        assertThat(linked("vol-a")).isTrue();
        Path host = nvmet.resolve("hosts").resolve(CONSUMER_NQN);
        assertThat(Files.readString(host.resolve("dhchap_key")).strip()).isEqualTo(pair.hostKey());
        assertThat(Files.readString(host.resolve("dhchap_ctrl_key")).strip()).isEqualTo(pair.ctrlKey());
        String status = new String(Json.encode(h.status("vol-a").orElseThrow()));
        assertThat(status).doesNotContain(pair.hostKey()).doesNotContain(pair.ctrlKey());
    }

    @Test
    void withAuthOffTheExportGoesAheadWithoutKeys() throws Exception {
        Await.result(h.store.put(h.keys.globalConfig(), GlobalConfig.builder().nvmeAuth(NvmeAuth.OFF).build()));
        start();
        exportTo("vol-b");
        await().atMost(Duration.ofSeconds(20)).until(() -> ready("vol-b") != null && ready("vol-b").carriedOut(1));
        assertThat(linked("vol-b")).isTrue();
        assertThat(Files.readString(nvmet.resolve("hosts").resolve(CONSUMER_NQN).resolve("dhchap_key"))).isEmpty();
    }
}
