package io.ferry.runtime.reconcile;

import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.store.Versioned;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.etcd.testing.EtcdSession;
import io.ferry.etcd.testing.Item;
import io.ferry.runtime.informer.Informer;
import io.ferry.runtime.informer.InformerHandler;
import io.ferry.runtime.informer.InformerOptions;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

import static io.ferry.etcd.testing.Await.result;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The runtime driven by an informer over a real etcd, the way the controller and agents use it:
 * the reconciler reads the intent key and writes a status key.
 */
class ReconcileRuntimeIT {

    static final EtcdExtension etcd = new EtcdExtension();
    @RegisterExtension
    static final EtcdSession session = new EtcdSession(etcd);

    EtcdStore store;
    String intents;
    String statuses;
    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    Informer<Item> informer;
    ReconcileRuntime runtime;
    final Map<String, AtomicInteger> inFlight = new ConcurrentHashMap<>();
    final AtomicInteger overlaps = new AtomicInteger();
    final AtomicInteger runs = new AtomicInteger();

    @BeforeEach
    void connect() throws Exception {
        String prefix = session.prefix();
        store = session.store();
        intents = prefix + "/intents/";
        statuses = prefix + "/statuses/";
    }

    @AfterEach
    void close() {
        if (informer != null) {
            informer.close();
        }
        if (runtime != null) {
            runtime.close();
        }
    }

    /** Copies an intent's count into its status after a little simulated work. */
    private Future<ReconcileResult> reconcile(String key) {
        runs.incrementAndGet();
        if (inFlight.computeIfAbsent(key, k -> new AtomicInteger()).incrementAndGet() > 1) {
            overlaps.incrementAndGet();
        }
        Promise<Void> work = Promise.promise();
        session.vertx().setTimer(20, t -> work.complete());
        return work.future()
                .compose(v -> store.get(key, Item.class))
                .compose(current -> {
                    String name = key.substring(intents.length());
                    if (current.isEmpty()) {
                        return store.delete(statuses + name).mapEmpty();
                    }
                    return store.put(statuses + name, current.get().value()).mapEmpty();
                })
                .map(v -> ReconcileResult.done())
                .onComplete(ar -> inFlight.get(key).decrementAndGet());
    }

    private void start(RuntimeOptions options) {
        runtime = new ReconcileRuntime(session.vertx(), "it", this::reconcile, options, meters);
        informer = new Informer<>(session.vertx(), store, intents, Item.class, new InformerHandler<>() {
            @Override
            public void onUpsert(Versioned<Item> current, Versioned<Item> previous) {
                runtime.enqueue(current.key());
            }

            @Override
            public void onDelete(String key, Versioned<Item> lastKnown) {
                runtime.enqueue(key);
            }
        }, InformerOptions.defaults(), meters);
        result(informer.start());
    }

    @Test
    void rapidChangesAreReconciledOneRunPerKeyAtATimeAndCollapseToTheLatestState() {
        start(RuntimeOptions.defaults());
        int keys = 5;
        int updates = 60;
        List<Future<Long>> writes = new ArrayList<>();
        for (int i = 0; i < updates; i++) {
            for (int k = 0; k < keys; k++) {
                writes.add(store.put(intents + "k" + k, Item.of("k" + k, i)));
            }
        }
        result(Future.all(writes));
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
            for (int k = 0; k < keys; k++) {
                // Writes were in flight together, so the last one etcd applied is the truth, not i = 59.
                long latest = result(store.get(intents + "k" + k, Item.class)).orElseThrow().value().count();
                assertThat(result(store.get(statuses + "k" + k, Item.class))).map(v -> v.value().count()).contains(latest);
            }
        });
        await().atMost(Duration.ofSeconds(10)).until(() -> result(runtime.idle()));
        assertThat(overlaps.get()).as("runs of one key overlapped").isZero();
        assertThat(runs.get()).as("events collapsed into far fewer runs than writes").isLessThan(keys * updates / 2);
    }

    @Test
    void whileEtcdIsDownFailuresBackOffAndTheKeyConvergesOnceItReturns() throws Exception {
        start(RuntimeOptions.defaults().withDelays(Duration.ofMillis(100), Duration.ofSeconds(1)));
        result(store.put(intents + "a", Item.of("a", 1)));
        await().atMost(Duration.ofSeconds(10)).until(() -> result(store.get(statuses + "a", Item.class)).isPresent());

        etcd.stop();
        runtime.enqueue(intents + "a");
        await().atMost(Duration.ofSeconds(30)).until(() ->
                meters.get("ferry.reconcile.runs").tag("result", "retry").counter().count() >= 2);
        etcd.start();
        // The client reconnects with its own backoff; on a loaded machine the first put can time out.
        await().atMost(Duration.ofSeconds(30)).ignoreExceptions().until(() -> {
            result(store.put(intents + "a", Item.of("a", 2)));
            return true;
        });
        await().atMost(Duration.ofSeconds(30)).until(() ->
                result(store.get(statuses + "a", Item.class)).map(v -> v.value().count()).orElse(0L) == 2L);
        await().atMost(Duration.ofSeconds(30)).until(() -> result(runtime.idle()));
    }

    @Test
    void aDeletedIntentIsReconciledAway() {
        start(RuntimeOptions.defaults());
        result(store.put(intents + "gone", Item.of("gone", 1)));
        await().atMost(Duration.ofSeconds(10)).until(() -> result(store.get(statuses + "gone", Item.class)).isPresent());
        result(store.delete(intents + "gone"));
        await().atMost(Duration.ofSeconds(10)).until(() -> result(store.get(statuses + "gone", Item.class)).isEmpty());
    }
}
