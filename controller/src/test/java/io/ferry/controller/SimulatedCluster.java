package io.ferry.controller;

import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.testing.Cleanup;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.runtime.informer.InformerOptions;
import io.ferry.runtime.reconcile.RuntimeOptions;
import io.vertx.core.Vertx;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static io.ferry.etcd.testing.Await.result;

/**
 * The set-up of a controller IT: a key prefix of its own in a real etcd, the test's own connection
 * under it, {@link SimulatedAgents} answering work items, and the controllers the test starts. Made
 * when the test instance is, and after each test (after the test's own {@code @AfterEach}) every
 * controller is stopped and the rest closed, each step even when one before it failed.
 *
 * <pre>{@code
 * @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();
 * @RegisterExtension final SimulatedCluster cluster = new SimulatedCluster(etcd);
 * }</pre>
 */
final class SimulatedCluster implements AfterEachCallback {

    final String prefix = EtcdExtension.uniquePrefix();
    final Vertx vertx = Vertx.vertx();
    final EtcdStore store;
    final FerryKeys keys;
    final SimulatedAgents agents;
    private final EtcdExtension etcd;
    private final List<RunningController> controllers = new ArrayList<>();

    SimulatedCluster(EtcdExtension etcd) {
        this.etcd = etcd;
        store = EtcdStore.connect(etcd.options(prefix));
        keys = store.keys();
        agents = new SimulatedAgents(vertx, store);
        agents.start();
    }

    /** Options for a test's controller: a 3 s lease, retries from 100 ms to 2 s, no admin server. */
    static ControllerOptions options(String id, InformerOptions informers) {
        return new ControllerOptions(id, Duration.ofSeconds(3), null, informers,
                RuntimeOptions.defaults().withDelays(Duration.ofMillis(100), Duration.ofSeconds(2)), Duration.ofMinutes(5));
    }

    /** {@link #options(String, InformerOptions)} with the informers' defaults. */
    static ControllerOptions options(String id) {
        return options(id, InformerOptions.defaults());
    }

    /** Starts a controller on a connection of its own; it is stopped after the test. */
    RunningController start(ControllerOptions options) {
        EtcdStore own = EtcdStore.connect(etcd.options(prefix));
        return start(own, own, options);
    }

    /** Starts a controller over a store the test built; {@code connection} is closed once it is gone. */
    RunningController start(EtcdStore controllerStore, AutoCloseable connection, ControllerOptions options) {
        RunningController running = new RunningController(controllerStore, connection, options);
        controllers.add(running);
        return running;
    }

    @Override
    public void afterEach(ExtensionContext context) throws Exception {
        Cleanup cleanup = new Cleanup();
        controllers.forEach(running -> cleanup.step(running::stop));
        cleanup.step(agents::close);
        cleanup.step(store::close);
        cleanup.step(() -> result(vertx.close()));
        cleanup.rethrow();
    }
}
