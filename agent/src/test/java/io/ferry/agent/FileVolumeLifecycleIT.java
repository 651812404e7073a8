package io.ferry.agent;

import io.ferry.etcd.store.Versioned;
import io.ferry.etcd.testing.Await;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.model.Engine;
import io.ferry.model.NodeRegistration;
import io.ferry.model.PoolStatus;
import io.ferry.model.Sizes;
import io.ferry.model.SnapshotStatus;
import io.ferry.model.SnapshotWorkItem;
import io.ferry.model.VolumePhase;
import io.ferry.model.VolumeSource;
import io.ferry.model.VolumeStatus;
import io.ferry.model.WorkItem;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The file engine end to end: real etcd, real sparse files, real loop devices. */
class FileVolumeLifecycleIT {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    @RegisterExtension
    final AgentHarness h = new AgentHarness(etcd);


    static WorkItem work(String volume, long size, long generation, VolumeSource source) {
        return WorkItem.of(volume, AgentHarness.NODE, "files", Engine.FILE, size, true, generation, source, null);
    }

    @Test
    void createsWritesGrowsSnapshotsClonesAndDeletesAVolumeLeavingNothingBehind() throws Exception {
        h.filePool("files");
        h.start();

        h.putWork(work("vol-a", 64 * Sizes.MIB, 1, null));
        VolumeStatus ready = h.awaitReady("vol-a", 1);
        assertThat(ready.devicePath()).startsWith("/dev/loop");
        assertThat(ready.sizeBytes()).isEqualTo(64 * Sizes.MIB);
        assertThat(ready.export()).isNull();

        byte[] data = new byte[1 << 20];
        new Random(7).nextBytes(data);
        writeDevice(ready.devicePath(), 4096, data);
        assertThat(readDevice(ready.devicePath(), 4096, data.length)).isEqualTo(data);

        h.putWork(work("vol-a", 128 * Sizes.MIB, 2, null));
        VolumeStatus grown = h.awaitReady("vol-a", 2);
        assertThat(grown.sizeBytes()).isEqualTo(128 * Sizes.MIB);
        assertThat(grown.devicePath()).isEqualTo(ready.devicePath());
        assertThat(deviceBytes(grown.devicePath())).isEqualTo(128 * Sizes.MIB);
        assertThat(readDevice(grown.devicePath(), 4096, data.length)).isEqualTo(data);

        Await.result(h.store.put(h.keys.snapshotWorkItem(AgentHarness.NODE, "snap-a"),
                SnapshotWorkItem.of("snap-a", AgentHarness.NODE, "vol-a", "files", Engine.FILE, 128 * Sizes.MIB, 1)));
        await().atMost(Duration.ofSeconds(30)).until(() -> snapshotStatus("snap-a")
                .filter(SnapshotStatus::readyToUse).isPresent());
        // Writes after the snapshot must not show up in the clone.
        writeDevice(grown.devicePath(), 4096, new byte[data.length]);

        h.putWork(work("vol-b", 256 * Sizes.MIB, 1, VolumeSource.snapshot("snap-a", "files")));
        VolumeStatus clone = h.awaitReady("vol-b", 1);
        assertThat(clone.devicePath()).isNotEqualTo(grown.devicePath());
        assertThat(clone.sizeBytes()).isEqualTo(256 * Sizes.MIB);
        assertThat(readDevice(clone.devicePath(), 4096, data.length)).isEqualTo(data);

        h.putWork(work("vol-c", 128 * Sizes.MIB, 1, VolumeSource.volume("vol-b", "files")));
        VolumeStatus copy = h.awaitReady("vol-c", 1);
        assertThat(readDevice(copy.devicePath(), 4096, data.length)).isEqualTo(data);

        assertThat(h.loops()).hasSize(3);
        assertThat(h.poolFiles()).containsExactly("snap-a.snap", "vol-a.img", "vol-b.img", "vol-c.img");

        h.deleteVolume("vol-c");
        h.deleteVolume("vol-b");
        h.deleteVolume("vol-a");
        h.deleteSnapshot("snap-a");
        await().atMost(Duration.ofSeconds(30)).until(() -> h.status("vol-a").isEmpty() && h.status("vol-b").isEmpty()
                && h.status("vol-c").isEmpty() && snapshotStatus("snap-a").isEmpty());
        // Deleted volumes' files stay behind emptied, as spares for the next volumes.
        assertThat(h.poolFiles()).isEmpty();
        assertThat(h.spareFiles()).hasSize(3);
        assertThat(h.loops()).isEmpty();

        // The next volume takes a spare that held vol-a's, vol-b's or vol-c's data: it must read zeros.
        h.putWork(work("vol-d", 64 * Sizes.MIB, 1, null));
        VolumeStatus fresh = h.awaitReady("vol-d", 1);
        assertThat(fresh.sizeBytes()).isEqualTo(64 * Sizes.MIB);
        assertThat(readDevice(fresh.devicePath(), 4096, data.length)).containsOnly((byte) 0);
        assertThat(h.poolFiles()).containsExactly("vol-d.img");
        assertThat(h.spareFiles()).hasSize(2);
        h.deleteVolume("vol-d");
        await().atMost(Duration.ofSeconds(30)).until(() -> h.status("vol-d").isEmpty());
        assertThat(h.loops()).isEmpty();
    }

