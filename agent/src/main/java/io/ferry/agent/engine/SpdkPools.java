package io.ferry.agent.engine;

import io.ferry.agent.spdk.SpdkClient;
import io.ferry.agent.spdk.SpdkException;
import io.ferry.model.Condition;
import io.ferry.model.PoolConfig;
import io.ferry.model.PoolReason;

import java.util.List;
import java.util.Optional;

/** An SPDK pool's lvstore: created on its base bdev when the config asks, and its state as SPDK reports it. */
final class SpdkPools {

    private final SpdkClient client;

    SpdkPools(SpdkClient client) {
        this.client = client;
    }

    /** Creates the pool's lvstore on its base bdev, only when the config sets prepare. */
    void prepare(PoolConfig pool) {
        String lvs = SpdkLvols.lvstore(pool);
        if (client.getLvstore(lvs).isPresent()) {
            return;
        }
        if (!pool.prepare()) {
            throw EngineException.transientFailure("lvstore " + lvs + " does not exist and pool " + pool.name()
                    + " does not set prepare");
        }
        String bdev = pool.source().bdev();
        if (bdev == null) {
            throw EngineException.permanent("pool " + pool.name() + " sets prepare but names no source.bdev");
        }
        if (client.getBdevs(bdev).isEmpty()) {
            throw EngineException.transientFailure("base bdev " + bdev + " of pool " + pool.name()
                    + " does not exist in the SPDK target");
        }
        client.createLvstore(bdev, lvs);
    }

    PoolState state(PoolConfig pool) {
        String lvs = SpdkLvols.lvstore(pool);
        Optional<SpdkClient.Lvstore> found;
        try {
            found = client.getLvstore(lvs);
        } catch (SpdkException e) {
            return PoolState.unavailable(PoolReason.SPDK_UNREACHABLE, e.getMessage());
        }
        if (found.isEmpty()) {
            return PoolState.unavailable(PoolReason.LVSTORE_MISSING, "lvstore " + lvs + " does not exist in the SPDK target"
                    + (pool.prepare() ? "" : " and the pool does not set prepare"));
        }
        SpdkClient.Lvstore l = found.get();
        return new PoolState(l.capacityBytes(), l.freeBytes(), null, null,
                List.of(Condition.of(Condition.AVAILABLE, true, PoolReason.LVSTORE_ONLINE,
                        "lvstore " + lvs + " (" + l.uuid() + ") on bdev " + l.baseBdev() + ", cluster "
                                + l.clusterSize() + " bytes")), true);
    }
}
