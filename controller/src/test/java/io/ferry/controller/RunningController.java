package io.ferry.controller;

import io.ferry.etcd.store.EtcdStore;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Vertx;

import static io.ferry.etcd.testing.Await.result;

/**
 * One controller process as a test runs it: its own Vert.x, etcd connection and metrics, so that it
 * can be stopped or killed alone while others run on. Started by its constructor.
 */
final class RunningController {

    final Vertx vertx = Vertx.vertx();
    final EtcdStore store;
    final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    final Controller controller;
    private final AutoCloseable connection;
    private boolean dead;

    /**
     * @param connection what to close once the controller is gone: {@code store} itself, or the client
     *                   under it when the test built the store over a client of its own
     */
    RunningController(EtcdStore store, AutoCloseable connection, ControllerOptions options) {
        this.store = store;
        this.connection = connection;
        controller = new Controller(vertx, store, options, registry);
        result(controller.start());
    }

    /** As a crash would: no resignation, no cleanup; its lease simply stops being renewed. */
    void kill() {
        dead = true;
        closeConnection();
        result(vertx.close());
    }

    /** Resigns and stops; nothing once it is stopped or killed. */
    void stop() {
        if (!dead) {
            dead = true;
            result(controller.stop());
            closeConnection();
            result(vertx.close());
        }
    }

    private void closeConnection() {
        try {
            connection.close();
        } catch (Exception e) {
            throw new IllegalStateException("closing the controller's etcd connection failed", e);
        }
    }
}
