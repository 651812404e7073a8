package io.ferry.agent.engine;

import io.ferry.agent.spdk.SpdkClient;
import io.ferry.agent.spdk.SpdkException;
import io.ferry.model.Condition;
import io.ferry.model.Engine;
import io.ferry.model.Names;
import io.ferry.model.OrphanOwner;
import io.ferry.model.PoolConfig;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.LongSupplier;

/**
 * SPDK logical volumes in an lvstore, driven over the target's JSON-RPC socket.
 *
 * <p>Names inside the lvstore (SPDK addresses an lvol as {@code <lvstore>/<lvol>}): volume
 * {@code <vol>}, snapshot {@code <snap>.snap}, and {@code <vol>.origin} for the snapshot a volume
 * clone is cut from. Ferry names are DNS labels, so a '.' never appears in them and the three
 * kinds cannot collide. SPDK limits lvol names to 63 bytes; a name that would be longer keeps its
 * first characters and gets an 8-hex-digit hash of the full name before the suffix (still
 * deterministic, but inventory cannot map it back, so such objects are reported as neither volumes
 * nor snapshots).
 *
 * <p>Device path: an lvol is an SPDK bdev in the target's user-space process, not a kernel block
 * device, so {@link LocalVolume#devicePath()} is always null. Remote consumers use the NVMe/TCP
 * export ({@code SpdkExporter}); a local consumer would have to connect to a loopback export,
 * which the agent does not create, and the volume status says so.
 *
 * <p>Every method looks before it acts, so a repeat after a crash only does what is missing.
 * Compound operations (snapshot then clone) are serialized per engine instance.
 */
public final class SpdkEngine implements VolumeEngine {

    /** SPDK_LVOL_NAME_MAX is 64 bytes including the terminating NUL. */
    static final int MAX_LVOL_NAME = 63;
    static final String SNAPSHOT_SUFFIX = ".snap";
    static final String ORIGIN_SUFFIX = ".origin";

    private final SpdkClient client;
    private final Path socket;
    private final Duration probeInterval;
    private final LongSupplier nanoClock;
    private volatile boolean lastProbe;
    private volatile long lastProbeAt;
    private volatile boolean probed;

    public SpdkEngine(SpdkClient client, Path socket, Duration probeInterval) {
        this(client, socket, probeInterval, System::nanoTime);
    }

    SpdkEngine(SpdkClient client, Path socket, Duration probeInterval, LongSupplier nanoClock) {
        this.client = client;
        this.socket = socket;
        this.probeInterval = probeInterval;
        this.nanoClock = nanoClock;
    }

    /**
     * SPDK lvols carry no cluster marker yet (their names are the volume names, and renaming them
     * would orphan every existing export): the id is kept for when they do, and until then no lvol
     * is ever removed on an operator's orphan order.
     */
    @Override
    public void bindCluster(String clusterId) {
        // Nothing to mark with yet; see removeOrphan.
    }

    @Override
    public Optional<OrphanOwner> owner(PoolConfig pool, String volume) {
        return findVolume(pool, volume).map(v -> OrphanOwner.UNMARKED);
    }

    @Override
    public void removeOrphan(PoolConfig pool, String volume) {
        throw EngineException.permanent("SPDK lvols carry no cluster ownership marker yet, so " + alias(pool,
                volumeLvol(volume)) + " cannot be proven this cluster's; remove it with bdev_lvol_delete if it is");
    }

    /** The client, shared with the SPDK exporter (one socket, one call at a time). */
    public SpdkClient client() {
        return client;
    }

    @Override
    public Engine kind() {
        return Engine.SPDK;
    }

    /**
     * True when the socket exists and the target answers {@code spdk_get_version}. The answer is
     * cached for the probe interval, because the agent asks before every reconcile.
     */
    @Override
    public boolean available() {
        long now = nanoClock.getAsLong();
        if (probed && now - lastProbeAt < probeInterval.toNanos()) {
            return lastProbe;
        }
        boolean ok;
        if (socket == null || !Files.exists(socket)) {
            ok = false;
        } else {
            try {
                client.getVersion();
                ok = true;
            } catch (SpdkException e) {
                ok = false;
            }
        }
        lastProbe = ok;
        lastProbeAt = now;
        probed = true;
        return ok;
    }

    // ---- names ----

    public static String volumeLvol(String volume) {
        return lvolName(Names.volumeName(volume), "");
    }

    public static String snapshotLvol(String snapshot) {
        return lvolName(Names.snapshotName(snapshot), SNAPSHOT_SUFFIX);
    }

