package io.ferry.runtime.reconcile;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import static io.ferry.etcd.testing.Await.result;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The runtime's bookkeeping, with reconcilers the test controls; etcd-driven runs are in ReconcileRuntimeIT. */
class ReconcileRuntimeTest {

    Vertx vertx;
    SimpleMeterRegistry meters = new SimpleMeterRegistry();

    @BeforeEach
    void start() {
        vertx = Vertx.vertx();
    }

    @AfterEach
    void stop() {
        result(vertx.close());
    }

    @Test
    void enqueuingAWaitingKeyTwiceRunsItOnce() {
        AtomicInteger runs = new AtomicInteger();
        Promise<ReconcileResult> gate = Promise.promise();
        ReconcileRuntime runtime = new ReconcileRuntime(vertx, "t", key -> key.equals("blocker") ? gate.future()
                : Future.succeededFuture(ReconcileResult.done()).onSuccess(r -> runs.incrementAndGet()),
                RuntimeOptions.defaults().withConcurrency(1), meters);
        runtime.enqueue("blocker");
        runtime.enqueue("k");
        runtime.enqueue("k");
        runtime.enqueue("k");
        vertx.setTimer(100, t -> gate.complete(ReconcileResult.done()));
        await().atMost(Duration.ofSeconds(5)).until(() -> result(runtime.idle()));
        assertThat(runs.get()).isEqualTo(1);
    }

    @Test
    void eventsDuringARunCollapseIntoOneRerunAndRunsOfOneKeyNeverOverlap() {
        AtomicInteger inFlight = new AtomicInteger();
        AtomicInteger maxInFlight = new AtomicInteger();
        AtomicInteger runs = new AtomicInteger();
        List<Promise<ReconcileResult>> pending = new CopyOnWriteArrayList<>();
        ReconcileRuntime runtime = new ReconcileRuntime(vertx, "t", key -> {
            maxInFlight.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
            runs.incrementAndGet();
            Promise<ReconcileResult> p = Promise.promise();
            pending.add(p);
            return p.future().onComplete(ar -> inFlight.decrementAndGet());
        }, RuntimeOptions.defaults(), meters);

        runtime.enqueue("k");
        await().until(() -> pending.size() == 1);
        for (int i = 0; i < 10; i++) {
            runtime.enqueue("k");
        }
        pending.get(0).complete(ReconcileResult.done());
        await().until(() -> pending.size() == 2);
        pending.get(1).complete(ReconcileResult.done());
        await().atMost(Duration.ofSeconds(5)).until(() -> result(runtime.idle()));
        assertThat(runs.get()).isEqualTo(2);
        assertThat(maxInFlight.get()).isEqualTo(1);
    }

    @Test
    void retryableFailuresAreRetriedWithGrowingDelaysUntilSuccess() {
        List<Long> starts = new CopyOnWriteArrayList<>();
        ReconcileRuntime runtime = new ReconcileRuntime(vertx, "t", key -> {
            starts.add(System.nanoTime());
            return starts.size() < 5 ? Future.failedFuture(new IllegalStateException("etcd busy"))
                    : Future.succeededFuture(ReconcileResult.done());
        }, RuntimeOptions.defaults().withDelays(Duration.ofMillis(40), Duration.ofSeconds(5)), meters);
        runtime.enqueue("k");
        await().atMost(Duration.ofSeconds(10)).until(() -> starts.size() == 5 && result(runtime.idle()));
        // Delay n is drawn from [base*2^(n-1)/2, base*2^(n-1)]: 20-40, 40-80, 80-160, 160-320 ms.
        long[] minGapsMs = {20, 40, 80, 160};
        for (int i = 1; i < starts.size(); i++) {
            long gapMs = (starts.get(i) - starts.get(i - 1)) / 1_000_000;
            assertThat(gapMs).as("gap before attempt %d", i + 1).isGreaterThanOrEqualTo(minGapsMs[i - 1]);
        }
        assertThat(meters.get("ferry.reconcile.runs").tag("result", "retry").counter().count()).isEqualTo(4);
        assertThat(meters.get("ferry.reconcile.runs").tag("result", "success").counter().count()).isEqualTo(1);
    }

