package io.ferry.tools.up;

import io.ferry.etcd.EtcdOptions;
import io.ferry.etcd.LocalEtcdMember;
import io.ferry.etcd.LocalEtcdProbe;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.model.Json;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@code ferry up --etcd-members}: the local etcd as one member or as a cluster, and its data across restarts. */
class LocalEtcdIT {

    @TempDir
    Path dir;

    @Test
    void threeMembersFormOneClusterThatKeepsItsDataAcrossARestart() throws Exception {
        Path data = dir.resolve("etcd");
        int base = UpSupervisionIT.freeRange(6);
        try (LocalEtcd etcd = LocalEtcd.forUp(data, dir.resolve("logs/etcd.log"), base, 3, dir.resolve("run"))) {
            etcd.start(LocalEtcd.find().orElseThrow());
            assertThat(etcd.endpoint().split(",")).hasSize(3);
            assertThat(etcd.members()).extracting(LocalEtcdMember::clientPort).containsExactly(base, base + 2, base + 4);
            put(etcd, "/up-test/a", "1");
            for (LocalEtcdMember m : etcd.members()) {
                assertThat(LocalEtcdProbe.healthy(m.clientUrl(false))).as(m.name()).isTrue();
                assertThat(Files.isDirectory(m.dataDir().resolve("member"))).as(m.name() + "'s own data").isTrue();
            }
        }
        try (LocalEtcd again = LocalEtcd.forUp(data, dir.resolve("logs/etcd.log"), base, 3, dir.resolve("run"))) {
            again.start(LocalEtcd.find().orElseThrow());
            try (EtcdStore store = EtcdStore.connect(options(again))) {
                assertThat(store.get("/up-test/a", Map.class).toCompletionStage().toCompletableFuture()
                        .get(20, TimeUnit.SECONDS)).isPresent();
            }
        }
        assertThatThrownBy(() -> LocalEtcd.forUp(data, dir.resolve("logs/etcd.log"), base, 1, dir.resolve("run")))
                .hasMessageContaining("multi-member etcd").hasMessageContaining("--etcd-members");
        assertThatThrownBy(() -> LocalEtcd.forUp(data, dir.resolve("logs/etcd.log"), base, 5, dir.resolve("run")))
                .hasMessageContaining("3-member etcd").hasMessageContaining("--etcd-members 3");
    }

    @Test
    void aSingleMembersDataIsNotTakenForAClusterAndOddCountsOnly() throws Exception {
        Path data = dir.resolve("etcd");
        Files.createDirectories(data.resolve("member"));
        assertThatThrownBy(() -> LocalEtcd.forUp(data, dir.resolve("etcd.log"), 2379, 3, dir.resolve("run")))
                .hasMessageContaining("1-member etcd");
        assertThatThrownBy(() -> LocalEtcd.forUp(data, dir.resolve("etcd.log"), 2379, 2, dir.resolve("run")))
                .hasMessageContaining("must be one of [1, 3, 5]");
        assertThat(LocalEtcd.forUp(data, dir.resolve("etcd.log"), 2379, 1, dir.resolve("run")).endpoint()).isEqualTo("http://127.0.0.1:2379");
    }

    @Test
    void anEtcdLeftRunningByAKilledFerryUpIsStoppedByTheNextOneAndAStrangerUnderItsPidIsNot() throws Exception {
        Path data = dir.resolve("etcd");
        int base = UpSupervisionIT.freeRange(2);
        LocalEtcdMember member = LocalEtcd.forUp(data, dir.resolve("etcd.log"), base, 1, dir.resolve("run")).members().get(0);
        Files.createDirectories(data);
        // What a killed ferry up leaves: its etcd running, and the pid file naming it.
        Process leftover = new ProcessBuilder(member.command(LocalEtcd.find().orElseThrow(), List.of(member), "t", false))
                .redirectErrorStream(true).redirectOutput(dir.resolve("leftover.log").toFile()).start();
        Process stranger = new ProcessBuilder("sleep", "60").start();
        try {
            LocalEtcd next = LocalEtcd.forUp(data, dir.resolve("etcd.log"), base, 1, dir.resolve("run"));
            Files.createDirectories(dir.resolve("run"));
            Files.writeString(next.pidFile(member), leftover.pid() + "\n");
            next.claim(new PrintWriter(new StringWriter()));
            assertThat(leftover.waitFor(20, TimeUnit.SECONDS)).as("the leftover etcd stopped").isTrue();
            assertThatThrownBy(() -> LocalEtcd.forUp(data, dir.resolve("etcd.log"), base, 1, dir.resolve("run")).claim(
                    new PrintWriter(new StringWriter())))
                    .as("a second ferry up on the same etcd data").hasMessageContaining("is in use by another ferry up");
            next.close();

            Files.writeString(next.pidFile(member), stranger.pid() + "\n");
            try (LocalEtcd again = LocalEtcd.forUp(data, dir.resolve("etcd.log"), base, 1, dir.resolve("run"))) {
                again.claim(new PrintWriter(new StringWriter()));
                assertThat(stranger.isAlive()).as("a process that is not etcd on this data is left alone").isTrue();
            }
        } finally {
            leftover.destroyForcibly();
            stranger.destroyForcibly();
        }
    }

    private static void put(LocalEtcd etcd, String key, String value) throws Exception {
        try (EtcdStore store = EtcdStore.connect(options(etcd))) {
            store.put(key, Json.decode("{\"v\":" + value + "}", Map.class)).toCompletionStage().toCompletableFuture()
                    .get(20, TimeUnit.SECONDS);
        }
    }

    private static EtcdOptions options(LocalEtcd etcd) {
        return new EtcdOptions.Builder().endpoints(etcd.endpoint().split(",")).prefix("/up-test").build();
    }
}
