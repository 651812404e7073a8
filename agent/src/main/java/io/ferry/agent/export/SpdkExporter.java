package io.ferry.agent.export;

import io.ferry.agent.spdk.SpdkClient;
import io.ferry.agent.spdk.SpdkException;
import io.ferry.model.ExportInfo;
import io.ferry.model.ExportSpec;
import io.ferry.model.FailureReason;
import io.ferry.model.HostSecret;
import io.ferry.model.NvmeAuth;
import io.ferry.model.Nqn;
import io.ferry.model.OrphanOwner;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.BooleanSupplier;

/**
 * NVMe/TCP exports of SPDK lvols through the SPDK target's own NVMe-oF subsystems.
 *
 * <p>Per volume: subsystem {@code <prefix>:<cluster id>:vol:<vol>} (the NQN and serial {@link NvmetExporter}
 * uses, from {@link Nqn}), model {@code Ferry}, created with {@code allow_any_host=false}; one
 * {@code nvmf_subsystem_add_host} per allowed host and {@code nvmf_subsystem_remove_host} for any
 * other; namespace 1 backed by the lvol's bdev; a TCP listener on the node's data address and the
 * export port. The subsystem is read ({@code nvmf_get_subsystems}) before anything is written, so a
 * repeat after a crash only adds what is missing. Unexport is {@code nvmf_delete_subsystem} when the
 * subsystem exists (SPDK answers a missing one with a generic "Invalid parameters", so absence is
 * checked first, not inferred from the error).
 *
 * <p>With {@code nvmeAuth} on, a host is added only together with its DH-HMAC-CHAP keys
 * ({@code dhchap_key}, and {@code dhchap_ctrlr_key} in bidirectional mode), which are names of keys
 * in SPDK's keyring ({@link SpdkKeyring}): no RPC carries key material. A changed pair goes on with
 * {@code nvmf_subsystem_set_keys}, which keeps live connections (SPDK checks keys when a host
 * authenticates). A host removed, or a subsystem deleted, releases the keys nothing uses any more.
 * This needs {@code nvmf_subsystem_set_keys}, so SPDK 24.09 or later; an older target makes the export fail with {@link FailureReason#NVME_AUTH_UNSUPPORTED}
 * before anything is changed. Digests and DH groups are left to SPDK's defaults (every digest and
 * group allowed): {@code nvmf_set_config} is accepted only before the target's subsystems start, so
 * an agent cannot set them on a running target, and the defaults accept what Ferry's hosts offer.
 */
public final class SpdkExporter implements Exporter {

    static final String MODEL = "Ferry";
    static final int NSID = 1;
    /** SPDK 24.09 added {@code nvmf_subsystem_set_keys}; 24.05 had keys only at add_host, 24.01 the keyring. */
    static final int AUTH_MIN_MAJOR = 24;
    static final int AUTH_MIN_MINOR = 9;
    /** Where, under the agent's state directory, key files for SPDK's keyring are kept. */
    public static final String KEY_DIR = "spdk-keys";
    private static final Logger log = LoggerFactory.getLogger(SpdkExporter.class);

    private final SpdkClient client;
    private final VolumeNqns nqns;
    private final String address;
    private final int port;
    private final BooleanSupplier available;
    private final ExportSecrets secrets;
    private final SpdkKeyring keyring;

    /** Without authentication: {@code available} is the SPDK engine's liveness probe. */
    public SpdkExporter(SpdkClient client, String nqnPrefix, String cluster, String address, int port,
            BooleanSupplier available) {
        this(client, nqnPrefix, cluster, address, port, available, ExportSecrets.off(), null);
    }

    /**
     * {@code keyDir} is where key files are written for SPDK to read (under the agent's state
     * directory); null only with {@code secrets} that are always off.
     */
    public SpdkExporter(SpdkClient client, String nqnPrefix, String cluster, String address, int port,
            BooleanSupplier available, ExportSecrets secrets, Path keyDir) {
        this.client = client;
        this.nqns = new VolumeNqns(nqnPrefix, cluster);
        this.address = address;
        this.port = port;
        this.available = available;
        this.secrets = secrets;
        this.keyring = keyDir == null ? null : new SpdkKeyring(client, keyDir, cluster);
    }

    @Override
    public boolean available() {
        return available.getAsBoolean();
    }

