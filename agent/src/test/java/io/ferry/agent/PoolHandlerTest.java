package io.ferry.agent;

import io.ferry.etcd.store.RawEntry;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.Engine;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolSource;
import io.ferry.model.ValidationException;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Which pool configs a node reconciles, without etcd: its own and those that were its own; a pool
 * that becomes its own retries the work waiting for it; a broken value is reported only by the
 * node it names, and a fix that hands the pool to another node still clears that report.
 */
class PoolHandlerTest {

    static final String KEY = "/ferry/config/pools/fast";

    final BadValues bad = new BadValues();
    final List<String> pools = new ArrayList<>();
    final List<String> retried = new ArrayList<>();
    final PoolHandler handler = new PoolHandler("node-1", bad, pools::add, retried::add);

    static Versioned<PoolConfig> pool(String node, long revision) {
        return new Versioned<>(KEY, PoolConfig.builder("fast", node, Engine.FILE, PoolSource.directory("/srv/fast"))
                .build(), 1, revision, revision, 0);
    }

    static RawEntry broken(String json) {
        return new RawEntry(KEY, json.getBytes(StandardCharsets.UTF_8), 1, 5, 5, 0);
    }

    @Test
    void aPoolOfThisNodeIsReconciledAndItsWaitingWorkRetried() {
        handler.onUpsert(pool("node-1", 2), null);

        assertThat(pools).containsExactly("fast");
        assertThat(retried).containsExactly("fast");
    }

    @Test
    void aPoolOfAnotherNodeIsIgnoredUnlessItWasThisNodes() {
        handler.onUpsert(pool("node-2", 2), null);
        assertThat(pools).isEmpty();

        handler.onUpsert(pool("node-2", 3), pool("node-1", 2));
        assertThat(pools).as("moved away: this node stops reporting it").containsExactly("fast");
        assertThat(retried).isEmpty();
    }

    @Test
    void aBrokenValueIsReportedOnlyByTheNodeItNames() {
        handler.onBadValue(broken("{\"node\":\"node-2\",\"engine\":\"nope\"}"), new ValidationException("engine", "unknown"));
        handler.onBadValue(broken("not json at all"), new ValidationException("not json"));
        assertThat(pools).isEmpty();
        assertThat(bad.names()).isEmpty();

        handler.onBadValue(broken("{\"node\":\"node-1\",\"engine\":\"nope\"}"), new ValidationException("engine", "unknown"));
        assertThat(pools).containsExactly("fast");
        assertThat(bad.why("fast")).get().asString().contains("unknown");
    }

    @Test
    void aFixThatHandsABrokenPoolToAnotherNodeStillClearsThisNodesReport() {
        handler.onBadValue(broken("{\"node\":\"node-1\"}"), new ValidationException("engine", "missing"));
        pools.clear();

        handler.onUpsert(pool("node-2", 6), null);

        assertThat(bad.contains("fast")).isFalse();
        assertThat(pools).as("the reconcile removes this node's Failed report").containsExactly("fast");
        assertThat(retried).isEmpty();
    }

    @Test
    void aDeletedPoolIsReconciledWhenItWasThisNodesOrUnknown() {
        handler.onDelete(KEY, pool("node-2", 2));
        assertThat(pools).isEmpty();

        handler.onDelete(KEY, pool("node-1", 2));
        handler.onDelete(KEY, null);
        assertThat(pools).containsExactly("fast", "fast");
    }
}