    @Test
    void registersTheNodeWithAHostNqnThatSurvivesRestartsAndReportsThePool() throws Exception {
        h.filePool("files");
        Agent agent = h.start();
        Optional<NodeRegistration> reg = Await.result(h.store.get(h.keys.registration(AgentHarness.NODE),
                NodeRegistration.class)).map(Versioned::value);
        assertThat(reg).isPresent();
        assertThat(reg.get().engines()).contains(Engine.FILE);
        assertThat(reg.get().hostNqn()).isEqualTo(agent.hostNqn()).startsWith("nqn.2014-08.org.nvmexpress:uuid:");
        assertThat(reg.get().adminAddress()).endsWith(":" + agent.adminPort());
        assertThat(Files.readString(h.stateDir.resolve("hostnqn")).strip()).isEqualTo(agent.hostNqn());

        await().atMost(Duration.ofSeconds(20)).until(() -> poolStatus("files").filter(PoolStatus::healthy).isPresent());
        PoolStatus pool = poolStatus("files").orElseThrow();
        assertThat(pool.capacityBytes()).isPositive();
        assertThat(pool.freeBytes()).isPositive().isLessThanOrEqualTo(pool.capacityBytes());
        assertThat(Files.isDirectory(h.poolDir)).isTrue();

        HttpClient http = HttpClient.newHttpClient();
        String base = "http://127.0.0.1:" + agent.adminPort();
        assertThat(http.send(HttpRequest.newBuilder(URI.create(base + "/readyz")).build(),
                HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200);
        String metrics = http.send(HttpRequest.newBuilder(URI.create(base + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        assertThat(metrics).contains("ferry_agent_pool_capacity_bytes{pool=\"files\"}");

        String first = agent.hostNqn();
        h.stop();
        assertThat(h.start().hostNqn()).isEqualTo(first);
    }

    @Test
    void reportsAnInvalidWorkItemAsFailedWithoutStoppingOtherVolumes() throws Exception {
        h.filePool("files");
        h.start();
        Await.result(h.store.putRaw(h.keys.workItem(AgentHarness.NODE, "broken"),
                "{\"volume\":\"broken\",\"node\":\"node-a\",\"pool\":\"files\",\"engine\":\"file\",\"sizeBytes\":\"lots\",\"generation\":1}"
                        .getBytes(StandardCharsets.UTF_8)));
        h.putWork(work("huge", 2 * Sizes.PIB, 1, null));
        h.putWork(work("fine", 8 * Sizes.MIB, 1, null));

        h.awaitReady("fine", 1);
        await().atMost(Duration.ofSeconds(20)).until(() -> h.status("broken")
                .filter(s -> s.phase() == VolumePhase.FAILED).isPresent());
        assertThat(h.status("broken").orElseThrow().message()).contains("invalid").contains("sizeBytes");
        await().atMost(Duration.ofSeconds(20)).until(() -> h.status("huge")
                .filter(s -> s.phase() == VolumePhase.FAILED).isPresent());
        assertThat(h.status("huge").orElseThrow().message()).contains("exceeds the largest volume");
        assertThat(h.poolFiles()).containsExactly("fine.img");
    }

    @Test
    void reportsAVolumeOnAPoolThatIsNotConfiguredAndCreatesItOnceThePoolAppears() throws Exception {
        h.start();
        h.putWork(work("early", 8 * Sizes.MIB, 1, null));
        await().atMost(Duration.ofSeconds(20)).until(() -> h.status("early")
                .filter(s -> s.phase() == VolumePhase.FAILED).isPresent());
        assertThat(h.status("early").orElseThrow().message()).contains("pool files");
        h.filePool("files");
        h.awaitReady("early", 1);
    }

    Optional<SnapshotStatus> snapshotStatus(String snapshot) {
        return Await.result(h.store.get(h.keys.snapshotStatus(AgentHarness.NODE, snapshot), SnapshotStatus.class))
                .map(Versioned::value);
    }

    Optional<PoolStatus> poolStatus(String pool) {
        return Await.result(h.store.get(h.keys.nodePoolStatus(AgentHarness.NODE, pool), PoolStatus.class))
                .map(Versioned::value);
    }

    static void writeDevice(String device, long offset, byte[] data) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(device, "rw")) {
            f.seek(offset);
            f.write(data);
            f.getFD().sync();
        }
    }

    static byte[] readDevice(String device, long offset, int length) throws IOException {
        byte[] out = new byte[length];
        try (RandomAccessFile f = new RandomAccessFile(device, "r")) {
            f.seek(offset);
            f.readFully(out);
        }
        return out;
    }

    static long deviceBytes(String device) throws IOException {
        return Long.parseLong(Files.readString(Path.of("/sys/block", Path.of(device).getFileName().toString(), "size"))
                .strip()) * 512;
    }
}