    /**
     * {@code bdev} is the lvol's bdev name or alias ({@code <lvstore>/<lvol>}), not a device path.
     * {@code sizeBytes} is not needed: SPDK tells connected hosts itself when an lvol grows.
     */
    @Override
    public synchronized ExportInfo export(String volume, String bdev, long sizeBytes, ExportSpec spec) {
        // Decided before anything changes: a host is never added without its keys when auth is on.
        NvmeAuth auth = secrets.mode();
        if (auth.on()) {
            requireAuthSupport("volume " + volume + " cannot be exported to " + spec.consumerNode());
        }
        Map<String, HostSecret> pairs = secrets.pairsFor(volume, spec, auth);
        // One listing answers both names: an export of before cluster ids keeps its name.
        List<SpdkClient.Subsystem> listed = client.subsystems();
        Optional<SpdkClient.Subsystem> existing = find(listed, nqns.legacy(volume));
        String nqn = existing.isPresent() ? nqns.legacy(volume) : nqns.current(volume);
        if (existing.isEmpty()) {
            existing = find(listed, nqn);
        }
        String serial = Nqn.serialForVolume(volume);
        if (bdev == null) {
            throw new IllegalArgumentException("volume " + volume + " has no SPDK bdev to export");
        }
        List<SpdkClient.Bdev> found = client.getBdevs(bdev);
        if (found.isEmpty()) {
            throw new IllegalStateException("cannot export volume " + volume + ": bdev " + bdev
                    + " does not exist in the SPDK target");
        }
        SpdkClient.Bdev target = found.get(0);

        if (existing.isEmpty()) {
            client.createSubsystem(nqn, serial, MODEL);
            existing = find(nqn);
        }
        SpdkClient.Subsystem sub = existing.orElseThrow(() -> new IllegalStateException(
                "SPDK created subsystem " + nqn + " but nvmf_get_subsystems does not list it"));
        // Access control first: the host list is what keeps everyone else out.
        if (sub.allowAnyHost()) {
            client.setAllowAnyHost(nqn, false);
        }
        boolean cleared = false;
        for (String host : spec.allowedHostNqns()) {
            boolean present = sub.hosts().contains(Nqn.validate(host));
            if (!auth.on()) {
                if (!present) {
                    client.addHost(nqn, host);
                } else if (!sub.keysOf(host).equals(SpdkClient.HostKeys.NONE)) {
                    // Keys left from a time authentication was on would refuse the host's next
                    // connections, which come without keys; none given clears them.
                    client.setKeys(nqn, host, SpdkClient.HostKeys.NONE);
                    cleared = true;
                    log.info("host {} on {} connects without authentication now (nvmeAuth off; live connections kept)",
                            host, nqn);
                }
                continue;
            }
            SpdkClient.HostKeys keys = keyring().ensure(pairs.get(host), auth);
            if (!present) {
                client.addHost(nqn, host, keys);
            } else if (!sub.keysOf(host).equals(keys)) {
                setKeys(nqn, host, keys);
            }
        }
        boolean removed = false;
        for (String host : sub.hosts()) {
            if (!spec.allowedHostNqns().contains(host)) {
                client.removeHost(nqn, host);
                removed = true;
            }
        }
        if (auth.on() || cleared || (removed && !sub.hostKeys().isEmpty())) {
            prune();
        }

        String current = sub.namespaces().get(NSID);
        boolean sameBdev = current != null && (current.equals(target.name()) || current.equals(bdev)
                || target.aliases().contains(current));
        if (current != null && !sameBdev) {
            client.removeNamespace(nqn, NSID);
        }
        if (!sameBdev) {
            client.addNamespace(nqn, bdev, NSID);
        }
        if (!sub.listeners().contains(address + ":" + port)) {
            client.addListener(nqn, address, port);
        }
        return ExportInfo.tcp(nqn, address, port, serial, spec.allowedHostNqns());
    }

    @Override
    public synchronized void unexport(String volume) {
        List<SpdkClient.Subsystem> listed = client.subsystems();
        boolean keysReleased = false;
        for (String nqn : nqns.all(volume)) {
            Optional<SpdkClient.Subsystem> sub = find(listed, nqn);
            if (sub.isEmpty()) {
                continue;
            }
            keysReleased |= !sub.get().hostKeys().isEmpty();
            try {
                client.deleteSubsystem(nqn);
            } catch (SpdkException e) {
                // Gone between the look and the delete is still gone.
                if (find(nqn).isPresent()) {
                    throw e;
                }
            }
        }
        if (keysReleased) {
            // The subsystem's hosts held keys; those no other subsystem uses go with it.
            prune();
        }
    }

