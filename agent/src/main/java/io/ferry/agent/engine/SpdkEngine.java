package io.ferry.agent.engine;

import static io.ferry.agent.engine.SpdkLvols.alias;
import static io.ferry.agent.engine.SpdkLvols.lvstore;

import io.ferry.agent.spdk.SpdkClient;
import io.ferry.agent.spdk.SpdkException;
import io.ferry.model.Engine;
import io.ferry.model.Names;
import io.ferry.model.OrphanOwner;
import io.ferry.model.PoolConfig;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.LongSupplier;

/**
 * SPDK logical volumes in an lvstore, driven over the target's JSON-RPC socket.
 *
 * <p>Ownership marker: the lvol's name, see {@link SpdkLvolNames}.
 *
 * <p>Lvols named as before cluster ids ({@code <vol>}, {@code <snap>.snap}, {@code <vol>.origin})
 * carry no marker. A volume lvol of that form that a work item of this cluster uses is renamed to
 * its marked name ({@code bdev_lvol_rename}: the alias changes, the bdev's UUID, data and any
 * namespace exported from it stay); one no work item names is an {@code unmarked} orphan, and is
 * never removed on an orphan order. Snapshots cannot be renamed (SPDK refuses to change a read-only
 * blob's metadata), so an old snapshot keeps its name and is used by it. An lvol with another
 * cluster's marker is never adopted, changed or removed: a volume of the same name gets this
 * cluster's own lvol beside it, and the other one is reported as an {@code other-cluster} orphan.
 *
 * <p>Device path: an lvol is an SPDK bdev in the target's user-space process, not a kernel block
 * device, so {@link LocalVolume#devicePath()} is always null. Remote consumers use the NVMe/TCP
 * export ({@code SpdkExporter}); a local consumer would have to connect to a loopback export,
 * which the agent does not create, and the volume status says so.
 *
 * <p>Every method looks before it acts, so a repeat after a crash only does what is missing.
 * Compound operations (snapshot then clone, rename) are serialized per engine instance.
 */
public final class SpdkEngine implements VolumeEngine {

    private final SpdkClient client;
    private final SpdkProbe probe;
    private final SpdkPools pools;
    private final SpdkLvols lvols;
    /** This cluster's lvol name prefix {@code <marker>_}, set by {@link #bindCluster}. */
    private volatile String prefix;

    public SpdkEngine(SpdkClient client, Path socket, Duration probeInterval) {
        this(client, socket, probeInterval, System::nanoTime);
    }

    SpdkEngine(SpdkClient client, Path socket, Duration probeInterval, LongSupplier nanoClock) {
        this.client = client;
        this.probe = new SpdkProbe(client, socket, probeInterval, nanoClock);
        this.pools = new SpdkPools(client);
        this.lvols = new SpdkLvols(client);
    }

    /** The marker of cluster {@code clusterId} in lvol names. */
    public static String marker(String clusterId) {
        return SpdkLvolNames.marker(clusterId);
    }

    /** A volume's lvol as named before cluster ids (no marker). */
    public static String volumeLvol(String volume) {
        return SpdkLvolNames.volumeLvol(volume);
    }

    /** A snapshot's lvol as named before cluster ids (no marker). */
    public static String snapshotLvol(String snapshot) {
        return SpdkLvolNames.snapshotLvol(snapshot);
    }

    @Override
    public void bindCluster(String clusterId) {
        this.prefix = SpdkLvolNames.marker(clusterId) + SpdkLvolNames.MARKER_SEPARATOR;
    }

    /** Called first by everything that names, adopts or removes: without the id nothing is Ferry's. */
    private String prefix() {
        String p = prefix;
        if (p == null) {
            throw EngineException.transientFailure("this agent does not know its cluster id yet; nothing is created,"
                    + " adopted or deleted until it does");
        }
        return p;
    }

    /** The client, shared with the SPDK exporter (one socket, one call at a time). */
    public SpdkClient client() {
        return client;
    }

    @Override
    public Engine kind() {
        return Engine.SPDK;
    }

    /** True when the target answers; see {@link SpdkProbe}. */
    @Override
    public boolean available() {
        return probe.available();
    }

