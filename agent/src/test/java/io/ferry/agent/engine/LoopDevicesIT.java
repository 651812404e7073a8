package io.ferry.agent.engine;

import io.ferry.runtime.exec.ProcessCommandRunner;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Both ways of changing loop devices, against the real kernel (needs root and the loop driver). */
class LoopDevicesIT {

    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;

    private final ProcessCommandRunner runner = new ProcessCommandRunner();
    private final List<String> attached = new ArrayList<>();

    @AfterEach
    void detachLeftovers() {
        LoopDevices losetup = new LoopDevices(runner, Duration.ofSeconds(10));
        for (String device : attached) {
            try {
                losetup.detach(device, null);
            } catch (RuntimeException ignored) {
                // Already detached by the test.
            }
        }
    }

    @Test
    void hostUsesTheIoctlsHere() {
        assertThat(LoopDevices.forHost(runner, Duration.ofSeconds(10)).mechanism()).isEqualTo("ioctl");
    }

    @Test
    void ioctlsAttachResizeAndDetach() throws IOException {
        lifecycle(LoopDevices.forHost(runner, Duration.ofSeconds(10)));
    }

    @Test
    void losetupAttachesResizesAndDetaches() throws IOException {
        lifecycle(new LoopDevices(runner, Duration.ofSeconds(10)));
    }

    private void lifecycle(LoopDevices loops) throws IOException {
        Path file = sparse("a.img", 8 * MIB);
        String device = loops.attach(file, "test");
        attached.add(device);
        String name = device.substring("/dev/".length());
        assertThat(Files.readString(Path.of("/sys/block", name, "loop", "backing_file")).strip())
                .isEqualTo(file.toString());
        assertThat(sizeBytes(name)).isEqualTo(8 * MIB);
        assertThat(loops.backedBy(file)).extracting(LoopDevices.Loop::device).containsExactly(device);
        assertThat(Files.readString(Path.of("/sys/block", name, "ro")).strip()).isEqualTo("0");

        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(24 * MIB);
        }
        loops.refreshCapacity(device, "test");
        assertThat(sizeBytes(name)).isEqualTo(24 * MIB);

        loops.detach(device, "test");
        assertThat(loops.backedBy(file)).isEmpty();
        assertThat(Files.exists(Path.of("/sys/block", name, "loop"))).isFalse();
    }

    @Test
    void detachingAnUnboundDeviceIsANoOp() throws IOException {
        LoopDevices loops = LoopDevices.forHost(runner, Duration.ofSeconds(10));
        String device = loops.attach(sparse("b.img", 4 * MIB), null);
        attached.add(device);
        loops.detach(device, null);
        loops.detach(device, null);
    }

    @Test
    void concurrentAttachesGetDistinctDevices() throws Exception {
        LoopDevices loops = LoopDevices.forHost(runner, Duration.ofSeconds(10));
        int n = 24;
        List<Path> files = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            files.add(sparse("c" + i + ".img", 4 * MIB));
        }
        // A losetup from another process races with the ioctls for the same free devices.
        LoopDevices losetup = new LoopDevices(runner, Duration.ofSeconds(10));
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<String>> results = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                Path file = files.get(i);
                LoopDevices by = i % 6 == 0 ? losetup : loops;
                results.add(pool.submit(() -> by.attach(file, null)));
            }
            Set<String> devices = new HashSet<>();
            for (int i = 0; i < n; i++) {
                String device = results.get(i).get();
                attached.add(device);
                devices.add(device);
                assertThat(loops.backedBy(files.get(i))).extracting(LoopDevices.Loop::device).containsExactly(device);
            }
            assertThat(devices).hasSize(n);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aMissingBackingFileIsAClearError() {
        LoopDevices loops = LoopDevices.forHost(runner, Duration.ofSeconds(10));
        assertThatThrownBy(() -> loops.attach(dir.resolve("missing.img"), null))
                .isInstanceOf(EngineException.class)
                .hasMessageContaining("open the backing file " + dir.resolve("missing.img"))
                .hasMessageContaining("ENOENT");
    }

    private Path sparse(String name, long bytes) throws IOException {
        Path file = dir.resolve(name);
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(bytes);
        }
        return file;
    }

    private static long sizeBytes(String name) throws IOException {
        return Long.parseLong(Files.readString(Path.of("/sys/block", name, "size")).strip()) * 512;
    }
}
