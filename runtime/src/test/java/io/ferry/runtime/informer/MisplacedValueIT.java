package io.ferry.runtime.informer;

import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.store.RawEntry;
import io.ferry.etcd.store.Versioned;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.model.ValidationException;
import io.ferry.model.VolumeIntent;
import io.vertx.core.Vertx;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static io.ferry.etcd.testing.Await.result;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** A value pasted with etcdctl under another object's key, as an operator might, seen through an informer. */
class MisplacedValueIT {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    @Test
    void aValuePastedUnderAnotherObjectsKeyIsReportedAndSkipped() {
        String prefix = EtcdExtension.uniquePrefix();
        Vertx vertx = Vertx.vertx();
        try (EtcdStore store = EtcdStore.connect(etcd.options(prefix))) {
            List<String> bad = new CopyOnWriteArrayList<>();
            Informer<VolumeIntent> informer = new Informer<>(vertx, store, store.keys().volumes(), VolumeIntent.class,
                    new InformerHandler<>() {
                        @Override
                        public void onUpsert(Versioned<VolumeIntent> current, Versioned<VolumeIntent> previous) {
                        }

                        @Override
                        public void onDelete(String key, Versioned<VolumeIntent> lastKnown) {
                        }

                        @Override
                        public void onBadValue(RawEntry raw, ValidationException error) {
                            bad.add(raw.key() + ": " + error.getMessage());
                        }
                    }, InformerOptions.defaults(), null);
            result(informer.start());
            etcd.etcdctl("put", store.keys().volume("vol-a"), "{\"name\":\"vol-b\",\"sizeBytes\":\"1Gi\"}");
            etcd.etcdctl("put", store.keys().volume("vol-c"), "{\"name\":\"vol-c\",\"sizeBytes\":\"-1Gi\"}");
            etcd.etcdctl("put", store.keys().volume("vol-d"), "{\"name\":\"vol-d\",\"sizeBytes\":\"1Gi\"}");
            await().atMost(Duration.ofSeconds(10)).until(() -> informer.get(store.keys().volume("vol-d")).isPresent());
            assertThat(bad).hasSize(2);
            assertThat(bad.get(0)).contains("vol-a").contains("names vol-b but its key names vol-a");
            assertThat(bad.get(1)).contains("vol-c");
            assertThat(informer.get(store.keys().volume("vol-a"))).isEmpty();
            informer.close();
        } finally {
            result(vertx.close());
        }
    }
}