    // ---- names ----

    /** This cluster's lvol of a volume. */
    String markedVolumeLvol(String volume) {
        return SpdkLvolNames.lvolName(prefix(), Names.volumeName(volume), "");
    }

    String markedSnapshotLvol(String snapshot) {
        return SpdkLvolNames.lvolName(prefix(), Names.snapshotName(snapshot), SpdkLvolNames.SNAPSHOT_SUFFIX);
    }

    String markedOriginLvol(String volume) {
        return SpdkLvolNames.lvolName(prefix(), Names.volumeName(volume), SpdkLvolNames.ORIGIN_SUFFIX);
    }

    /**
     * What an exporter puts in the NVMe-oF namespace: the alias of this cluster's lvol (a volume
     * made before cluster ids has been renamed to it by the engine call that returned {@code volume}).
     */
    @Override
    public String exportSource(PoolConfig pool, LocalVolume volume) {
        return alias(pool, markedVolumeLvol(volume.name()));
    }

    // ---- pool ----

    /** See {@link SpdkPools#prepare}; serialised with the engine's compound operations. */
    @Override
    public synchronized void preparePool(PoolConfig pool) {
        pools.prepare(pool);
    }

    @Override
    public PoolState poolState(PoolConfig pool) {
        return pools.state(pool);
    }

    // ---- volumes ----

