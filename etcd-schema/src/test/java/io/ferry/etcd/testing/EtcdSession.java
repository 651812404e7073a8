package io.ferry.etcd.testing;

import io.ferry.etcd.store.EtcdStore;
import io.vertx.core.Vertx;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The set-up of a test against a real etcd: the etcd of an {@link EtcdExtension} and a Vert.x for the
 * test class, and for each test a key prefix of its own and a connection under it, closed after the
 * test's own {@code @AfterEach} (so that a test's informers stop before their store goes). A member a
 * test stopped or killed is started again before the next test.
 *
 * <pre>{@code
 * static final EtcdExtension etcd = new EtcdExtension();
 * @RegisterExtension static final EtcdSession session = new EtcdSession(etcd);
 * }</pre>
 *
 * The etcd is started and stopped through this extension; do not register it as well.
 */
public final class EtcdSession implements BeforeAllCallback, AfterAllCallback, BeforeEachCallback, AfterEachCallback {

    private final EtcdExtension etcd;
    private Vertx vertx;
    private String prefix;
    private EtcdStore store;

    public EtcdSession(EtcdExtension etcd) {
        this.etcd = etcd;
    }

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        etcd.beforeAll(context);
        vertx = Vertx.vertx();
    }

    @Override
    public void afterAll(ExtensionContext context) throws Exception {
        try {
            Await.result(vertx.close());
        } finally {
            etcd.afterAll(context);
        }
    }

    @Override
    public void beforeEach(ExtensionContext context) throws Exception {
        etcd.start();
        prefix = EtcdExtension.uniquePrefix();
        store = EtcdStore.connect(etcd.options(prefix));
    }

    @Override
    public void afterEach(ExtensionContext context) {
        store.close();
    }

    /** The Vert.x of the test class. */
    public Vertx vertx() {
        return vertx;
    }

    /** This test's key prefix; nothing outside it is shared with another test. */
    public String prefix() {
        return prefix;
    }

    /** This test's connection, under {@link #prefix()}. */
    public EtcdStore store() {
        return store;
    }
}
