package io.ferry.csi;

import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.informer.Informer;
import io.ferry.etcd.informer.InformerHandler;
import io.ferry.etcd.informer.InformerOptions;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.Engine;
import io.ferry.model.ExportInfo;
import io.ferry.model.GlobalConfig;
import io.ferry.model.NodeRegistration;
import io.ferry.model.Nqn;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolSource;
import io.ferry.model.PoolStatus;
import io.ferry.model.SnapshotStatus;
import io.ferry.model.SnapshotWorkItem;
import io.ferry.model.VolumePhase;
import io.ferry.model.VolumeStatus;
import io.ferry.model.WorkItem;
import io.ferry.runtime.exec.Command;
import io.ferry.runtime.exec.CommandRunner;
import io.vertx.core.Vertx;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static io.ferry.etcd.testing.Await.result;

/**
 * Stands in for Ferry agents in the CSI tests, with real block devices: each volume is a sparse
 * file attached to a loop device ({@code losetup --find --show}), so the node service really runs
 * blkid, mkfs, mount and resize2fs on it. Exports are reported as the real agent would (NQN,
 * serial, allowed hosts from the work item) but no NVMe target exists. {@link #close()} detaches
 * every loop device it attached, also after a failed test.
 */
final class LoopAgents implements AutoCloseable {

    static final long GI = 1L << 30;

    private final Vertx vertx;
    private final EtcdStore store;
    private final FerryKeys keys;
    private final CommandRunner runner;
    private final Path dir;
    private final Map<String, String> loops = new ConcurrentHashMap<>();
    private final ExecutorService worker = Executors.newSingleThreadExecutor();
    private Informer<Object> work;

    LoopAgents(Vertx vertx, EtcdStore store, CommandRunner runner, Path dir) {
        this.vertx = vertx;
        this.store = store;
        this.keys = store.keys();
        this.runner = runner;
        this.dir = dir;
    }

    static String hostNqn(String node) {
        return "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-" + String.format("%012d", Math.abs(node.hashCode()) % 1_000_000_000_000L);
    }

    void start() {
        work = new Informer<>(vertx, store, keys.nodes(), key -> keys.parse(key).map(ref -> switch (ref.kind()) {
            case NODE_WORK -> (Class<?>) WorkItem.class;
            case NODE_SNAPSHOT_WORK -> SnapshotWorkItem.class;
            default -> null;
        }).orElse(null), new InformerHandler<>() {
            @Override
            public void onUpsert(Versioned<Object> current, Versioned<Object> previous) {
                worker.execute(() -> answer(current.value()));
            }

            @Override
            public void onDelete(String key, Versioned<Object> lastKnown) {
                if (lastKnown != null) {
                    worker.execute(() -> withdraw(lastKnown.value()));
                }
            }
        }, InformerOptions.defaults(), null);
        result(work.start());
    }

    void addNode(String node, Map<String, String> labels) {
        result(store.put(keys.registration(node), NodeRegistration.of(node, "127.0.0.1", null, hostNqn(node),
                EnumSet.of(Engine.FILE), labels, "test", Instant.now())));
    }

    void removeNode(String node) {
        result(store.delete(keys.registration(node)));
    }

    void addPool(String node, String pool, long capacityGi, Map<String, String> labels) {
        result(store.put(keys.poolConfig(pool), PoolConfig.builder(pool, node, Engine.FILE,
                PoolSource.directory(dir.resolve(pool).toString())).labels(labels).build()));
        result(store.put(keys.nodePoolStatus(node, pool), PoolStatus.of(node, pool, Engine.FILE, capacityGi * GI,
                capacityGi * GI, null, null, List.of(), true, Instant.now())));
    }

    String devicePath(String volume) {
        return loops.get(volume);
    }

    private void answer(Object value) {
        try {
            if (value instanceof WorkItem item) {
                String device = ensureDevice(item.volume(), item.sizeBytes());
                ExportInfo export = item.export() == null ? null : ExportInfo.tcp(
                        Nqn.forVolume(GlobalConfig.DEFAULT_NQN_PREFIX, item.volume()), "127.0.0.1", 4420,
                        Nqn.serialForVolume(item.volume()), item.export().allowedHostNqns());
                result(store.put(keys.volumeStatus(item.node(), item.volume()), VolumeStatus.of(item.volume(), item.node(),
                        VolumePhase.READY, device, item.sizeBytes(), export, item.generation(), null, Instant.now())));
            } else if (value instanceof SnapshotWorkItem item) {
                result(store.put(keys.snapshotStatus(item.node(), item.snapshot()), SnapshotStatus.of(item.snapshot(),
                        item.sourceVolume(), item.node(), item.pool(), item.sizeBytes(), true, VolumePhase.READY, null,
                        item.generation(), Instant.now())));
            }
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private void withdraw(Object value) {
        if (value instanceof WorkItem item) {
            release(item.volume());
            result(store.delete(keys.volumeStatus(item.node(), item.volume())));
        } else if (value instanceof SnapshotWorkItem item) {
            result(store.delete(keys.snapshotStatus(item.node(), item.snapshot())));
        }
    }

    private String ensureDevice(String volume, long size) throws IOException {
        Path file = dir.resolve("volumes").resolve(volume + ".img");
        Files.createDirectories(file.getParent());
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            if (raf.length() < size) {
                raf.setLength(size);
            }
        }
        String device = loops.get(volume);
        if (device == null) {
            device = runner.run(Command.of("losetup", "--find", "--show", file.toString())).stdout().strip();
            loops.put(volume, device);
        } else {
            runner.run(Command.of("losetup", "--set-capacity", device));
        }
        return device;
    }

    private void release(String volume) {
        String device = loops.remove(volume);
        if (device != null) {
            runner.execute(Command.of("losetup", "-d", device));
        }
    }

    @Override
    public void close() {
        if (work != null) {
            work.close();
        }
        worker.shutdown();
        try {
            worker.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (String volume : List.copyOf(loops.keySet())) {
            release(volume);
        }
    }
}
