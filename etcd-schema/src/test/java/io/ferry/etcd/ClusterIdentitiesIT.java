package io.ferry.etcd;

import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.model.ClusterIdentity;
import io.vertx.core.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

import static io.ferry.etcd.testing.Await.failure;
import static io.ferry.etcd.testing.Await.result;
import static org.assertj.core.api.Assertions.assertThat;

class ClusterIdentitiesIT {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    EtcdStore store;
    EtcdStore other;

    @BeforeEach
    void connect() {
        String prefix = EtcdExtension.uniquePrefix();
        store = EtcdStore.connect(etcd.options(prefix));
        other = EtcdStore.connect(etcd.options(prefix));
    }

    @AfterEach
    void close() {
        store.close();
        other.close();
    }

    @Test
    void creatorsRacingForTheKeyAllEndUpWithTheOneValueThatWonAndItIsNeverRewritten() {
        List<Future<ClusterIdentity>> racing = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            racing.add(ClusterIdentities.ensure(i % 2 == 0 ? store : other, Instant.now()));
        }
        result(Future.all(racing));
        ClusterIdentity won = racing.get(0).result();
        racing.forEach(f -> assertThat(f.result()).isEqualTo(won));
        long modRevision = result(store.getRaw(store.keys().clusterIdentity())).orElseThrow().modRevision();

        // A restarted creator (a controller, ferry up) reads it and writes nothing.
        assertThat(result(ClusterIdentities.ensure(other, Instant.now()))).isEqualTo(won);
        assertThat(result(store.getRaw(store.keys().clusterIdentity())).orElseThrow().modRevision())
                .isEqualTo(modRevision);
        assertThat(result(ClusterIdentities.read(store))).contains(won);
    }

    @Test
    void aMalformedValueIsReportedAndNeverReplaced() {
        String key = store.keys().clusterIdentity();
        byte[] broken = "{\"id\":\"NOT A CLUSTER ID\",\"createdAt\":\"2026-11-02T10:15:30Z\"}"
                .getBytes(StandardCharsets.UTF_8);
        result(store.putRaw(key, broken));

        Throwable err = failure(ClusterIdentities.ensure(store, Instant.now()));
        assertThat(err).isInstanceOf(ClusterIdentities.Unusable.class).hasMessageContaining(key)
                .hasMessageContaining("never replaces");
        assertThat(failure(ClusterIdentities.read(store))).isInstanceOf(ClusterIdentities.Unusable.class);
        assertThat(result(store.getRaw(key)).orElseThrow().value()).isEqualTo(broken);
    }

    @Test
    void absentIsEmptyForReaders() {
        assertThat(result(ClusterIdentities.read(store))).isEmpty();
        assertThat(result(store.getRaw(store.keys().clusterIdentity()))).isEmpty();
    }
}
