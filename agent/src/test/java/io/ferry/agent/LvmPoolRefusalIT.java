package io.ferry.agent;

import io.ferry.etcd.store.Versioned;
import io.ferry.etcd.testing.Await;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.model.Condition;
import io.ferry.model.Engine;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolSource;
import io.ferry.model.PoolStatus;
import io.ferry.runtime.device.TestDisks;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.util.List;
import java.util.Optional;

import static io.ferry.runtime.device.TestDisks.MIB;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * An operator points an LVM pool with {@code prepare: true} at a disk that is not blank: the real
 * agent, with real etcd, real lvm2 tools and the real wipefs on a real loop device, must refuse it
 * in the pool status and leave every byte alone. The refusal comes before any LVM write, so this
 * runs without device-mapper. Needs root, the loop driver and lvm2.
 */
class LvmPoolRefusalIT {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    // Closed in reverse order: the agent stops before the disks under its pool are detached.
    @RegisterExtension
    @Order(1)
    final TestDisks disks = new TestDisks();

    @RegisterExtension
    @Order(2)
    final AgentHarness h = new AgentHarness(etcd);

    @Test
    void aPartitionedDiskIsRefusedInThePoolStatusAndLeftUntouched() throws Exception {
        String device = disks.withDosPartitionTable("partitioned", 64 * MIB);
        String before = TestDisks.sha256(device);
        h.start();
        Await.result(h.store.put(h.keys.poolConfig("lvm-a"), PoolConfig.builder("lvm-a", AgentHarness.NODE, Engine.LVM,
                PoolSource.volumeGroup("ferry-refusal-it").withDevices(List.of(device))).prepare(true).build()));

        await().atMost(Duration.ofSeconds(60)).until(() -> available("lvm-a").isPresent());
        Condition available = available("lvm-a").orElseThrow();
        assertThat(available.status()).isFalse();
        assertThat(available.reason()).isEqualTo("EngineError");
        assertThat(available.message()).contains("refusing to create volume group ferry-refusal-it")
                .contains(device + " carries dos (partition-table) at offset 0x1fe");
        assertThat(TestDisks.sha256(device)).isEqualTo(before);
    }

    private Optional<Condition> available(String pool) {
        return Await.result(h.store.get(h.keys.nodePoolStatus(AgentHarness.NODE, pool), PoolStatus.class))
                .map(Versioned::value).flatMap(s -> s.conditions().stream()
                        .filter(c -> c.type().equals(Condition.AVAILABLE)).findFirst());
    }
}
