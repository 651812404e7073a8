package io.ferry.csi;

import io.ferry.etcd.testing.EtcdExtension;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * One cluster ({@link CsiHarness}) for all the tests of a conformance class: starting a controller,
 * an agent and the plugin for each test took most of the set's time. Between tests the harness is
 * reset (everything deleted through Ferry, nothing may be left); a test that failed to clean up or
 * that stopped a component gets the harness replaced, so no test sees another's leftovers.
 */
abstract class ConformanceTest {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    private static CsiHarness shared;

    CsiHarness h;

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

    @AfterAll
    static void closeHarness() throws Exception {
        CsiHarness closing = shared;
        shared = null;
        if (closing != null) {
            closing.close();
        }
    }
}
