package io.ferry.controller;

import io.ferry.runtime.informer.Informer;
import io.ferry.runtime.informer.InformerHandler;
import io.ferry.runtime.informer.InformerOptions;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.store.RawEntry;
import io.ferry.etcd.store.Versioned;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.etcd.testing.Item;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.Vertx;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.file.Path;
import java.time.Duration;

import static io.ferry.etcd.testing.Await.result;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

class LatestIT {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    /**
     * The leader's own writes overlay its informers until they deliver them. After etcd was restored
     * from a backup those writes belong to a history etcd no longer has, and their revisions are above
     * anything the restored etcd holds: kept, they would hide etcd's values (and fail every
     * compare-and-swap made from them) until etcd's revision caught up.
     */
    @Test
    void ownWritesFromBeforeARestoredBackupNoLongerHideWhatEtcdHolds() throws Exception {
        String prefix = EtcdExtension.uniquePrefix();
        String key = prefix + "/ledger/files";
        Vertx vertx = Vertx.vertx();
        EtcdStore store = EtcdStore.connect(etcd.options(prefix));
        Informer<Item> informer = new Informer<>(vertx, store, prefix + "/ledger/", Item.class, new InformerHandler<>() {
            @Override
            public void onUpsert(Versioned<Item> current, Versioned<Item> previous) {
            }

            @Override
            public void onDelete(String key, Versioned<Item> lastKnown) {
            }
        }, InformerOptions.defaults().withWatchdogInterval(Duration.ofMillis(500)), new SimpleMeterRegistry());
        try {
            result(store.put(key, Item.of("files", 1)));
            result(informer.start());
            Path backup = etcd.saveSnapshot();
            for (int i = 2; i <= 10; i++) {
                result(store.put(key, Item.of("files", i)));
            }
            await().atMost(Duration.ofSeconds(10)).until(() -> informer.get(key).map(v -> v.value().count()).orElse(0L) == 10L);
            long seen = informer.revision();
            Latest<Item> latest = new Latest<>(informer);
            // A commit the watch has not delivered yet when etcd goes away.
            latest.wrote(key, Item.of("files", 11), seen + 1);
            assertThat(latest.get(key)).map(v -> v.value().count()).contains(11L);

            etcd.restoreSnapshot(backup);
            await("the informer lists the restored etcd").atMost(Duration.ofSeconds(30))
                    .until(() -> informer.revision() < seen && informer.get(key).map(v -> v.value().count()).orElse(0L) == 1L);
            Versioned<Item> restored = latest.get(key).orElseThrow();
            assertThat(restored.value().count()).as("etcd's value, not the lost own write").isEqualTo(1L);
            assertThat(restored.modRevision()).isEqualTo(result(store.getRaw(key)).map(RawEntry::modRevision).orElseThrow());
        } finally {
            informer.close();
            store.close();
            result(vertx.close());
        }
    }
}
