package io.ferry.tools.cli;

import io.ferry.agent.AgentOptions;
import io.ferry.cluster.LocalCluster;
import io.ferry.csi.ScratchDirectory;
import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.store.Versioned;
import io.ferry.etcd.testing.Await;
import io.ferry.etcd.testing.Cleanup;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.model.Placement;
import io.ferry.model.VolumeStatus;
import io.ferry.runtime.device.TestDisks;
import io.ferry.runtime.exec.ProcessCommandRunner;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The set-up of a ferryctl IT: a {@link LocalCluster} under a key prefix of its own in a real etcd,
 * a scratch directory for its agent's pool and state, and ferryctl pointed at that etcd and prefix
 * with {@code node} as this host's node. Made with the test instance; after each test (after the
 * test's own {@code @AfterEach}) the cluster is closed and every mount and loop device of the scratch
 * directory goes, each step even when one before it failed, and nothing may be left.
 *
 * <pre>{@code
 * @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();
 * @RegisterExtension final CtlCluster local = new CtlCluster(etcd, "ferryctl-it-", "node-a");
 * }</pre>
 */
final class CtlCluster implements AfterEachCallback {

    final String prefix = EtcdExtension.uniquePrefix();
    final String node;
    final ScratchDirectory scratch;
    final Path root;
    /** Where a test's file pool goes; nothing creates it before a pool is added. */
    final Path poolDir;
    final LocalCluster cluster;
    final EtcdStore store;
    final FerryKeys keys;
    final CtlShell ctl;

    CtlCluster(EtcdExtension etcd, String scratchName, String node) {
        this.node = node;
        try {
            scratch = ScratchDirectory.create(scratchName, new ProcessCommandRunner());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        root = scratch.root();
        poolDir = root.resolve("pool");
        cluster = LocalCluster.on(etcd.options(prefix));
        store = cluster.store();
        keys = store.keys();
        ctl = new CtlShell(new HashMap<>(Map.of("FERRY_ETCD_ENDPOINTS", etcd.endpoint(), "FERRY_PREFIX", prefix,
                "FERRY_NODE", node)));
    }

    /** The options of this test's file-engine agent on {@link #node}: no NVMe-oF, no admin server, short intervals. */
    AgentOptions agentOptions() {
        return AgentOptions.defaults(node, "127.0.0.1", root.resolve("state"))
                .withHostNqnFile(root.resolve("no-hostnqn"))
                .withNvmetRoot(root.resolve("no-nvmet"))
                .withAdmin("127.0.0.1", -1)
                .withIntervals(Duration.ofSeconds(1), Duration.ofSeconds(2));
    }

    Optional<VolumeStatus> status(String volume) {
        return Await.result(store.get(keys.volumeStatus(node, volume), VolumeStatus.class)).map(Versioned::value);
    }

    Optional<Placement> placement(String volume) {
        return Await.result(store.get(keys.placement(volume), Placement.class)).map(Versioned::value);
    }

    /**
     * Writes the first MiB of the Ready volume through its device, bytes drawn from its name; returns
     * their checksum as read back from its image in the pool.
     */
    String fillFirstMiB(String volume) throws IOException {
        TestDisks.writeFirstMiB(status(volume).orElseThrow().devicePath(), volume.hashCode());
        return checksum(volume);
    }

    /** SHA-256 of the first MiB of the volume's image in the pool, read past the agent. */
    String checksum(String volume) throws IOException {
        return TestDisks.sha256OfFirstMiB(poolDir.resolve(volume + ".img"));
    }

    @Override
    public void afterEach(ExtensionContext context) {
        Cleanup cleanup = new Cleanup();
        cleanup.step(cluster::close);
        // Every mount and loop device of the test goes, whatever happened above, and none may be left.
        cleanup.step(scratch::close);
        assertThat(cleanup.problems()).as("clean-up problems").isEmpty();
    }
}
