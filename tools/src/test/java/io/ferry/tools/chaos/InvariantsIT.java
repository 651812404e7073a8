package io.ferry.tools.chaos;

import io.ferry.agent.engine.FileEngine;
import io.ferry.model.Placement;
import io.ferry.model.PoolConfig;
import io.ferry.model.VolumeIntent;
import java.util.Comparator;
import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The chaos run's checks can fail: on the run's own cluster, without faults, they pass while all is
 * well and name what is wrong once something is: an acknowledged write changed under the volume, a
 * file in a pool that no record explains, something left after everything was deleted.
 */
class InvariantsIT {

    @Test
    void theChecksPassOnAHealthyClusterAndNameALostWriteAnUnexplainedFileAndALeftover() throws Exception {
        Path root = Files.createTempDirectory("ferry-invariants-");
        PrintWriter out = new PrintWriter(System.out, true);
        try (ChaosCluster cluster = ChaosCluster.start(root, out)) {
            Patient patient = new Patient(Duration.ofMinutes(3));
            Workload workload = new Workload(cluster.store, patient, new ConcurrentLinkedQueue<>());
            Invariants invariants = new Invariants(cluster, patient);
            workload.createVolume(VolumeIntent.builder("iv-1", Workload.SIZE).thin(true).createdBy("test")
                    .createdAt(Instant.now()).build());
            Path device = workload.attach("iv-1");
            Pattern pattern = Pattern.of(Pattern.ALIGN * 16L, Workload.PATTERN, 7);
            pattern.write(device);
            workload.verify("iv-1", device, List.of(pattern));
            assertThat(until(invariants::converged)).as("a healthy cluster").isEmpty();

            PoolConfig pool = cluster.store.get(cluster.store.keys().poolConfig(placedPool(cluster)), PoolConfig.class)
                    .toCompletionStage().toCompletableFuture().get().orElseThrow().value();
            try (FileChannel file = FileChannel.open(FileEngine.volumeFile(pool, "iv-1"), StandardOpenOption.WRITE)) {
                file.write(ByteBuffer.wrap(new byte[4096]), pattern.offset() + 8192);
                file.force(true);
            }
            assertThatThrownBy(() -> workload.verify("iv-1", device, List.of(pattern)))
                    .isInstanceOf(Violation.class).hasMessageContaining("acknowledged write lost: volume iv-1");

            Path stray = FileEngine.dir(pool).resolve("stray.img");
            Files.write(stray, new byte[4096]);
            assertThat(invariants.converged()).anyMatch(v -> v.contains("holds stray.img")
                    && v.contains("no placement names it"));
            Files.delete(stray);

            workload.detach("iv-1");
            workload.deleteVolume("iv-1");
            assertThat(until(invariants::empty)).as("everything deleted").isEmpty();
            Path leftover = FileEngine.dir(pool).resolve("left.snap");
            Files.write(leftover, new byte[512]);
            assertThat(invariants.empty()).anyMatch(v -> v.contains("left in pool " + pool.name() + ": left.snap (512 bytes)"));
            Files.delete(leftover);
        } finally {
            try (var files = Files.walk(root)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static String placedPool(ChaosCluster cluster) throws Exception {
        return cluster.store.get(cluster.store.keys().placement("iv-1"), Placement.class)
                .toCompletionStage().toCompletableFuture().get().orElseThrow().value().pool();
    }

    interface Check {
        List<String> run() throws Exception;
    }

    /** The agents report and the controller audits asynchronously: the checks settle within a minute. */
    private static List<String> until(Check check) throws Exception {
        long end = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        List<String> last = check.run();
        while (!last.isEmpty() && System.nanoTime() < end) {
            Thread.sleep(500);
            last = check.run();
        }
        return last;
    }
}
