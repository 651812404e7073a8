package io.ferry.tools.up;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * Keeps the child processes of {@code ferry up} running: a child that exits while {@code ferry up}
 * runs is reported on the console (its exit status and the last lines of its log) and started again
 * after a backoff of 1 s, doubling to at most 30 s while it keeps dying, back to 1 s once it has run
 * for a minute. Every restart is counted. {@link #close()} stops supervising before the children are
 * stopped, so that a shutdown is not mistaken for a crash.
 */
final class Supervisor implements AutoCloseable {

    static final Duration FIRST_DELAY = Duration.ofSeconds(1);
    static final Duration MAX_DELAY = Duration.ofSeconds(30);
    /** A child that ran this long before it exited is considered to have been healthy: its backoff starts over. */
    static final Duration STABLE = Duration.ofMinutes(1);
    static final int LOG_LINES = 5;
    private static final Pattern STACK_FRAME = Pattern.compile("\\s+(at |\\.\\.\\. \\d+ more).*");

    /** A supervised child: how to find its current process, start it again, and where it logs. */
    record Child(String name, Supplier<Optional<Process>> process, Starter start, Path log) {
        /** Starts the child again; a no-op while it runs. */
        interface Starter {
            void start() throws IOException;
        }
    }

    /** How a child last exited: its status, how long it had run, and the last line of its log. */
    record Exit(int status, Duration ran, String lastLogLine) {
    }

    private final PrintWriter out;
    private final Map<String, State> children = new LinkedHashMap<>();
    private final ScheduledExecutorService tick = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "ferry-up-supervisor");
        t.setDaemon(true);
        return t;
    });
    private volatile boolean closed;

    private static final class State {
        final Child child;
        long startedNanos = System.nanoTime();
        /** Set while the child is dead and waiting for its restart. */
        long restartAtNanos = -1;
        int consecutiveFailures;
        int restarts;
        Exit lastExit;

        State(Child child) {
            this.child = child;
        }
    }

    Supervisor(PrintWriter out) {
        this.out = out;
    }

    /** Supervises {@code child}, which has just been started. */
    synchronized void watch(Child child) {
        if (children.isEmpty()) {
            // Not before: a ferry up that fails its options or supervises nothing needs no supervisor thread.
            tick.scheduleWithFixedDelay(this::check, 250, 250, TimeUnit.MILLISECONDS);
        }
        children.put(child.name(), new State(child));
    }

    /** The delay before restart number {@code failures + 1} of a child that keeps dying. */
    static Duration backoff(int failures) {
        long seconds = FIRST_DELAY.toSeconds() << Math.min(failures, 5);
        return Duration.ofSeconds(Math.min(seconds, MAX_DELAY.toSeconds()));
    }

    /** Restarts per child so far. */
    synchronized Map<String, Integer> restarts() {
        Map<String, Integer> counts = new LinkedHashMap<>();
        children.forEach((name, state) -> counts.put(name, state.restarts));
        return counts;
    }

    /** How {@code name} last exited, if it has; empty for a child that never died. */
    synchronized Optional<Exit> lastExit(String name) {
        State state = children.get(name);
        return state == null ? Optional.empty() : Optional.ofNullable(state.lastExit);
    }

    /** Whether {@code name} is dead now, waiting for its restart. */
    synchronized boolean down(String name) {
        State state = children.get(name);
        return state != null && state.restartAtNanos >= 0;
    }

    private void check() {
        try {
            checkOnce();
        } catch (RuntimeException e) {
            // The supervisor must outlive anything one child does; report and carry on.
            out.println("ferry up: supervisor: " + e);
        }
    }

    private synchronized void checkOnce() {
        long now = System.nanoTime();
        for (State state : children.values()) {
            if (closed) {
                return;
            }
            if (state.restartAtNanos < 0) {
                Optional<Process> process = state.child.process().get();
                if (process.isEmpty() || process.get().isAlive()) {
                    continue;
                }
                Duration ran = Duration.ofNanos(now - state.startedNanos);
                if (ran.compareTo(STABLE) >= 0) {
                    state.consecutiveFailures = 0;
                }
                Duration delay = backoff(state.consecutiveFailures);
                state.consecutiveFailures++;
                state.restartAtNanos = now + delay.toNanos();
                List<String> tail = tail(state.child.log(), LOG_LINES);
                int status = process.get().exitValue();
                state.lastExit = new Exit(status, ran, tail.isEmpty() ? "" : tail.get(tail.size() - 1));
                StringBuilder report = new StringBuilder("ferry up: " + state.child.name() + " exited with status "
                        + describe(status) + " after " + seconds(ran) + "; restarting it in " + delay.toSeconds()
                        + " s (restart " + (state.restarts + 1) + "). Last lines of " + state.child.log() + ", stack frames left out:");
                tail.forEach(line -> report.append(System.lineSeparator()).append("    ").append(line));
                out.println(report);
            } else if (now >= state.restartAtNanos) {
                try {
                    state.child.start().start();
                    state.restarts++;
                    state.startedNanos = now;
                    state.restartAtNanos = -1;
                    out.println("ferry up: " + state.child.name() + " restarted (" + state.restarts + " restart"
                            + (state.restarts == 1 ? "" : "s") + " so far)");
                } catch (IOException | RuntimeException e) {
                    Duration delay = backoff(state.consecutiveFailures++);
                    state.restartAtNanos = now + delay.toNanos();
                    out.println("ferry up: could not restart " + state.child.name() + ": " + e.getMessage()
                            + "; trying again in " + delay.toSeconds() + " s");
                }
            }
        }
    }

    /** An exit status as a reader wants it: the signal a status above 128 stands for. */
    static String describe(int status) {
        return switch (status) {
            case 137 -> "137 (SIGKILL)";
            case 143 -> "143 (SIGTERM)";
            case 134 -> "134 (SIGABRT)";
            case 139 -> "139 (SIGSEGV)";
            default -> String.valueOf(status);
        };
    }

    private static String seconds(Duration d) {
        return String.format("%.1f s", d.toMillis() / 1000.0);
    }

    /**
     * The last {@code lines} lines of {@code log} (reading at most its last 16 KiB), leaving out the
     * frames of stack traces: the exception's message says why a component died, its frames do not.
     * Empty when the log cannot be read.
     */
    static List<String> tail(Path log, int lines) {
        try (RandomAccessFile file = new RandomAccessFile(log.toFile(), "r")) {
            long length = file.length();
            int size = (int) Math.min(length, 16 * 1024);
            byte[] bytes = new byte[size];
            file.seek(length - size);
            file.readFully(bytes);
            String[] all = new String(bytes, StandardCharsets.UTF_8).split("\\R");
            List<String> result = new ArrayList<>();
            for (int i = all.length - 1; i >= 0 && result.size() < lines; i--) {
                if (!all[i].isBlank() && !STACK_FRAME.matcher(all[i]).matches()) {
                    result.add(0, all[i]);
                }
            }
            return result;
        } catch (IOException e) {
            return List.of();
        }
    }

    @Override
    public void close() throws InterruptedException {
        closed = true;
        tick.shutdown();
        tick.awaitTermination(10, TimeUnit.SECONDS);
    }
}