    public static String originLvol(String volume) {
        return lvolName(Names.volumeName(volume), ORIGIN_SUFFIX);
    }

    static String lvolName(String base, String suffix) {
        String full = base + suffix;
        if (full.length() <= MAX_LVOL_NAME) {
            return full;
        }
        String hash = sha256Hex(base).substring(0, 8);
        return base.substring(0, MAX_LVOL_NAME - suffix.length() - hash.length() - 1) + "-" + hash + suffix;
    }

    private static String lvstore(PoolConfig pool) {
        String lvs = pool.source().lvstore();
        if (lvs == null) {
            throw EngineException.permanent("pool " + pool.name() + " has no source.lvstore");
        }
        return lvs;
    }

    /** The bdev alias SPDK gives an lvol: {@code <lvstore>/<lvol>}. */
    static String alias(PoolConfig pool, String lvol) {
        return lvstore(pool) + "/" + lvol;
    }

    /** What an exporter puts in the NVMe-oF namespace: the lvol's bdev alias. */
    @Override
    public String exportSource(PoolConfig pool, LocalVolume volume) {
        return alias(pool, volumeLvol(volume.name()));
    }

    // ---- pool ----

    @Override
    public synchronized void preparePool(PoolConfig pool) {
        String lvs = lvstore(pool);
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

    @Override
    public PoolState poolState(PoolConfig pool) {
        String lvs = lvstore(pool);
        Optional<SpdkClient.Lvstore> found;
        try {
            found = client.getLvstore(lvs);
        } catch (SpdkException e) {
            return PoolState.unavailable("SpdkUnreachable", e.getMessage());
        }
        if (found.isEmpty()) {
            return PoolState.unavailable("LvstoreMissing", "lvstore " + lvs + " does not exist in the SPDK target"
                    + (pool.prepare() ? "" : " and the pool does not set prepare"));
        }
        SpdkClient.Lvstore l = found.get();
        return new PoolState(l.capacityBytes(), l.freeBytes(), null, null,
                List.of(Condition.of(Condition.AVAILABLE, true, "LvstoreOnline",
                        "lvstore " + lvs + " (" + l.uuid() + ") on bdev " + l.baseBdev() + ", cluster "
                                + l.clusterSize() + " bytes")), true);
    }

    // ---- volumes ----

    private Optional<SpdkClient.Bdev> bdev(PoolConfig pool, String lvol) {
        List<SpdkClient.Bdev> found = client.getBdevs(alias(pool, lvol));
        return found.isEmpty() ? Optional.empty() : Optional.of(found.get(0));
    }

    @Override
    public Optional<LocalVolume> findVolume(PoolConfig pool, String volume) {
        return bdev(pool, volumeLvol(volume)).map(b -> new LocalVolume(volume, b.sizeBytes(), null));
    }

    @Override
    public synchronized LocalVolume createVolume(PoolConfig pool, String volume, long sizeBytes, boolean thin,
            Content content) {
        Optional<LocalVolume> existing = findVolume(pool, volume);
        if (existing.isPresent()) {
            return existing.get();
        }
        String lvol = volumeLvol(volume);
        if (content.isEmpty()) {
            client.createLvol(lvstore(pool), lvol, sizeBytes, thin);
        } else {
            String origin;
            if (content.snapshot() != null) {
                origin = snapshotLvol(content.snapshot());
                if (bdev(pool, origin).isEmpty()) {
                    throw EngineException.transientFailure("snapshot " + content.snapshot() + " does not exist in"
                            + " lvstore " + lvstore(pool));
                }
            } else {
                // SPDK clones only snapshots: cut <vol>.origin from the source volume, then clone it.
                // The origin belongs to the new volume and is removed with it.
                if (bdev(pool, volumeLvol(content.volume())).isEmpty()) {
                    throw EngineException.transientFailure("source volume " + content.volume() + " does not exist"
                            + " in lvstore " + lvstore(pool));
                }
                origin = originLvol(volume);
                if (bdev(pool, origin).isEmpty()) {
                    client.snapshotLvol(alias(pool, volumeLvol(content.volume())), origin);
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
        client.resizeLvol(alias(pool, volumeLvol(volume)), sizeBytes);
        return findVolume(pool, volume).orElseThrow();
    }

    /** Nothing to attach: the lvol is live as long as the target runs. */
    @Override
    public LocalVolume activate(PoolConfig pool, String volume) {
        return findVolume(pool, volume).orElseThrow(() -> EngineException.transientFailure(
                "volume " + volume + " does not exist in lvstore " + lvstore(pool)));
    }

    @Override
    public synchronized void deleteVolume(PoolConfig pool, String volume) {
        deleteLvol(pool, volumeLvol(volume));
        // The origin snapshot of a volume clone; SPDK refuses while another clone still uses it,
        // which is not ours to break, so that refusal is left for the orphan scan.
        try {
            deleteLvol(pool, originLvol(volume));
        } catch (SpdkException e) {
            // Still the parent of the source volume and something else; the leftover scan retries.
        }
    }

    private void deleteLvol(PoolConfig pool, String lvol) {
        if (bdev(pool, lvol).isEmpty()) {
            return;
        }
        try {
            client.deleteLvol(alias(pool, lvol));
        } catch (SpdkException e) {
            if (!e.notFound()) {
                throw e;
            }
        }
    }

    // ---- snapshots ----

    @Override
    public Optional<LocalSnapshot> findSnapshot(PoolConfig pool, String snapshot) {
        return bdev(pool, snapshotLvol(snapshot)).map(b -> new LocalSnapshot(snapshot, null, b.sizeBytes(), null));
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
        client.snapshotLvol(alias(pool, volumeLvol(sourceVolume)), snapshotLvol(snapshot));
        return findSnapshot(pool, snapshot).map(s -> new LocalSnapshot(s.name(), sourceVolume, s.sizeBytes(), null))
                .orElseThrow(() -> EngineException.transientFailure("SPDK created snapshot "
                        + alias(pool, snapshotLvol(snapshot)) + " but bdev_get_bdevs does not list it"));
    }

    @Override
    public synchronized void deleteSnapshot(PoolConfig pool, String snapshot) {
        deleteLvol(pool, snapshotLvol(snapshot));
    }

    // ---- inventory ----

    /**
     * This lvstore's lvols (bdevs whose alias starts with {@code <lvstore>/}): plain names are
     * volumes, {@code .snap} names snapshots, and an {@code .origin} whose volume is gone is a
     * leftover.
     */
    @Override
    public Inventory inventory(PoolConfig pool) {
        String prefix = lvstore(pool) + "/";
        List<LocalVolume> volumes = new ArrayList<>();
        List<LocalSnapshot> snapshots = new ArrayList<>();
        List<String> origins = new ArrayList<>();
        Set<String> volumeNames = new HashSet<>();
        for (SpdkClient.Bdev b : client.getBdevs(null)) {
            for (String alias : b.aliases()) {
                if (!alias.startsWith(prefix)) {
                    continue;
                }
                String lvol = alias.substring(prefix.length());
                if (lvol.endsWith(SNAPSHOT_SUFFIX) && valid(lvol, SNAPSHOT_SUFFIX, true)) {
                    snapshots.add(new LocalSnapshot(strip(lvol, SNAPSHOT_SUFFIX), null, b.sizeBytes(), null));
                } else if (lvol.endsWith(ORIGIN_SUFFIX) && valid(lvol, ORIGIN_SUFFIX, false)) {
                    origins.add(strip(lvol, ORIGIN_SUFFIX));
                } else if (Names.isValidVolumeName(lvol)) {
                    volumes.add(new LocalVolume(lvol, b.sizeBytes(), null));
                    volumeNames.add(lvol);
                }
            }
        }
        List<String> leftovers = new ArrayList<>();
        for (String v : origins) {
            if (!volumeNames.contains(v)) {
                leftovers.add(originLvol(v));
            }
        }
        return new Inventory(volumes, snapshots, leftovers);
    }

    private static String strip(String lvol, String suffix) {
        return lvol.substring(0, lvol.length() - suffix.length());
    }

    private static boolean valid(String lvol, String suffix, boolean snapshot) {
        String base = strip(lvol, suffix);
        return snapshot ? Names.isValidSnapshotName(base) && snapshotLvol(base).equals(lvol)
                : Names.isValidVolumeName(base) && originLvol(base).equals(lvol);
    }

    @Override
    public synchronized void removeLeftover(PoolConfig pool, String leftover) {
        if (!leftover.endsWith(ORIGIN_SUFFIX)) {
            throw new IllegalArgumentException("not an SPDK leftover of Ferry's: " + leftover);
        }
        deleteLvol(pool, leftover);
    }

    private static String sha256Hex(String s) {
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
            StringBuilder b = new StringBuilder();
            for (byte x : h) {
                b.append(String.format("%02x", x & 0xff));
            }
            return b.toString();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
