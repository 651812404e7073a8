package io.ferry.csi;

import io.ferry.agent.engine.LoopDevices;
import io.ferry.csi.v1.NodeGetVolumeStatsRequest;
import io.ferry.csi.v1.NodePublishVolumeRequest;
import io.ferry.csi.v1.NodeStageVolumeRequest;
import io.ferry.etcd.store.EtcdUnavailableException;
import io.ferry.etcd.store.Versioned;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.model.NodeRegistration;
import io.ferry.model.VolumePhase;
import io.ferry.model.VolumeStatus;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static io.ferry.etcd.testing.Await.result;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Static stability: while the control plane is unreachable, volumes in use keep serving. etcd is
 * stopped for longer than the agent's lease under a mounted volume that an application keeps
 * writing to (with fsync); nothing may be torn down because etcd is gone (no loop device detached,
 * no unmount, no write error), nor when it comes back (the agent re-registers, and the volume is
 * Ready again on the same device with every acknowledged byte in place).
 */
class StaticStabilityIT {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    /** Longer than the agent's lease TTL (10 s), so its keep-alives fail for a whole lease. */
    private static final Duration OUTAGE = Duration.ofSeconds(14);

    CsiHarness h;

    @BeforeEach
    void setUp() throws Exception {
        h = new CsiHarness(etcd.options(EtcdExtension.uniquePrefix()));
    }

    @AfterEach
    void tearDown() throws Exception {
        if (!etcd.running()) {
            etcd.start();
        }
        h.close();
    }

    @Test
    void aMountedVolumeKeepsServingWhileEtcdIsDownAndNothingIsTornDownWhenItReturns() throws Exception {
        h.controller().createVolume(CsiRequests.create("pvc-steady", 64L << 20)
                .putParameters("positionAdvice", "MustLocal").build());
        Path staging = h.dir("staging/pvc-steady");
        Path target = h.dir("pods/p1/volume");
        NodeStageVolumeRequest stage = NodeStageVolumeRequest.newBuilder().setVolumeId("pvc-steady")
                .setStagingTargetPath(staging.toString()).setVolumeCapability(CsiRequests.mount("ext4")).build();
        h.node().nodeStageVolume(stage);
        NodePublishVolumeRequest publish = NodePublishVolumeRequest.newBuilder().setVolumeId("pvc-steady")
                .setStagingTargetPath(staging.toString()).setTargetPath(target.toString())
                .setVolumeCapability(CsiRequests.mount("ext4")).build();
        h.node().nodePublishVolume(publish);
        String device = h.devicePath("pvc-steady");
        List<LoopDevices.Loop> loopsBefore = h.loopDevices();
        assertThat(loopsBefore).extracting(LoopDevices.Loop::device).contains(device);

        Writer writer = new Writer(target.resolve("journal"));
        Thread thread = new Thread(writer, "application");
        thread.start();
        await().atMost(Duration.ofSeconds(10)).until(() -> writer.blocks.get() >= 5);

        etcd.stop();
        long outageEnd = System.nanoTime() + OUTAGE.toNanos();
        while (System.nanoTime() < outageEnd) {
            Thread.sleep(1000);
            assertThat(writer.failure.get()).as("an application write while etcd is down").isNull();
            assertThat(new Mounts(Path.of("/proc/self/mountinfo")).at(target)).as("the pod's mount")
                    .isPresent();
            assertThat(h.loopDevices()).as("the volume's loop device").isEqualTo(loopsBefore);
        }
        int writtenDuringOutage = writer.blocks.get();
        etcd.start();

        // The test's own client reconnects too: a read that times out meanwhile (a loaded machine)
        // is retried, not taken for an answer.
        await("the agent registered again").atMost(Duration.ofSeconds(60))
                .ignoreExceptionsInstanceOf(EtcdUnavailableException.class).until(() ->
                result(h.store.get(h.keys.registration(CsiHarness.NODE), NodeRegistration.class)).isPresent());
        await("the volume Ready again").atMost(Duration.ofSeconds(60))
                .ignoreExceptionsInstanceOf(EtcdUnavailableException.class).until(() ->
                result(h.store.get(h.keys.volumeStatus(CsiHarness.NODE, "pvc-steady"), VolumeStatus.class))
                        .map(Versioned::value).filter(s -> s.phase() == VolumePhase.READY).isPresent());
        await("the controller leading again").atMost(Duration.ofSeconds(60)).until(h.runningController()::isLeader);
        // A few reconcile rounds of every component after the return: still nothing torn down.
        Thread.sleep(5000);
        assertThat(writer.blocks.get()).as("the application kept writing").isGreaterThan(writtenDuringOutage);
        writer.stop.set(true);
        // A loaded machine can keep a write and its fsync waiting for many seconds; the file must be
        // closed before the harness unmounts and deletes the volume under it.
        thread.join(120_000);
        assertThat(thread.isAlive()).as("the application thread finished its last write").isFalse();
        assertThat(writer.failure.get()).as("an application write").isNull();
        assertThat(h.loopDevices()).isEqualTo(loopsBefore);
        assertThat(h.devicePath("pvc-steady")).isEqualTo(device);
        assertThat(new Mounts(Path.of("/proc/self/mountinfo")).at(target)).isPresent();
        assertThat(sha256(target.resolve("journal"))).as("every acknowledged byte").isEqualTo(writer.digest());

        // The plugin still answers for the volume, and a kubelet's retried stage and publish are no-ops.
        h.node().nodeStageVolume(stage);
        h.node().nodePublishVolume(publish);
        assertThat(h.node().nodeGetVolumeStats(NodeGetVolumeStatsRequest.newBuilder().setVolumeId("pvc-steady")
                .setVolumePath(target.toString()).build()).getVolumeCondition().getAbnormal()).isFalse();
    }

    /** An application appending random blocks to a file and syncing each before counting it. */
    private static final class Writer implements Runnable {
        final Path file;
        final AtomicBoolean stop = new AtomicBoolean();
        final AtomicInteger blocks = new AtomicInteger();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        private final MessageDigest acknowledged = sha256();
        private final Random random = new Random(42);

        Writer(Path file) {
            this.file = file;
        }

        @Override
        public void run() {
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.APPEND)) {
                byte[] block = new byte[64 << 10];
                while (!stop.get() && blocks.get() < 400) {
                    random.nextBytes(block);
                    ByteBuffer buf = ByteBuffer.wrap(block);
                    while (buf.hasRemaining()) {
                        ch.write(buf);
                    }
                    ch.force(true);
                    synchronized (this) {
                        acknowledged.update(block);
                    }
                    blocks.incrementAndGet();
                    Thread.sleep(100);
                }
            } catch (Throwable e) {
                failure.set(e);
            }
        }

        synchronized String digest() throws Exception {
            return HexFormat.of().formatHex(((MessageDigest) acknowledged.clone()).digest());
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static String sha256(Path file) throws Exception {
        MessageDigest d = sha256();
        d.update(Files.readAllBytes(file));
        return HexFormat.of().formatHex(d.digest());
    }
}
