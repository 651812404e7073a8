package io.ferry.etcd.store;

import io.ferry.etcd.EtcdOptions;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.etcd.testing.Item;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import static io.ferry.etcd.testing.Await.failure;
import static io.ferry.etcd.testing.Await.result;
import static org.assertj.core.api.Assertions.assertThat;

/** A production-like etcd: TLS only, client certificates required, then etcd's own user authentication. */
class SecuredEtcdIT {

    @RegisterExtension
    static final EtcdExtension etcd = EtcdExtension.secured();

    @Test
    void connectsWithTheCaAndAClientCertificateAndThenWithAUserAndPassword() {
        String prefix = EtcdExtension.uniquePrefix();
        try (EtcdStore store = EtcdStore.connect(etcd.options(prefix))) {
            result(store.put(prefix + "/a", Item.of("a", 1)));
            assertThat(result(store.get(prefix + "/a", Item.class))).isPresent();
        }

        EtcdOptions withoutClientCert = etcd.builder(prefix).certFile(null).keyFile(null).build();
        try (EtcdStore store = EtcdStore.connect(withoutClientCert)) {
            assertThat(failure(store.get(prefix + "/a", Item.class))).isInstanceOf(EtcdUnavailableException.class);
        }

        etcd.etcdctl("user", "add", "root:s3cret-pw");
        etcd.etcdctl("auth", "enable");
        try {
            try (EtcdStore store = EtcdStore.connect(etcd.builder(prefix).user("root").password("s3cret-pw").build())) {
                result(store.put(prefix + "/b", Item.of("b", 2)));
                assertThat(result(store.get(prefix + "/b", Item.class))).isPresent();
            }
            try (EtcdStore store = EtcdStore.connect(etcd.builder(prefix).user("root").password("wrong").build())) {
                assertThat(failure(store.get(prefix + "/b", Item.class))).isInstanceOf(EtcdUnavailableException.class);
            }
        } finally {
            etcd.etcdctl("--user=root:s3cret-pw", "auth", "disable");
        }
    }
}
