package io.ferry.tools.up;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Starts child programs Ferry does not control (etcd) so that they die with this JVM.
 *
 * <p>Such a program cannot watch a pipe the way {@link ExitWithParent} does, so it is started under
 * util-linux's {@code setpriv --pdeathsig TERM}, which sets Linux's parent-death signal and then
 * executes the program (same pid, same command line). The kernel sends that signal when the
 * <em>thread</em> that spawned the child ends, not the process: a child spawned from a short-lived
 * thread (a test's, a restart timer's) would be stopped when that thread finishes. Every such child
 * is therefore spawned from one daemon thread that lives as long as the JVM. Without setpriv the
 * program runs as it is, and the pid file of {@link LocalEtcd} lets the next {@code ferry up} find
 * and stop what a killed run left behind.
 */
final class Spawner {

    private static final Optional<Path> SETPRIV = find("setpriv");
    /** Never ends: {@link ExecutorService#submit} keeps a task's failure in its future, so no worker is replaced. */
    private static final ExecutorService THREAD = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "ferry-child-spawner");
        t.setDaemon(true);
        return t;
    });

    private Spawner() {
    }

    /** Whether children started here are stopped by the kernel when this JVM ends. */
    static boolean diesWithUs() {
        return SETPRIV.isPresent();
    }

    /** Starts {@code builder}'s command (rewritten to carry the parent-death signal) from the spawner thread. */
    static Process start(ProcessBuilder builder) throws IOException {
        List<String> command = new ArrayList<>();
        SETPRIV.ifPresent(setpriv -> command.addAll(List.of(setpriv.toString(), "--pdeathsig", "TERM", "--")));
        command.addAll(builder.command());
        ProcessBuilder withSignal = new ProcessBuilder(command).directory(builder.directory())
                .redirectInput(builder.redirectInput()).redirectOutput(builder.redirectOutput())
                .redirectError(builder.redirectError()).redirectErrorStream(builder.redirectErrorStream());
        withSignal.environment().clear();
        withSignal.environment().putAll(builder.environment());
        Future<Process> started = THREAD.submit(withSignal::start);
        try {
            return started.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            throw new IOException("could not start " + builder.command().get(0) + ": " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while starting " + builder.command().get(0), e);
        }
    }

    private static Optional<Path> find(String program) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            Path candidate = Path.of(dir.isEmpty() ? "." : dir, program);
            if (!dir.isEmpty() && Files.isExecutable(candidate)) {
                return Optional.of(candidate);
            }
        }
        return Files.isExecutable(Path.of("/usr/bin", program)) ? Optional.of(Path.of("/usr/bin", program)) : Optional.empty();
    }
}
