package io.ferry.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.ferry.etcd.store.RawEntry;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.PoolConfig;
import io.ferry.model.ValidationException;
import io.ferry.runtime.informer.InformerHandler;

import java.util.function.Consumer;

/**
 * Pool configs of every node (pools of other nodes may share this machine's disks): a pool of
 * this node, or one that was, is reconciled; a pool that becomes this node's gives the work
 * waiting for it another chance; a broken value is reported only by the node it names.
 */
final class PoolHandler implements InformerHandler<PoolConfig> {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final String node;
    private final BadValues badConfigs;
    private final Consumer<String> enqueuePool;
    private final Consumer<String> retryWorkOfPool;

    /**
     * @param retryWorkOfPool enqueues the volumes and snapshots of a pool
     */
    PoolHandler(String node, BadValues badConfigs, Consumer<String> enqueuePool, Consumer<String> retryWorkOfPool) {
        this.node = node;
        this.badConfigs = badConfigs;
        this.enqueuePool = enqueuePool;
        this.retryWorkOfPool = retryWorkOfPool;
    }

    @Override
    public void onUpsert(Versioned<PoolConfig> current, Versioned<PoolConfig> previous) {
        PoolConfig pool = current.value();
        boolean mine = pool.node().equals(node);
        boolean wasMine = previous != null && previous.value().node().equals(node);
        // A pool this node reported as broken is reconciled once more even when the fixed value
        // names another node: that reconcile removes this node's Failed report.
        boolean wasBad = badConfigs.contains(pool.name());
        badConfigs.clear(pool.name());
        if (mine || wasMine || wasBad) {
            enqueuePool.accept(pool.name());
        }
        if (mine) {
            // Volumes and snapshots waiting for this pool (or failed on its old config) get another chance.
            retryWorkOfPool.accept(pool.name());
        }
    }

    @Override
    public void onDelete(String key, Versioned<PoolConfig> lastKnown) {
        String pool = NodeContext.lastSegment(key);
        if (lastKnown == null || lastKnown.value().node().equals(node) || badConfigs.contains(pool)) {
            badConfigs.clear(pool);
            enqueuePool.accept(pool);
        }
    }

    @Override
    public void onBadValue(RawEntry raw, ValidationException error) {
        String pool = NodeContext.lastSegment(raw.key());
        if (node.equals(namedNode(raw))) {
            badConfigs.record(pool, error.getMessage());
            enqueuePool.accept(pool);
        }
    }

    /** Only the node named in a broken value reports it; this peeks at that one field. */
    private static String namedNode(RawEntry raw) {
        try {
            JsonNode tree = JSON.readTree(raw.value());
            return tree.path("node").asText(null);
        } catch (Exception e) {
            // Not even JSON: nobody can tell whose pool it is.
            return null;
        }
    }
}
