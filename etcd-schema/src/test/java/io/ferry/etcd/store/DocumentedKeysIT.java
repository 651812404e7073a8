package io.ferry.etcd.store;

import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.informer.Informer;
import io.ferry.etcd.informer.InformerHandler;
import io.ferry.etcd.informer.InformerOptions;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.model.PoolConfig;
import io.ferry.model.ValidationException;
import io.ferry.model.VolumeIntent;
import io.vertx.core.Vertx;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.ferry.etcd.testing.Await.result;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The etcdctl commands printed in docs/etcd-schema.md, run for real, read back through the typed store. */
class DocumentedKeysIT {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    private static final Pattern PUT = Pattern.compile("etcdctl put (/ferry/\\S+) '(.*)'$");

    @Test
    void theQuickStartCommandsInTheSchemaDocumentStoreValuesFerryReads() throws IOException {
        String prefix = EtcdExtension.uniquePrefix();
        List<String[]> puts = documentedPuts();
        assertThat(puts).as("docs/etcd-schema.md has etcdctl put examples").hasSizeGreaterThanOrEqualTo(2);
        for (String[] put : puts) {
            etcd.etcdctl("put", put[0].replaceFirst("^/ferry", prefix), put[1]);
        }
        try (EtcdStore store = EtcdStore.connect(etcd.options(prefix))) {
            FerryKeys keys = store.keys();
            Listing<PoolConfig> pools = result(store.list(keys.poolConfigs(), PoolConfig.class));
            assertThat(pools.badValues()).isEmpty();
            assertThat(pools.items()).isNotEmpty();
            Listing<VolumeIntent> volumes = result(store.list(keys.volumes(), VolumeIntent.class));
            assertThat(volumes.badValues()).isEmpty();
            assertThat(volumes.items()).isNotEmpty();
            assertThat(volumes.items().get(0).value().sizeBytes() % (4L << 20)).isZero();
        }
    }

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

    private static List<String[]> documentedPuts() throws IOException {
        Path doc = Path.of("..", "docs", "etcd-schema.md");
        List<String[]> puts = new ArrayList<>();
        for (String line : Files.readAllLines(doc)) {
            Matcher m = PUT.matcher(line.trim());
            if (m.find() && !line.contains("deletionRequested")) {
                puts.add(new String[] {m.group(1), m.group(2)});
            }
        }
        return puts;
    }
}
