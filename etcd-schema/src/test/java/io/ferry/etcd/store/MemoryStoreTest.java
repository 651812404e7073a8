package io.ferry.etcd.store;

import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.testing.MemoryStore;
import org.junit.jupiter.api.BeforeEach;

import java.time.Duration;

/** The store contract held by the in-memory store, on its manual clock. */
class MemoryStoreTest extends StoreContract {

    private MemoryStore store;

    @BeforeEach
    void create() {
        store = new MemoryStore(new FerryKeys("/ferry"));
        p = "/ferry/items/";
    }

    @Override
    protected Store store() {
        return store;
    }

    @Override
    protected void passTime(Duration duration) {
        store.advanceTime(duration);
    }
}
