package io.ferry.tools.up;

import io.ferry.csi.ScratchDirectory;
import io.ferry.runtime.exec.ProcessCommandRunner;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A real {@code ferry up} run as its own process, as {@code bin/ferry up} runs it, over a scratch
 * directory of its own. After each test the process is stopped (SIGTERM; after 60 s SIGKILL for it
 * and its children) and the directory closed. Not a {@code @TempDir}: ferry up's file pool leaves its
 * loop devices attached when it stops, and the scratch directory detaches them before it deletes
 * their files.
 *
 * <pre>{@code @RegisterExtension final FerryUpProcess ferry = new FerryUpProcess("ferry-x-it-");}</pre>
 */
final class FerryUpProcess implements AfterEachCallback {

    final ScratchDirectory scratch;
    final Path dir;
    private Process process;

    FerryUpProcess(String scratchName) {
        try {
            scratch = ScratchDirectory.create(scratchName, new ProcessCommandRunner());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        dir = scratch.root();
    }

    /**
     * Starts {@code ferry up <arguments>}, its output going to {@code outputName} in the directory, and
     * waits until the output holds every one of {@code markers}; fails if ferry up exits first or
     * takes longer than {@code timeout}. Returns the output.
     */
    String start(String outputName, List<String> arguments, Duration timeout, String... markers) throws Exception {
        Path output = dir.resolve(outputName);
        List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"), "-cp",
                System.getProperty("java.class.path"), FerryMain.class.getName(), "up"));
        command.addAll(arguments);
        process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(output.toFile()).start();
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!containsAll(Files.readString(output), markers)) {
            assertThat(process.isAlive()).as("ferry up exited:\n" + Files.readString(output)).isTrue();
            assertThat(System.nanoTime()).as("ferry up not up within " + timeout.toSeconds() + " s:\n"
                    + Files.readString(output)).isLessThan(deadline);
            Thread.sleep(250);
        }
        return Files.readString(output);
    }

    private static boolean containsAll(String output, String... markers) {
        return Stream.of(markers).allMatch(output::contains);
    }

    /** The process the last {@link #start} started. */
    Process process() {
        return process;
    }

    @Override
    public void afterEach(ExtensionContext context) throws Exception {
        try {
            if (process != null) {
                process.destroy();
                if (!process.waitFor(60, TimeUnit.SECONDS)) {
                    process.descendants().forEach(ProcessHandle::destroyForcibly);
                    process.destroyForcibly();
                }
            }
        } finally {
            scratch.close();
        }
    }
}
