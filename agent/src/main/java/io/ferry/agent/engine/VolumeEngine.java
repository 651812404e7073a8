package io.ferry.agent.engine;

import io.ferry.model.Engine;
import io.ferry.model.OrphanOwner;
import io.ferry.model.PoolConfig;

import java.util.List;
import java.util.Optional;

/**
 * One data engine on this node. Every method blocks (it runs external commands or file I/O), so
 * callers run it on a worker thread, and every method is idempotent: the agent may have crashed
 * anywhere inside the previous call, so each one first looks at what exists and only does what is
 * missing. Names passed in are valid Ferry names (checked by the model).
 */
public interface VolumeEngine {

    Engine kind();

    /**
     * Tells the engine this cluster's id, which it writes into every ownership marker and requires
     * of everything it adopts, changes or deletes. The agent calls it once, before anything else;
     * until then the engine refuses to act.
     */
    void bindCluster(String clusterId);

    /** True when this host has what the engine needs (its tools, its socket). */
    boolean available();

    /** Creates the pool's backing storage from its source if the config allows it ({@code prepare}). */
    void preparePool(PoolConfig pool);

    /**
     * Like {@link #preparePool(PoolConfig)}, told whether volumes of this pool are known to live on
     * this node: such a pool must be found, never made anew (a fresh, empty pool in place of a
     * missing one would turn its volumes into empty disks).
     */
    default void preparePool(PoolConfig pool, boolean holdsVolumes) {
        preparePool(pool);
    }

    /** Capacity, free space and health of the pool, measured now. */
    PoolState poolState(PoolConfig pool);

    /**
     * Like {@link #poolState(PoolConfig)}, knowing every pool of the cluster: engines whose pools can
     * share one device or file system (with pools of this node, or of other agents on this machine)
     * use it so that they never count the same bytes twice.
     */
    default PoolState poolState(PoolConfig pool, List<PoolConfig> allPools) {
        return poolState(pool);
    }

    Optional<LocalVolume> findVolume(PoolConfig pool, String volume);

    /**
     * Creates the volume (or finds the one a crashed earlier call created) and returns it ready for
     * use, with its device path.
     */
    LocalVolume createVolume(PoolConfig pool, String volume, long sizeBytes, boolean thin, Content content);

    /** Grows the volume to at least {@code sizeBytes}; never shrinks. */
    LocalVolume expandVolume(PoolConfig pool, String volume, long sizeBytes, boolean thin);

    /** Makes an existing volume usable (attaches the loop device, activates the LV) and returns it. */
    LocalVolume activate(PoolConfig pool, String volume);

    /**
     * What an exporter backs the volume's NVMe-oF namespace with: the local block device for engines
     * that have one (the default), the SPDK bdev name for {@code spdk}.
     */
    default String exportSource(PoolConfig pool, LocalVolume volume) {
        return volume.devicePath();
    }

    /** Removes the volume and anything attached to it; absent means done. */
    void deleteVolume(PoolConfig pool, String volume);

    Optional<LocalSnapshot> findSnapshot(PoolConfig pool, String snapshot);

    LocalSnapshot createSnapshot(PoolConfig pool, String snapshot, String sourceVolume);

    void deleteSnapshot(PoolConfig pool, String snapshot);

    /** What exists in the pool, for adoption and the orphan report. */
    Inventory inventory(PoolConfig pool);

    /**
     * Whose marker the volume's object carries; empty when it does not exist. Changes nothing (an
     * unmarked object is reported {@link OrphanOwner#UNMARKED}, not stamped).
     */
    Optional<OrphanOwner> owner(PoolConfig pool, String volume);

    /**
     * Removes an orphaned volume on an operator's order. Only an object carrying this cluster's
     * marker is removed; anything else is refused with {@link EngineException#permanent} before
     * anything is changed. The caller has checked that no work item or placement names it.
     */
    void removeOrphan(PoolConfig pool, String volume);

    /** Deletes one of {@link Inventory#leftovers()}. */
    void removeLeftover(PoolConfig pool, String leftover);
}
