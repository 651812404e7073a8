package io.ferry.runtime.reconcile;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.PatternLayout;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.ferry.runtime.logging.LogContext;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

import static io.ferry.etcd.testing.Await.result;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Every line a reconcile logs carries its key and the runtime's node, in its first step and after
 * each kind of await (a timer, blocking work and its result, a future completed by another thread
 * pool as etcd's are), while two keys' steps interleave on one event loop; lines logged outside any
 * reconcile carry neither.
 */
class ReconcileLogContextTest {

    static final Logger LOG = (Logger) LoggerFactory.getLogger("io.ferry.test.reconcile-log");

    Vertx vertx;
    ListAppender<ILoggingEvent> lines = new ListAppender<>();
    ExecutorService foreign = Executors.newSingleThreadExecutor();
    AtomicInteger volAttempts = new AtomicInteger();

    @BeforeEach
    void start() {
        vertx = Vertx.vertx();
        lines.start();
        LOG.addAppender(lines);
        LOG.setLevel(Level.INFO);
        // The runtime's own retry line is about the key too.
        ((Logger) LoggerFactory.getLogger(ReconcileRuntime.class)).addAppender(lines);
    }

    @AfterEach
    void stop() {
        LOG.detachAppender(lines);
        ((Logger) LoggerFactory.getLogger(ReconcileRuntime.class)).detachAppender(lines);
        foreign.shutdownNow();
        result(vertx.close());
    }

    Future<ReconcileResult> reconcile(ReconcileRuntime[] runtime, String key, AtomicInteger attempts) {
        LOG.info("{} starts", key);
        Promise<Void> timer = Promise.promise();
        vertx.setTimer(key.equals("vol-a") ? 30 : 10, t -> timer.complete());
        return timer.future()
                .compose(v -> {
                    LOG.info("{} after a timer", key);
                    return runtime[0].blocking(() -> {
                        LOG.info("{} in blocking work", key);
                        return key;
                    });
                })
                .compose(v -> {
                    LOG.info("{} after blocking work", key);
                    return Future.fromCompletionStage(CompletableFuture.supplyAsync(() -> key, foreign),
                            Vertx.currentContext());
                })
                .compose(v -> {
                    LOG.info("{} after a future another pool completed", key);
                    attempts.incrementAndGet();
                    if (key.equals("vol-a") && volAttempts.incrementAndGet() == 1) {
                        return Future.failedFuture(new IllegalStateException("first attempt fails"));
                    }
                    return Future.succeededFuture(ReconcileResult.done());
                });
    }

    @Test
    void everyLineOfAReconcileCarriesItsKeyAndNodeAndLinesOutsideCarryNone() {
        AtomicInteger attempts = new AtomicInteger();
        ReconcileRuntime[] runtime = new ReconcileRuntime[1];
        runtime[0] = new ReconcileRuntime(vertx, "t", "node-1", key -> reconcile(runtime, key, attempts),
                RuntimeOptions.defaults().withDelays(Duration.ofMillis(20), Duration.ofMillis(40)),
                new SimpleMeterRegistry());
        runtime[0].enqueue("vol-a");
        runtime[0].enqueue("snap-b");
        await().atMost(Duration.ofSeconds(10)).until(() -> attempts.get() >= 3 && result(runtime[0].idle()));
        // Outside any reconcile: on the runtime's event loop and on a plain thread.
        Promise<Void> outside = Promise.promise();
        vertx.runOnContext(v -> {
            LOG.info("outside on the event loop");
            outside.complete();
        });
        result(outside.future());
        LOG.info("outside on the test thread");

        List<ILoggingEvent> all = List.copyOf(lines.list);
        List<ILoggingEvent> inside = all.stream().filter(e -> !e.getFormattedMessage().startsWith("outside")).toList();
        assertThat(inside).extracting(ILoggingEvent::getFormattedMessage)
                .contains("vol-a after a timer", "vol-a in blocking work", "vol-a after blocking work",
                        "vol-a after a future another pool completed", "snap-b after a future another pool completed");
        assertThat(inside).anyMatch(e -> e.getFormattedMessage().contains("retrying in"));
        for (ILoggingEvent e : inside) {
            String key = e.getFormattedMessage().contains("vol-a") ? "vol-a" : "snap-b";
            assertThat(e.getMDCPropertyMap()).as(e.getFormattedMessage() + " on " + e.getThreadName())
                    .containsEntry(LogContext.ID, key).containsEntry(LogContext.NODE, "node-1");
        }
        for (ILoggingEvent e : all.stream().filter(e -> e.getFormattedMessage().startsWith("outside")).toList()) {
            assertThat(e.getMDCPropertyMap()).as(e.getFormattedMessage())
                    .doesNotContainKeys(LogContext.ID, LogContext.NODE);
        }
    }

    @Test
    void theProcessesPatternPrintsTheTagsAndNothingWithoutThem() throws Exception {
        String xml;
        try (var in = getClass().getClassLoader().getResourceAsStream("logback.xml")) {
            xml = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        String pattern = xml.substring(xml.indexOf("<pattern>") + 9, xml.indexOf("</pattern>"));
        PatternLayout layout = new PatternLayout();
        layout.setContext(LOG.getLoggerContext());
        layout.setPattern(pattern);
        layout.start();
        try (LogContext.Scope scope = LogContext.open(new LogContext.Tags("node-1", "vol-x"))) {
            LOG.info("tagged");
        }
        LOG.info("untagged");
        assertThat(layout.doLayout(lines.list.get(0))).endsWith("reconcile-log [node-1 vol-x] - tagged\n");
        assertThat(layout.doLayout(lines.list.get(1))).endsWith("reconcile-log - untagged\n");
    }

    @Test
    void aScopeSetsTheTagsForAThreadAndPutsBackWhatWasThere() {
        try (LogContext.Scope outer = LogContext.open(new LogContext.Tags("node-2", "vol-c"))) {
            try (LogContext.Scope inner = LogContext.open(new LogContext.Tags(null, "snap-d"))) {
                LOG.info("inner");
            }
            LOG.info("outer");
        }
        LOG.info("after");
        assertThat(lines.list).extracting(e -> Map.copyOf(e.getMDCPropertyMap())).containsExactly(
                Map.of(LogContext.ID, "snap-d"), Map.of(LogContext.ID, "vol-c", LogContext.NODE, "node-2"), Map.of());
    }
}