    /**
     * Only ever called for a volume a work item of this cluster names: this cluster's lvol, or one
     * made before cluster ids, which is renamed to carry the marker from now on.
     */
    @Override
    public Optional<LocalVolume> findVolume(PoolConfig pool, String volume) {
        Optional<SpdkClient.Bdev> marked = lvols.bdev(pool, markedVolumeLvol(volume));
        if (marked.isPresent()) {
            return marked.map(b -> new LocalVolume(volume, b.sizeBytes(), null));
        }
        if (lvols.bdev(pool, volumeLvol(volume)).isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(remark(pool, volume));
    }

    /** Renames the volume's lvol of before cluster ids to this cluster's name for it. */
    private synchronized LocalVolume remark(PoolConfig pool, String volume) {
        String marked = markedVolumeLvol(volume);
        if (lvols.bdev(pool, marked).isEmpty()) {
            try {
                client.renameLvol(alias(pool, volumeLvol(volume)), marked);
            } catch (SpdkException e) {
                // Renamed meanwhile (or gone) is settled by the look below; anything else is reported.
                if (lvols.bdev(pool, marked).isEmpty()) {
                    throw EngineException.transientFailure("volume " + volume + " was made before cluster ids ("
                            + alias(pool, volumeLvol(volume)) + ") and could not be renamed to carry this cluster's"
                            + " marker (" + marked + "): " + e.getMessage());
                }
            }
        }
        return lvols.bdev(pool, marked).map(b -> new LocalVolume(volume, b.sizeBytes(), null))
                .orElseThrow(() -> EngineException.transientFailure("SPDK renamed " + alias(pool, volumeLvol(volume))
                        + " to " + marked + " but bdev_get_bdevs does not list it"));
    }

    @Override
    public synchronized LocalVolume createVolume(PoolConfig pool, String volume, long sizeBytes, boolean thin,
            Content content) {
        Optional<LocalVolume> existing = findVolume(pool, volume);
        if (existing.isPresent()) {
            return existing.get();
        }
        String lvol = markedVolumeLvol(volume);
        if (content.isEmpty()) {
            client.createLvol(lvstore(pool), lvol, sizeBytes, thin);
        } else {
            String origin;
            if (content.snapshot() != null) {
                origin = snapshotLvolOf(pool, content.snapshot()).orElseThrow(() -> EngineException.transientFailure(
                        "snapshot " + content.snapshot() + " does not exist in lvstore " + lvstore(pool)));
            } else {
                // SPDK clones only snapshots: cut <vol>.origin from the source volume, then clone it.
                // The origin belongs to the new volume and is removed with it.
                if (findVolume(pool, content.volume()).isEmpty()) {
                    throw EngineException.transientFailure("source volume " + content.volume() + " does not exist"
                            + " in lvstore " + lvstore(pool));
                }
                origin = markedOriginLvol(volume);
                if (lvols.bdev(pool, origin).isEmpty()) {
                    client.snapshotLvol(alias(pool, markedVolumeLvol(content.volume())), origin);
                }
            }
            // A clone is always thin over its snapshot; SPDK has no thick clone.
            client.cloneSnapshot(alias(pool, origin), lvol);
        }
        LocalVolume created = findVolume(pool, volume).orElseThrow(() -> EngineException.transientFailure(
                "SPDK created lvol " + alias(pool, lvol) + " but bdev_get_bdevs does not list it"));
        if (created.sizeBytes() < sizeBytes) {
            return expandVolume(pool, volume, sizeBytes, thin);
        }
        return created;
    }

    @Override
    public synchronized LocalVolume expandVolume(PoolConfig pool, String volume, long sizeBytes, boolean thin) {
        LocalVolume current = findVolume(pool, volume).orElseThrow(() -> EngineException.transientFailure(
                "volume " + volume + " does not exist in lvstore " + lvstore(pool)));
        if (current.sizeBytes() >= sizeBytes) {
            return current;
        }
        client.resizeLvol(alias(pool, markedVolumeLvol(volume)), sizeBytes);
        return findVolume(pool, volume).orElseThrow();
    }

    /** Nothing to attach: the lvol is live as long as the target runs. */
    @Override
    public LocalVolume activate(PoolConfig pool, String volume) {
        return findVolume(pool, volume).orElseThrow(() -> EngineException.transientFailure(
                "volume " + volume + " does not exist in lvstore " + lvstore(pool)));
    }

    /**
     * On a deletion order of this cluster: its lvol, or the one of before cluster ids when it has
     * none (with both there, the old one is not this order's to judge and stays, unmarked). Another
     * cluster's lvol of the same name is never touched.
     */
    @Override
    public synchronized void deleteVolume(PoolConfig pool, String volume) {
        String marked = markedVolumeLvol(volume);
        if (lvols.bdev(pool, marked).isPresent()) {
            lvols.delete(pool, marked);
        } else {
            lvols.delete(pool, volumeLvol(volume));
        }
        // The origin snapshot of a volume clone; SPDK refuses while another clone still uses it,
        // which is not ours to break, so that refusal is left for the leftover scan.
        try {
            lvols.delete(pool, markedOriginLvol(volume));
        } catch (SpdkException e) {
            // Still the parent of the source volume and something else; the leftover scan retries.
        }
        // An origin named before cluster ids belonged to the volume this order deletes, once that
        // volume is gone under either name (deleting it beside its clone would fold it into the clone).
        if (lvols.bdev(pool, volumeLvol(volume)).isEmpty() && lvols.bdev(pool, marked).isEmpty()) {
            try {
                lvols.delete(pool, SpdkLvolNames.originLvol(volume));
            } catch (SpdkException e) {
                // As above: still shared; it stays.
            }
        }
    }

    // ---- snapshots ----

    /**
     * The lvol of a snapshot a work item of this cluster names: this cluster's, or one of before
     * cluster ids (which SPDK cannot rename: snapshots are read-only blobs).
     */
    private Optional<String> snapshotLvolOf(PoolConfig pool, String snapshot) {
        String marked = markedSnapshotLvol(snapshot);
        if (lvols.bdev(pool, marked).isPresent()) {
            return Optional.of(marked);
        }
        return lvols.bdev(pool, snapshotLvol(snapshot)).map(b -> snapshotLvol(snapshot));
    }

    @Override
    public Optional<LocalSnapshot> findSnapshot(PoolConfig pool, String snapshot) {
        return snapshotLvolOf(pool, snapshot).flatMap(lvol -> lvols.bdev(pool, lvol))
                .map(b -> new LocalSnapshot(snapshot, null, b.sizeBytes(), null));
    }

    @Override
    public synchronized LocalSnapshot createSnapshot(PoolConfig pool, String snapshot, String sourceVolume) {
        Optional<LocalSnapshot> existing = findSnapshot(pool, snapshot);
        if (existing.isPresent()) {
            return existing.get();
        }
        if (findVolume(pool, sourceVolume).isEmpty()) {
            throw EngineException.transientFailure("source volume " + sourceVolume + " does not exist in lvstore "
                    + lvstore(pool));
        }
        client.snapshotLvol(alias(pool, markedVolumeLvol(sourceVolume)), markedSnapshotLvol(snapshot));
        return findSnapshot(pool, snapshot).map(s -> new LocalSnapshot(s.name(), sourceVolume, s.sizeBytes(), null))
                .orElseThrow(() -> EngineException.transientFailure("SPDK created snapshot "
                        + alias(pool, markedSnapshotLvol(snapshot)) + " but bdev_get_bdevs does not list it"));
    }

    @Override
    public synchronized void deleteSnapshot(PoolConfig pool, String snapshot) {
        Optional<String> lvol = snapshotLvolOf(pool, snapshot);
        if (lvol.isPresent()) {
            lvols.delete(pool, lvol.get());
        }
    }

    // ---- inventory ----

    /**
     * This cluster's volumes and snapshots; an origin of this cluster whose volume is gone (under
     * either name) is a leftover; volumes of another cluster or of before cluster ids are
     * {@link Inventory#unowned()}. Others' snapshots and origins are nobody's business here.
     */
    @Override
    public Inventory inventory(PoolConfig pool) {
        String marker = prefix().substring(0, SpdkLvolNames.MARKER_LENGTH);
        Map<SpdkLvolNames.ParsedLvol, Long> sizes = new HashMap<>();
        List<SpdkLvolNames.ParsedLvol> all = lvols.list(pool, sizes);
        return SpdkInventory.of(marker, all, sizes, this::markedOriginLvol);
    }

    /** This cluster's lvol first: an orphan order names the volume, and only ours may be removed. */
    @Override
    public Optional<OrphanOwner> owner(PoolConfig pool, String volume) {
        if (lvols.bdev(pool, markedVolumeLvol(volume)).isPresent()) {
            return Optional.of(OrphanOwner.THIS_CLUSTER);
        }
        if (lvols.bdev(pool, volumeLvol(volume)).isPresent()) {
            return Optional.of(OrphanOwner.UNMARKED);
        }
        return lvols.list(pool, new HashMap<>()).stream().filter(p -> p.kind() == SpdkLvolNames.ParsedLvol.Kind.VOLUME
                && p.name().equals(volume) && p.marker() != null).findFirst().map(p -> OrphanOwner.OTHER_CLUSTER);
    }

    /**
     * Removes this cluster's lvol of the volume and nothing else; its clone origin, if any, is then
     * a leftover of this cluster and goes with the next leftover scan.
     */
    @Override
    public synchronized void removeOrphan(PoolConfig pool, String volume) {
        String marked = markedVolumeLvol(volume);
        if (lvols.bdev(pool, marked).isEmpty()) {
            Optional<OrphanOwner> owner = owner(pool, volume);
            throw EngineException.permanent("lvstore " + lvstore(pool) + " holds no lvol of volume " + volume
                    + " with this cluster's marker (" + marked + ")" + owner.map(o -> switch (o) {
                        case UNMARKED -> "; " + alias(pool, volumeLvol(volume)) + " carries no cluster marker";
                        case OTHER_CLUSTER -> "; the one there carries another cluster's marker";
                        default -> "";
                    }).orElse("") + "; it is never removed by Ferry");
        }
        lvols.delete(pool, marked);
    }

    /** Only an origin snapshot carrying this cluster's marker: the only kind of leftover this engine reports. */
    @Override
    public synchronized void removeLeftover(PoolConfig pool, String leftover) {
        Optional<SpdkLvolNames.ParsedLvol> p = SpdkLvolNames.parse(leftover);
        if (p.isEmpty() || p.get().kind() != SpdkLvolNames.ParsedLvol.Kind.ORIGIN
                || !leftover.equals(markedOriginLvol(p.get().name()))) {
            throw new IllegalArgumentException("not an SPDK leftover of this cluster's: " + leftover);
        }
        lvols.delete(pool, leftover);
    }
}
