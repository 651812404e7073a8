package io.ferry.tools.up;

import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.Engine;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolSource;

import io.vertx.core.Future;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/** The file pools of a cluster on one machine ({@code ferry up}, the chaos run): one per agent. */
public final class FilePools {

    private FilePools() {
    }

    /**
     * Declares an agent's file pool once; an operator's later edits to it are left alone, except
     * that a pool declared by an earlier version without a capacity gets its share.
     *
     * @param labels the node's labels; the pool carries its {@code rack} and {@code switch}
     */
    public static void declare(EtcdStore store, String pool, String node, Path directory, Map<String, String> labels,
            long capacityBytes) throws Exception {
        PoolConfig config = PoolConfig.builder(pool, node, Engine.FILE, PoolSource.directory(directory.toString()))
                .prepare(true).capacityBytes(capacityBytes)
                .labels(Map.of("rack", labels.get("rack"), "switch", labels.get("switch"))).build();
        String key = store.keys().poolConfig(pool);
        if (wait(store.putIfAbsent(key, config))) {
            return;
        }
        Optional<Versioned<PoolConfig>> existing = wait(store.get(key, PoolConfig.class));
        if (existing.isPresent() && existing.get().value().capacityBytes() == null
                && existing.get().value().source().equals(config.source())) {
            wait(store.compareAndPut(key, existing.get().value().toBuilder().capacityBytes(capacityBytes).build(),
                    existing.get().modRevision()));
        }
    }

    private static <T> T wait(Future<T> future) throws Exception {
        return future.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
}
