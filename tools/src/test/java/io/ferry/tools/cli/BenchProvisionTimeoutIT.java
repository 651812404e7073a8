package io.ferry.tools.cli;

import io.ferry.etcd.EtcdOptions;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.tools.up.FilePools;
import io.ferry.tools.up.LocalEtcd;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code bench provision --timeout N} against a cluster whose etcd dies mid-run returns in about N seconds. */
class BenchProvisionTimeoutIT {

    @TempDir
    Path dir;

    @Test
    @Timeout(value = 90, unit = TimeUnit.SECONDS)
    void aClusterWhoseEtcdDiesEndsTheRunWithinItsTimeoutAsEtcdUnavailable() throws Exception {
        try (LocalEtcd etcd = LocalEtcd.temporary()) {
            EtcdOptions options = new EtcdOptions.Builder().endpoints(etcd.endpoint().split(",")).prefix("/ferry").build();
            try (EtcdStore store = EtcdStore.connect(options)) {
                // A pool and no controller: no volume is ever placed, so the run is mid-way for as long as it lasts.
                FilePools.declare(store, "pool-1", "node-1", dir.resolve("pool"), Map.of("rack", "rack-1", "switch", "switch-1"),
                        1L << 30);
                StringWriter out = new StringWriter();
                StringWriter err = new StringWriter();
                CompletableFuture<Integer> run = CompletableFuture.supplyAsync(() -> FerryCtl.run(new String[] {"bench",
                        "provision", "--volumes", "200", "--concurrency", "8", "--warmup", "0", "--consumers", "none",
                        "--timeout", "10"}, Map.of("FERRY_ETCD_ENDPOINTS", etcd.endpoint()), new PrintWriter(out, true),
                        new PrintWriter(err, true)));
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (store.listRaw(store.keys().volumes()).toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS)
                        .entries().isEmpty() && System.nanoTime() < deadline) {
                    Thread.sleep(100);
                }
                long killed = System.nanoTime();
                etcd.killMember(0);

                int code = run.get(60, TimeUnit.SECONDS);
                double seconds = (System.nanoTime() - killed) / 1e9;

                assertThat(code).as(err.toString()).isEqualTo(ExitCodes.ETCD_UNAVAILABLE);
                assertThat(err.toString()).contains("provision did not complete within --timeout 10 s")
                        .contains("etcd does not answer");
                assertThat(seconds).as("seconds from the kill to the exit").isLessThan(25);
            }
        }
    }
}