    /**
     * Sets host {@code pair.hostNqn()}'s DH-HMAC-CHAP pair to {@code pair} on every subsystem of this
     * cluster that allows that host (the SPDK counterpart of rewriting an nvmet {@code hosts/<nqn>}
     * entry), and releases the keys of the pair it replaces. Live connections stay: SPDK checks keys
     * when a host (re)authenticates. Returns the subsystems changed. Does nothing while
     * {@code nvmeAuth} is off; fails with {@link FailureReason#NVME_AUTH_UNSUPPORTED} on a target
     * older than SPDK 24.09.
     */
    public synchronized List<String> changeHostPair(HostSecret pair) {
        NvmeAuth auth = secrets.mode();
        if (!auth.on()) {
            return List.of();
        }
        requireAuthSupport("the NVMe authentication keys of host " + pair.hostNqn() + " (node " + pair.node()
                + ") cannot be set");
        SpdkClient.HostKeys keys = keyring().ensure(pair, auth);
        List<String> changed = new ArrayList<>();
        for (SpdkClient.Subsystem s : client.subsystems()) {
            boolean mine = nqns.exported(s.nqn()).filter(e -> e.owner() != OrphanOwner.OTHER_CLUSTER).isPresent();
            if (mine && s.hosts().contains(pair.hostNqn()) && !s.keysOf(pair.hostNqn()).equals(keys)) {
                setKeys(s.nqn(), pair.hostNqn(), keys);
                changed.add(s.nqn());
            }
        }
        prune();
        return changed;
    }

    @Override
    public void setHostPair(HostSecret pair) {
        changeHostPair(pair);
    }

    private void setKeys(String nqn, String host, SpdkClient.HostKeys keys) {
        client.setKeys(nqn, host, keys);
        log.info("host {} on {} now authenticates with key {}{} (live connections kept)", host, nqn,
                keys.dhchapKey(), keys.ctrlrKey() == null ? "" : " and controller key " + keys.ctrlrKey());
    }

    private void prune() {
        if (keyring == null) {
            return;
        }
        List<String> removed = keyring().prune(client.subsystems());
        if (!removed.isEmpty()) {
            log.info("SPDK keys no host uses any more were removed with their files: {}", removed);
        }
    }

    private SpdkKeyring keyring() {
        if (keyring == null) {
            throw new IllegalStateException("this SPDK exporter was built without a key directory, so it cannot"
                    + " require NVMe authentication; build it with the agent's state directory");
        }
        return keyring;
    }

    /** The keyring, keys on add_host and set_keys all exist from SPDK 24.09 on; older targets get a clear refusal. */
    private void requireAuthSupport(String what) {
        SpdkClient.Version v = client.version();
        if (!v.atLeast(AUTH_MIN_MAJOR, AUTH_MIN_MINOR)) {
            throw new NvmeAuthException(FailureReason.NVME_AUTH_UNSUPPORTED, what + ": the cluster requires NVMe in-band"
                    + " authentication (nvmeAuth " + secrets.mode().value() + " in config/global) and this node's SPDK"
                    + " target reports \"" + v.text() + "\"; Ferry sets DH-HMAC-CHAP keys on SPDK v"
                    + AUTH_MIN_MAJOR + "." + String.format("%02d", AUTH_MIN_MINOR) + " or later (nvmf_subsystem_set_keys)."
                    + " Nothing was exported. Upgrade SPDK, or set \"nvmeAuth\": \"off\" in config/global to export"
                    + " without authentication");
        }
    }

    @Override
    public List<Exported> exports() {
        List<Exported> exports = new ArrayList<>();
        for (SpdkClient.Subsystem s : client.subsystems()) {
            nqns.exported(s.nqn()).ifPresent(exports::add);
        }
        return exports;
    }

    private Optional<SpdkClient.Subsystem> find(String nqn) {
        return find(client.subsystems(), nqn);
    }

    private static Optional<SpdkClient.Subsystem> find(List<SpdkClient.Subsystem> listed, String nqn) {
        return listed.stream().filter(s -> s.nqn().equals(nqn)).findFirst();
    }
}
