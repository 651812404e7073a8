package io.ferry.controller;

import io.ferry.model.ClusterIdentity;
import io.ferry.model.Engine;
import io.ferry.model.KeyLayout;
import io.ferry.model.WorkItem;
import io.ferry.runtime.informer.InformerOptions;
import io.ferry.runtime.reconcile.RuntimeOptions;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.testing.EtcdExtension;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;

import static io.ferry.etcd.testing.Await.result;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A controller started while etcd cannot answer (found by the chaos run: a controller restarted
 * during a quorum loss exited with status 1 and stayed down).
 */
class ControllerStartIT {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    @Test
    void aControllerStartedWhileEtcdIsDownWaitsForItAndLeadsOnceItReturns() throws Exception {
        String prefix = EtcdExtension.uniquePrefix();
        etcd.stop();
        Vertx vertx = Vertx.vertx();
        EtcdStore store = EtcdStore.connect(etcd.options(prefix));
        Controller controller = new Controller(vertx, store, new ControllerOptions("c1", Duration.ofSeconds(3), null,
                InformerOptions.defaults().withWatchdogInterval(Duration.ofSeconds(2)),
                RuntimeOptions.defaults(), Duration.ofMinutes(5)), new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
        try {
            Future<Void> started = controller.start();
            Thread.sleep(8000);
            assertThat(started.failed()).as("the start did not give up: " + started.cause()).isFalse();
            assertThat(started.succeeded()).isFalse();

            etcd.start();
            await().atMost(Duration.ofSeconds(60)).until(started::succeeded);
            await().atMost(Duration.ofSeconds(30)).until(controller::isLeader);
            assertThat(result(store.get(store.keys().clusterIdentity(), ClusterIdentity.class))).isPresent();
        } finally {
            etcd.start();
            result(controller.stop());
            store.close();
            result(vertx.close());
        }
    }

    @Test
    void aControllerMovesWorkItemsOfTheOldKeyLayoutBeforeItReadsTheCluster() throws Exception {
        Vertx vertx = Vertx.vertx();
        EtcdStore store = EtcdStore.connect(etcd.options(EtcdExtension.uniquePrefix()));
        var keys = store.keys();
        WorkItem item = WorkItem.of("vol-a", "node-1", "pool-a", Engine.FILE,
                1L << 30, false, 3, null, null);
        result(store.put(keys.legacyWorkItem("node-1", "vol-a"), item));
        Controller controller = new Controller(vertx, store, new ControllerOptions("c1", Duration.ofSeconds(3), null,
                InformerOptions.defaults(), RuntimeOptions.defaults(), Duration.ofMinutes(5)),
                new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
        try {
            result(controller.start());

            assertThat(result(store.get(keys.legacyWorkItem("node-1", "vol-a"), WorkItem.class))).isEmpty();
            assertThat(result(store.get(keys.keyLayout(), KeyLayout.class))).isPresent();
            assertThat(result(store.get(keys.workItem("node-1", "vol-a"), WorkItem.class)))
                    .map(v -> v.value()).contains(item);
        } finally {
            result(controller.stop());
            store.close();
            result(vertx.close());
        }
    }
}
