package io.ferry.etcd.store;

import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.model.PoolConfig;
import io.ferry.model.VolumeIntent;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.ferry.etcd.testing.Await.result;
import static org.assertj.core.api.Assertions.assertThat;

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
