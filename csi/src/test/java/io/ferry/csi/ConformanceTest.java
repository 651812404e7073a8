package io.ferry.csi;

import io.ferry.etcd.testing.EtcdExtension;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * One etcd and one cluster ({@link CsiHarness}) for all the conformance classes of a test run:
 * starting etcd, a controller, an agent and the plugin for each test took most of the set's time.
 * Between tests the harness is reset (everything deleted through Ferry, nothing may be left); a test
 * that stopped a component or took a node away, or after which the reset failed, gets the harness
 * replaced, so no test sees another's leftovers. Both are closed when the whole run ends.
 */
@ExtendWith(ConformanceTest.OneClusterPerRun.class)
abstract class ConformanceTest {

    private static final EtcdExtension etcd = new EtcdExtension();
    private static CsiHarness shared;

    CsiHarness h;

    /** Starts the etcd once per run, in JUnit's root store, which closes it (and the harness) at the end. */
    static final class OneClusterPerRun implements BeforeAllCallback {
        @Override
        @SuppressWarnings("deprecation")
        public void beforeAll(ExtensionContext context) {
            context.getRoot().getStore(ExtensionContext.Namespace.create(ConformanceTest.class)).getOrComputeIfAbsent("etcd",
                    key -> {
                        try {
                            etcd.beforeAll(context);
                        } catch (Exception e) {
                            throw new IllegalStateException("etcd did not start for the conformance tests", e);
                        }
                        return (ExtensionContext.Store.CloseableResource) () -> {
                            try {
                                closeHarness();
                            } finally {
                                etcd.afterAll(context);
                            }
                        };
                    }, ExtensionContext.Store.CloseableResource.class);
        }
    }

    @BeforeEach
    void setUpHarness() throws Exception {
        if (shared == null) {
            shared = new CsiHarness(etcd.options(EtcdExtension.uniquePrefix()));
        }
        h = shared;
    }

    @AfterEach
    void resetHarness() throws Exception {
        if (shared.disturbed()) {
            closeHarness();
            return;
        }
        try {
            shared.reset();
        } catch (Exception | Error e) {
            try {
                closeHarness();
            } catch (Exception suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    static void closeHarness() throws Exception {
        CsiHarness closing = shared;
        shared = null;
        if (closing != null) {
            closing.close();
        }
    }
}