    @Test
    void aReconcilerSeesHowManyTimesInARowItsKeyFailedBeforeThisRunAndSuccessResetsIt() {
        List<Integer> seen = new CopyOnWriteArrayList<>();
        AtomicInteger runs = new AtomicInteger();
        ReconcileRuntime[] runtime = new ReconcileRuntime[1];
        runtime[0] = new ReconcileRuntime(vertx, "t", key -> {
            seen.add(runtime[0].failedAttempts(key));
            return runs.incrementAndGet() <= 3 ? Future.failedFuture(new IllegalStateException("etcd is down"))
                    : Future.succeededFuture(ReconcileResult.done());
        }, RuntimeOptions.defaults().withDelays(Duration.ofMillis(5), Duration.ofMillis(20)), meters);
        runtime[0].enqueue("k");
        await().atMost(Duration.ofSeconds(5)).until(() -> runs.get() == 4 && result(runtime[0].idle()));
        assertThat(seen).containsExactly(0, 1, 2, 3);
        runtime[0].enqueue("k");
        await().atMost(Duration.ofSeconds(5)).until(() -> runs.get() == 5 && result(runtime[0].idle()));
        assertThat(seen.get(4)).as("reset by the success").isZero();
        assertThat(ReconcileRuntime.isTerminal(new TerminalException("no"))).isTrue();
        assertThat(ReconcileRuntime.isTerminal(new IllegalStateException("lost a race"))).isFalse();
    }

    @Test
    void backoffDoublesWithJitterAndStopsAtTheCap() {
        ReconcileRuntime runtime = new ReconcileRuntime(vertx, "t", key -> Future.succeededFuture(ReconcileResult.done()),
                RuntimeOptions.defaults().withDelays(Duration.ofMillis(100), Duration.ofSeconds(2)), meters);
        for (int attempt = 1; attempt <= 40; attempt++) {
            long full = Math.min(2000, 100L << Math.min(attempt - 1, 30));
            for (int sample = 0; sample < 50; sample++) {
                long d = runtime.backoff(attempt).toMillis();
                assertThat(d).isBetween(full / 2, full);
            }
        }
    }

    @Test
    void aTerminalFailureIsRecordedSkippedByResyncAndRetriedOnlyWhenTheKeyChanges() {
        Map<String, AtomicInteger> runs = new ConcurrentHashMap<>();
        ReconcileRuntime runtime = new ReconcileRuntime(vertx, "t", key -> {
            runs.computeIfAbsent(key, k -> new AtomicInteger()).incrementAndGet();
            return Future.failedFuture(new TerminalException("no pool fits: free space 3"));
        }, RuntimeOptions.defaults().withDelays(Duration.ofMillis(10), Duration.ofMillis(20)), meters);
        runtime.enqueue("k");
        await().until(() -> runtime.terminalFailures().containsKey("k"));
        assertThat(runtime.terminalFailures().get("k")).contains("free space 3");

        runtime.resync("k");
        runtime.resync("k");
        await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(2)).until(() -> runs.get("k").get() == 1);

        runtime.enqueue("k");
        await().until(() -> runs.get("k").get() == 2);
    }

    @Test
    void neverRunsMoreReconcilesAtOnceThanTheConcurrencyLimit() {
        AtomicInteger inFlight = new AtomicInteger();
        AtomicInteger maxInFlight = new AtomicInteger();
        AtomicInteger done = new AtomicInteger();
        ReconcileRuntime runtime = new ReconcileRuntime(vertx, "t", key -> {
            maxInFlight.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
            Promise<ReconcileResult> p = Promise.promise();
            vertx.setTimer(5, t -> {
                inFlight.decrementAndGet();
                done.incrementAndGet();
                p.complete(ReconcileResult.done());
            });
            return p.future();
        }, RuntimeOptions.defaults().withConcurrency(3), meters);
        for (int i = 0; i < 40; i++) {
            runtime.enqueue("k" + i);
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> done.get() == 40);
        assertThat(maxInFlight.get()).isEqualTo(3);
    }

    @Test
    void aReconcilerThatThrowsIsTreatedAsARetryableFailure() {
        AtomicInteger runs = new AtomicInteger();
        ReconcileRuntime runtime = new ReconcileRuntime(vertx, "t", key -> {
            if (runs.incrementAndGet() == 1) {
                throw new IllegalStateException("bug");
            }
            return Future.succeededFuture(ReconcileResult.done());
        }, RuntimeOptions.defaults().withDelays(Duration.ofMillis(10), Duration.ofMillis(20)), meters);
        runtime.enqueue("k");
        await().atMost(Duration.ofSeconds(5)).until(() -> runs.get() == 2);
    }

    @Test
    void requeueAfterRunsTheKeyAgainWithoutAnEvent() {
        AtomicInteger runs = new AtomicInteger();
        ReconcileRuntime runtime = new ReconcileRuntime(vertx, "t", key -> Future.succeededFuture(
                runs.incrementAndGet() < 3 ? ReconcileResult.requeueAfter(Duration.ofMillis(20)) : ReconcileResult.done()),
                RuntimeOptions.defaults(), meters);
        runtime.enqueue("k");
        await().atMost(Duration.ofSeconds(5)).until(() -> runs.get() == 3 && result(runtime.idle()));
    }
}
