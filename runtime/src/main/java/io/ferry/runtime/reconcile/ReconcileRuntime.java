package io.ferry.runtime.reconcile;

import io.ferry.etcd.store.BadValueException;
import io.ferry.model.ValidationException;
import io.ferry.runtime.logging.LogContext;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Metrics;
import io.micrometer.core.instrument.Timer;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.internal.ContextInternal;
import java.util.concurrent.CompletionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The reconcile loop shared by the controller and the agents.
 *
 * <ul>
 *   <li>Keys are queued once: enqueuing a key that is already waiting does nothing.</li>
 *   <li>At most one reconcile per key is in flight; keys enqueued meanwhile collapse into a single
 *       rerun right after it.</li>
 *   <li>A retryable failure schedules a retry after an exponential, jittered delay kept per key and
 *       reset by the next success. A change to the key (a new {@link #enqueue}) runs it at once.</li>
 *   <li>A terminal failure ({@link TerminalException}, {@link ValidationException},
 *       {@link BadValueException}) is recorded and not retried; {@link #resync} skips it, and only
 *       {@link #enqueue} (the key's inputs changed) runs it again.</li>
 * </ul>
 *
 * <p>Bookkeeping happens on one Vert.x context, so there are no locks; reconcilers run their
 * non-blocking steps there too and must push blocking work through {@link #blocking(Callable)}.
 * {@code enqueue} and {@code resync} may be called from any thread.
 *
 * <p>Each reconcile runs on a Vert.x context of its own carrying the key (and the node) for the log
 * ({@link LogContext}): every line logged by the reconcile, in its first step or in any continuation
 * (etcd answers, blocking work, timers), carries them as {@code %X{id}} and {@code %X{node}}.
 */
public final class ReconcileRuntime implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(ReconcileRuntime.class);

    private final Vertx vertx;
    private final Context context;
    private final String name;
    private final String node;
    private final Reconciler reconciler;
    private final RuntimeOptions options;

    private final LinkedHashSet<String> ready = new LinkedHashSet<>();
    private final Set<String> running = new HashSet<>();
    private final Set<String> rerun = new HashSet<>();
    private final Map<String, Integer> failures = new HashMap<>();
    private final Map<String, Long> timers = new HashMap<>();
    private final Map<String, String> terminal = new ConcurrentHashMap<>();
    private volatile boolean closed;

    private final Counter succeeded;
    private final Counter retried;
    private final Counter terminated;
    private final Timer latency;

    public ReconcileRuntime(Vertx vertx, String name, Reconciler reconciler, RuntimeOptions options, MeterRegistry registry) {
        this(vertx, name, null, reconciler, options, registry);
    }

    /** {@code node}: the node this runtime works for, on every line its reconciles log (null: none, the controller). */
    public ReconcileRuntime(Vertx vertx, String name, String node, Reconciler reconciler, RuntimeOptions options,
            MeterRegistry registry) {
        this.vertx = vertx;
        this.context = vertx.getOrCreateContext();
        this.name = name;
        this.node = node;
        this.reconciler = reconciler;
        this.options = options;
        MeterRegistry meters = registry == null ? Metrics.globalRegistry : registry;
        this.succeeded = runs(meters, "success");
        this.retried = runs(meters, "retry");
        this.terminated = runs(meters, "terminal");
        this.latency = Timer.builder("ferry.reconcile.duration")
                .description("time from the start of a reconcile to its outcome")
                .tag("runtime", name)
                .publishPercentiles(0.5, 0.95, 0.99)
                .register(meters);
        Gauge.builder("ferry.reconcile.queue", ready, Set::size).tag("runtime", name)
                .description("keys waiting to be reconciled").register(meters);
    }

    private Counter runs(MeterRegistry meters, String result) {
        return Counter.builder("ferry.reconcile.runs").tag("runtime", name).tag("result", result)
                .description("reconcile outcomes").register(meters);
    }

    public String name() {
        return name;
    }

    /** The key's inputs changed: reconcile it soon, even if it last failed terminally or is backing off. */
    public void enqueue(String key) {
        onContext(() -> {
            terminal.remove(key);
            cancelTimer(key);
            schedule(key);
        });
    }

    /** Periodic re-check: reconcile the key unless it failed terminally or is waiting for a retry. */
    public void resync(String key) {
        onContext(() -> {
            if (!terminal.containsKey(key) && !timers.containsKey(key)) {
                schedule(key);
            }
        });
    }

    /** Keys that failed terminally, with the error message; safe to read from any thread. */
    public Map<String, String> terminalFailures() {
        return Map.copyOf(terminal);
    }

    /**
     * Consecutive retryable failures of the key so far (0 after a success or a terminal failure).
     * Read on the runtime's context, e.g. in the synchronous part of a reconcile, where it counts
     * the failures before the run in progress; a reconciler shows it in the records it writes.
     */
    public int failedAttempts(String key) {
        return failures.getOrDefault(key, 0);
    }

    /** Runs blocking work (external commands, file I/O) on a worker thread. */
    public <T> Future<T> blocking(Callable<T> work) {
        return vertx.executeBlocking(work, false);
    }

    /** Completes when nothing is queued, running or waiting for a retry; for tests and shutdown. */
    public Future<Boolean> idle() {
        Promise<Boolean> answer = Promise.promise();
        context.runOnContext(v -> answer.complete(ready.isEmpty() && running.isEmpty() && timers.isEmpty()));
        return answer.future();
    }

    private void onContext(Runnable action) {
        if (closed) {
            return;
        }
        if (Vertx.currentContext() == context) {
            action.run();
        } else {
            context.runOnContext(v -> action.run());
        }
    }

    private void schedule(String key) {
        if (running.contains(key)) {
            rerun.add(key);
        } else {
            ready.add(key);
            pump();
        }
    }

    private void pump() {
        while (!closed && running.size() < options.concurrency() && !ready.isEmpty()) {
            String key = ready.iterator().next();
            ready.remove(key);
            run(key);
        }
    }

    private void run(String key) {
        running.add(key);
        Timer.Sample sample = Timer.start();
        ContextInternal work = LogContext.forWork(context, new LogContext.Tags(node, key));
        Promise<ReconcileResult> outcome = Promise.promise();
        // dispatch runs at once, on this thread, with the key's context as the current one: the
        // futures the reconciler creates complete on it, and so carry the key into the log.
        work.dispatch(v -> {
            try {
                Future<ReconcileResult> started = reconciler.reconcile(key);
                if (started == null) {
                    outcome.fail(new IllegalStateException("reconciler returned no future"));
                } else {
                    started.onComplete(outcome);
                }
            } catch (RuntimeException e) {
                outcome.fail(e);
            }
        });
        // Always hop through the context queue: a reconcile that completes synchronously must not
        // recurse into pump() and grow the stack with the queue length.
        outcome.future().onComplete(ar -> context.runOnContext(v -> {
            sample.stop(latency);
            running.remove(key);
            if (ar.succeeded()) {
                onSuccess(key, ar.result());
            } else if (isTerminal(ar.cause())) {
                onTerminal(key, ar.cause(), work);
            } else {
                onRetryable(key, ar.cause(), work);
            }
            if (rerun.remove(key)) {
                cancelTimer(key);
                ready.add(key);
            }
            pump();
        }));
    }

    private void onSuccess(String key, ReconcileResult result) {
        succeeded.increment();
        failures.remove(key);
        if (result != null && result.requeueAfter() != null) {
            after(key, result.requeueAfter());
        }
    }

    /** {@code work}: the key's context, so that the line about its outcome carries the key too. */
    private void onTerminal(String key, Throwable cause, ContextInternal work) {
        terminated.increment();
        failures.remove(key);
        String message = String.valueOf(cause.getMessage());
        terminal.put(key, message);
        work.dispatch(v -> log.warn("[{}] {} failed and will not be retried until it changes: {}", name, key, message));
    }

    private void onRetryable(String key, Throwable cause, ContextInternal work) {
        retried.increment();
        int attempt = failures.merge(key, 1, Integer::sum);
        Duration delay = backoff(attempt);
        work.dispatch(v -> log.info("[{}] {} failed (attempt {}), retrying in {} ms: {}", name, key, attempt,
                delay.toMillis(), cause.toString()));
        after(key, delay);
    }

    /**
     * Full jitter between half and all of the exponential delay: spreads retries of keys that failed
     * together (etcd was down) so they do not come back as one burst.
     */
    Duration backoff(int attempt) {
        long base = options.initialDelay().toMillis();
        long cap = options.maxDelay().toMillis();
        long exp = attempt >= 31 ? cap : Math.min(cap, base << Math.min(attempt - 1, 30));
        long jittered = exp / 2 + ThreadLocalRandom.current().nextLong(exp / 2 + 1);
        return Duration.ofMillis(Math.max(1, jittered));
    }

    private void after(String key, Duration delay) {
        cancelTimer(key);
        long id = vertx.setTimer(Math.max(1, delay.toMillis()), t -> {
            timers.remove(key);
            schedule(key);
        });
        timers.put(key, id);
    }

    private void cancelTimer(String key) {
        Long id = timers.remove(key);
        if (id != null) {
            vertx.cancelTimer(id);
        }
    }

    /** Whether a failure is terminal (not retried until the key is enqueued again): the one rule for it. */
    public static boolean isTerminal(Throwable error) {
        Throwable e = error;
        while (e instanceof CompletionException && e.getCause() != null) {
            e = e.getCause();
        }
        return e instanceof TerminalException || e instanceof ValidationException || e instanceof BadValueException;
    }

    @Override
    public void close() {
        onContext(() -> {
            closed = true;
            timers.values().forEach(vertx::cancelTimer);
            timers.clear();
            ready.clear();
        });
    }
}
