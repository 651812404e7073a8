package io.ferry.csi;

import io.ferry.agent.engine.LoopDevices;
import io.ferry.etcd.testing.Cleanup;
import io.ferry.runtime.exec.Command;
import io.ferry.runtime.exec.CommandRunner;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * A test's own directory, for tests that make real loop devices and mounts (a file-engine agent's
 * volumes, the plugin's staging): on {@link #close()} whatever is mounted below it is unmounted, every
 * loop device backed by a file below it is detached, and it fails, keeping the files, if anything is
 * left; only a clean directory is deleted.
 */
public final class ScratchDirectory implements AutoCloseable {

    private final Path root;
    private final CommandRunner runner;
    private final LoopDevices loops;
    /** File systems the test mounted below the root itself; they go last, after the loop devices on them. */
    private final List<Path> baseMounts = new ArrayList<>();

    private ScratchDirectory(Path root, CommandRunner runner) {
        this.root = root;
        this.runner = runner;
        this.loops = new LoopDevices(runner, Duration.ofSeconds(10));
    }

    /** A new temporary directory named after {@code prefix}. */
    public static ScratchDirectory create(String prefix, CommandRunner runner) throws IOException {
        return new ScratchDirectory(Files.createTempDirectory(prefix), runner);
    }

    public Path root() {
        return root;
    }

    public Path resolve(String other) {
        return root.resolve(other);
    }

    /** Marks {@code mountPoint} as a file system the test mounted (a tmpfs for a pool): it is unmounted last. */
    public void mountedBase(Path mountPoint) {
        baseMounts.add(mountPoint);
    }

    /** Loop devices backed by a file below this directory. */
    public List<LoopDevices.Loop> loops() {
        return loops.all().stream().filter(l -> l.backingFile().startsWith(root.toString())).toList();
    }

    /** Mount points below this directory other than the base mounts, deepest first. */
    public List<String> mounts() {
        return mounts(false);
    }

    private List<String> mounts(boolean includingBase) {
        List<String> base = baseMounts.stream().map(Path::toString).toList();
        return new Mounts(Path.of("/proc/self/mountinfo")).all().stream().map(Mounts.Mount::mountPoint)
                .filter(p -> p.startsWith(root + "/"))
                .filter(p -> includingBase || !base.contains(p))
                .sorted(Comparator.reverseOrder()).toList();
    }

    /** Unmounts (lazily) whatever is mounted below this directory other than the base mounts. */
    public void unmountAll() {
        for (String path : mounts()) {
            runner.execute(Command.of("umount", "-l", path));
        }
    }

    /** Detaches every loop device backed by a file below this directory, as a reboot of the node would. */
    public void detachLoops() {
        for (LoopDevices.Loop loop : loops()) {
            loops.detach(loop.device(), null);
        }
    }

    /** Fails, naming them, if mounts or loop devices of this directory (base mounts aside) are left. */
    public void checkNothingLeft() {
        List<String> mountsLeft = mounts();
        List<LoopDevices.Loop> loopsLeft = loops();
        if (!mountsLeft.isEmpty() || !loopsLeft.isEmpty()) {
            throw new IllegalStateException("left behind: mounts " + mountsLeft + ", loop devices " + loopsLeft);
        }
    }

    @Override
    public void close() throws Exception {
        Cleanup cleanup = new Cleanup();
        cleanup.step(this::unmountAll);
        cleanup.step(this::detachLoops);
        for (Path base : baseMounts) {
            cleanup.step(() -> runner.execute(Command.of("umount", "-l", base.toString())));
        }
        cleanup.step(() -> {
            List<String> mountsLeft = mounts(true);
            List<LoopDevices.Loop> loopsLeft = loops();
            if (!mountsLeft.isEmpty() || !loopsLeft.isEmpty()) {
                cleanup.problemFirst(new IllegalStateException("left behind: mounts " + mountsLeft + ", loop devices "
                        + loopsLeft));
                return;
            }
            try (Stream<Path> files = Files.walk(root)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        });
        cleanup.rethrow();
    }
}
