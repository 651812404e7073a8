package io.ferry.runtime.exec;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Runs commands as real processes with {@link ProcessBuilder}: argument lists only, stdout and
 * stderr drained concurrently (so a chatty command cannot fill a pipe and hang), killed with its
 * descendants at the timeout. Commands sharing a lock key run one at a time. Thread-safe.
 */
public final class ProcessCommandRunner implements CommandRunner {

    private static final Logger log = LoggerFactory.getLogger(ProcessCommandRunner.class);
    private static final int MAX_CAPTURE = 4 << 20;

    private final Map<String, ReentrantLock> locks = new ConcurrentHashMap<>();
    private final Map<String, String> environment;

    public ProcessCommandRunner() {
        // A fixed locale keeps tool output parseable whatever the host is set to.
        this(Map.of("LC_ALL", "C", "LANG", "C"));
    }

    public ProcessCommandRunner(Map<String, String> environment) {
        this.environment = Map.copyOf(environment);
    }

    @Override
    public CommandResult execute(Command command) {
        if (command.lockKey() == null) {
            return start(command);
        }
        ReentrantLock lock = locks.computeIfAbsent(command.lockKey(), k -> new ReentrantLock(true));
        boolean locked = false;
        try {
            locked = lock.tryLock(command.timeout().toMillis(), TimeUnit.MILLISECONDS);
            if (!locked) {
                throw CommandFailedException.timedOut(command, "waited the whole timeout for other commands on "
                        + command.lockKey() + " to finish");
            }
            return start(command);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw CommandFailedException.couldNotStart(command, e);
        } finally {
            if (locked) {
                lock.unlock();
            }
        }
    }

    private CommandResult start(Command command) {
        long started = System.nanoTime();
        ProcessBuilder pb = new ProcessBuilder(command.argv());
        pb.environment().putAll(environment);
        Process process;
        try {
            process = pb.start();
        } catch (IOException e) {
            throw CommandFailedException.couldNotStart(command, e);
        }
        CompletableFuture<String> stdout = drain(process.getInputStream());
        CompletableFuture<String> stderr = drain(process.getErrorStream());
        try (OutputStream in = process.getOutputStream()) {
            if (command.stdin() != null) {
                in.write(command.stdin());
            }
        } catch (IOException e) {
            log.debug("{} closed its stdin early", command.display(), e);
        }
        try {
            if (!process.waitFor(command.timeout().toMillis(), TimeUnit.MILLISECONDS)) {
                process.descendants().forEach(ProcessHandle::destroyForcibly);
                process.destroyForcibly();
                process.waitFor(5, TimeUnit.SECONDS);
                throw CommandFailedException.timedOut(command, command.mask(stderr.getNow("")));
            }
            // A program may echo an argument back (in a usage error, say): secrets are masked here,
            // before any caller can log or quote the output.
            CommandResult result = new CommandResult(command, process.exitValue(),
                    command.mask(stdout.get(5, TimeUnit.SECONDS)), command.mask(stderr.get(5, TimeUnit.SECONDS)),
                    Duration.ofNanos(System.nanoTime() - started));
            log.debug("{} -> {} in {} ms", command.display(), result.exitCode(), result.elapsed().toMillis());
            return result;
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw CommandFailedException.couldNotStart(command, e);
        } catch (ExecutionException | TimeoutException e) {
            throw CommandFailedException.couldNotStart(command, e);
        }
    }

    private static CompletableFuture<String> drain(InputStream stream) {
        CompletableFuture<String> text = new CompletableFuture<>();
        Thread reader = new Thread(() -> {
            ByteArrayOutputStream buffer = new ByteArrayOutputStream();
            byte[] chunk = new byte[8192];
            try (stream) {
                int n;
                while ((n = stream.read(chunk)) >= 0) {
                    if (buffer.size() < MAX_CAPTURE) {
                        buffer.write(chunk, 0, Math.min(n, MAX_CAPTURE - buffer.size()));
                    }
                }
            } catch (IOException e) {
                // The process was killed; keep what was read.
            }
            text.complete(buffer.toString(StandardCharsets.UTF_8));
        }, "command-output");
        reader.setDaemon(true);
        reader.start();
        return text;
    }
}
