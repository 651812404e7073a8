package io.ferry.etcd.store;

import io.ferry.etcd.testing.EtcdExtension;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;

/** The store contract held by the real store against a real etcd: what the in-memory store is measured by. */
class EtcdStoreContractIT extends StoreContract {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    private EtcdStore store;

    @BeforeEach
    void connect() {
        String prefix = EtcdExtension.uniquePrefix();
        store = EtcdStore.connect(etcd.options(prefix));
        p = prefix + "/items/";
    }

    @AfterEach
    void close() {
        store.close();
    }

    @Override
    protected Store store() {
        return store;
    }

    @Override
    protected void passTime(Duration duration) throws InterruptedException {
        Thread.sleep(duration.toMillis());
    }
}
