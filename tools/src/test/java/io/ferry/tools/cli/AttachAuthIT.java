package io.ferry.tools.cli;

import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.testing.Await;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.model.HostSecret;
import io.ferry.model.VolumeIntent;
import io.ferry.runtime.auth.HostKeyFile;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** `ferryctl attach` on a bare host (no agent) keeps and publishes the host's DH-HMAC-CHAP pair itself. */
class AttachAuthIT {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    static final String NQN = "nqn.2014-08.org.nvmexpress:uuid:5a1e0000-0000-4000-8000-00000000bare";

    @TempDir
    Path dir;
    String prefix;
    EtcdStore store;
    FerryKeys keys;
    Map<String, String> env;

    @BeforeEach
    void setUp() {
        prefix = EtcdExtension.uniquePrefix();
        store = EtcdStore.connect(etcd.options(prefix));
        keys = store.keys();
        env = Map.of("FERRY_ETCD_ENDPOINTS", etcd.endpoint(), "FERRY_PREFIX", prefix);
        Await.result(store.put(keys.volume("vol-bare"), VolumeIntent.builder("vol-bare", 16L << 20).build()));
    }

    @AfterEach
    void tearDown() {
        store.close();
    }

    String attach(Path keyFile) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        // No controller runs: the wait times out, after the pair was kept and published.
        int code = FerryCtl.run(new String[] {"attach", "vol-bare", "--node", "bare-1", "--host-nqn", NQN, "--no-connect",
                "--timeout", "1", "--nvme-auth-keys", keyFile.toString()}, env, new PrintWriter(out, true),
                new PrintWriter(err, true));
        assertThat(code).isNotZero();
        return out + "\n" + err;
    }

    @Test
    void aBareHostCreatesItsPairOnceAndPublishesItWithoutPrintingIt() throws Exception {
        Path keyFile = dir.resolve("state").resolve(HostKeyFile.FILE_NAME);
        String output = attach(keyFile);
        HostKeyFile.Pair pair = HostKeyFile.read(keyFile).orElseThrow();
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(keyFile))).isEqualTo("rw-------");
        HostSecret published = Await.result(store.get(keys.hostSecret("bare-1"), HostSecret.class)).orElseThrow().value();
        assertThat(published.hostNqn()).isEqualTo(NQN);
        assertThat(published.hostKey()).isEqualTo(pair.hostKey().value());
        assertThat(published.ctrlKey()).isEqualTo(pair.ctrlKey().value());
        assertThat(output).doesNotContain(pair.hostKey().value()).doesNotContain(pair.ctrlKey().value());

        // Again (the etcd key gone meanwhile): the same pair, reused and published again.
        Await.result(store.delete(keys.hostSecret("bare-1")));
        attach(keyFile);
        assertThat(HostKeyFile.read(keyFile)).contains(pair);
        assertThat(Await.result(store.get(keys.hostSecret("bare-1"), HostSecret.class)).orElseThrow().value()
                .samePair(published)).isTrue();
    }
}
