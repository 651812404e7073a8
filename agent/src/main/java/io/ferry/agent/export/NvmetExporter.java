package io.ferry.agent.export;

import static io.ferry.agent.export.ConfigfsFiles.io;
import static io.ferry.agent.export.ConfigfsFiles.list;
import static io.ferry.agent.export.ConfigfsFiles.mkdir;
import static io.ferry.agent.export.ConfigfsFiles.read;
import static io.ferry.agent.export.ConfigfsFiles.removeDir;
import static io.ferry.agent.export.ConfigfsFiles.write;
import static io.ferry.agent.export.ConfigfsFiles.writeIfDifferent;

import io.ferry.model.ExportInfo;
import io.ferry.model.ExportSpec;
import io.ferry.model.HostSecret;
import io.ferry.model.NvmeAuth;
import io.ferry.model.Nqn;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Kernel NVMe-oF target exports through configfs ({@code /sys/kernel/config/nvmet}).
 *
 * <p>Layout per volume: {@code subsystems/<nqn>} with {@code attr_allow_any_host=0} and
 * {@code attr_serial}, one symlink per allowed host in {@code allowed_hosts} pointing at
 * {@code hosts/<hostnqn>}, namespace 1 whose {@code device_path} is the volume's device, and a
 * symlink in {@code ports/<id>/subsystems}. The namespace's UUID and NGUID are derived from the NQN
 * ({@link #namespaceUuid}), so a host reconnecting after the target rebooted finds the same namespace. Everything is read before it is written, so calling
 * {@link #export} again after a crash only adds what is missing. The root is a parameter, so the
 * same code runs against a plain directory tree in unit tests; on a plain tree the directories
 * configfs would create by itself are created explicitly.
 *
 * <p>nvmet reads the backing device's size only when the namespace is enabled; a grown LV stays
 * invisible to connected hosts until the target is told. {@code revalidate_size} (kernel 5.9 and
 * later) makes it re-read the size and, when it changed, send the hosts a namespace-attribute-changed
 * event, after which they rescan. The exporter remembers the size it last exported per volume and
 * revalidates when it differs; after a restart it knows nothing and revalidates once, which costs
 * nothing when the size did not change (the kernel sends no event then) and covers a crash between
 * growing the volume and re-exporting it.
 *
 * <p>With {@code nvmeAuth} on (the cluster's default), a host is linked into {@code allowed_hosts}
 * only after its {@code hosts/<nqn>} entry carries its DH-HMAC-CHAP pair ({@link NvmetHostAuth}).
 */
public final class NvmetExporter implements Exporter {

    public static final Path DEFAULT_ROOT = Path.of("/sys/kernel/config/nvmet");
    private static final Logger log = LoggerFactory.getLogger(NvmetExporter.class);

    private final Path root;
    private final VolumeNqns nqns;
    private final String address;
    private final int port;
    private final String portId;
    private final ExportSecrets secrets;
    /** Size of each volume when its namespace was last enabled or revalidated by this process. */
    private final Map<String, Long> exportedSizes = new ConcurrentHashMap<>();
    private final AtomicLong fences = new AtomicLong();

    public NvmetExporter(Path root, String nqnPrefix, String cluster, String address, int port, int portId) {
        this(root, nqnPrefix, cluster, address, port, portId, ExportSecrets.off());
    }

    public NvmetExporter(Path root, String nqnPrefix, String cluster, String address, int port, int portId,
            ExportSecrets secrets) {
        this.secrets = secrets;
        this.root = root;
        this.nqns = new VolumeNqns(nqnPrefix, cluster);
        this.address = address;
        this.port = port;
        this.portId = Integer.toString(portId);
    }

    @Override
    public boolean available() {
        return Files.isDirectory(root.resolve("subsystems")) && Files.isDirectory(root.resolve("ports"));
    }

    @Override
    public ExportInfo export(String volume, String devicePath, long sizeBytes, ExportSpec spec) {
        // Decided before anything changes: a host is never linked without its pair when auth is on.
        NvmeAuth auth = secrets.mode();
        Map<String, HostSecret> pairs = secrets.pairsFor(volume, spec, auth);
        String nqn = Files.isDirectory(subsystem(nqns.legacy(volume))) ? nqns.legacy(volume) : nqns.current(volume);
        String serial = Nqn.serialForVolume(volume);
        Path sub = subsystem(nqn);
        mkdir(sub);
        // Access control first: the subsystem must never be reachable by any host, even briefly.
        writeIfDifferent(sub.resolve("attr_allow_any_host"), "0");
        writeIfDifferent(sub.resolve("attr_serial"), serial);

        Path allowed = sub.resolve("allowed_hosts");
        mkdir(allowed);
        List<Path> revoked = list(allowed).stream()
                .filter(link -> !spec.allowedHostNqns().contains(link.getFileName().toString())).toList();
        if (!revoked.isEmpty()) {
            fence(volume, nqn, revoked);
        }
        for (String host : spec.allowedHostNqns()) {
            Path hostDir = root.resolve("hosts").resolve(Nqn.validate(host));
            mkdir(hostDir);
            if (auth.on()) {
                NvmetHostAuth.requireAuth(volume, hostDir);
                NvmetHostAuth.setPair(hostDir, pairs.get(host), auth);
            } else {
                NvmetHostAuth.clearPair(hostDir);
            }
            Path link = allowed.resolve(host);
            if (!Files.exists(link, LinkOption.NOFOLLOW_LINKS)) {
                io(() -> Files.createSymbolicLink(link, hostDir));
            }
        }

        Path ns = sub.resolve("namespaces").resolve("1");
        mkdir(ns);
        boolean enabled = "1".equals(read(ns.resolve("enable")));
        if (!devicePath.equals(read(ns.resolve("device_path")))) {
            // A loop device can get another number after a reboot; the kernel refuses to change
            // the path of an enabled namespace, so disable it around the change.
            if (enabled) {
                write(ns.resolve("enable"), "0");
                enabled = false;
            }
            write(ns.resolve("device_path"), devicePath);
        }
        String uuid = namespaceUuid(nqn);
        if (!enabled) {
            // nvmet gives a new namespace a random UUID; after the target node reboots, a host still
            // connected (reconnecting within its ctrl-loss-tmo) would see "identifiers changed for
            // nsid 1", drop the namespace and fail every I/O. A UUID and NGUID derived from the NQN
            // stay the same across reboots. The kernel takes them only while the namespace is disabled.
            writeIfDifferent(ns.resolve("device_uuid"), uuid);
            writeIfDifferent(ns.resolve("device_nguid"), uuid);
            // Enabling opens the device and reads its size: nothing to revalidate.
            write(ns.resolve("enable"), "1");
            exportedSizes.put(volume, sizeBytes);
        } else if (!Long.valueOf(sizeBytes).equals(exportedSizes.get(volume))) {
            revalidate(volume, ns, sizeBytes);
        }

        Path portDir = root.resolve("ports").resolve(portId);
        mkdir(portDir);
        writeIfDifferent(portDir.resolve("addr_trtype"), "tcp");
        writeIfDifferent(portDir.resolve("addr_adrfam"), address.contains(":") ? "ipv6" : "ipv4");
        writeIfDifferent(portDir.resolve("addr_traddr"), address);
        writeIfDifferent(portDir.resolve("addr_trsvcid"), Integer.toString(port));
        Path portSubs = portDir.resolve("subsystems");
        mkdir(portSubs);
        Path portLink = portSubs.resolve(nqn);
        if (!Files.exists(portLink, LinkOption.NOFOLLOW_LINKS)) {
            io(() -> Files.createSymbolicLink(portLink, sub));
        }
        return ExportInfo.tcp(nqn, address, port, serial, spec.allowedHostNqns());
    }

    /**
     * nvmet keeps one {@code hosts/<nqn>} entry per host, shared by every subsystem that allows it, so
     * one write serves them all. Only an entry that exists is touched, only while authentication is on
     * and only on a kernel that can authenticate: the next export creates a missing entry with the
     * pair {@link ExportSecrets} gives.
     */
    @Override
    public void setHostPair(HostSecret pair) {
        NvmeAuth auth = secrets.mode();
        Path hostDir = root.resolve("hosts").resolve(Nqn.validate(pair.hostNqn()));
        if (auth.on() && Files.isDirectory(hostDir) && NvmetHostAuth.canAuthenticate(hostDir)) {
            NvmetHostAuth.setPair(hostDir, pair, auth);
        }
    }

    /**
     * Cuts off hosts that are no longer allowed. nvmet checks {@code allowed_hosts} only when a host
     * connects: removing a host's link leaves its existing connection, and its writes, alive, so a
     * detached consumer (partitioned, or simply not yet unmounted) would go on writing while the next
     * one mounts the same filesystem. Unlinking the subsystem from its ports deletes every controller
     * of it on them; the port link comes back further down in {@link #export}, and hosts still allowed
     * reconnect by themselves (I/O waits, within their controller-loss timeout).
     *
     * <p>The port links go first, the host links second: a crash in between leaves the revoked links
     * in place, so the next export cuts again; the other order could leave a revoked host connected
     * with nothing left to say so. This runs before any new host is allowed, so a volume moving from
     * one consumer to another is never reachable by both.
     */
    private void fence(String volume, String nqn, List<Path> revoked) {
        for (Path portDir : list(root.resolve("ports"))) {
            Path link = portDir.resolve("subsystems").resolve(nqn);
            io(() -> Files.deleteIfExists(link));
        }
        for (Path link : revoked) {
            io(() -> Files.deleteIfExists(link));
        }
        fences.incrementAndGet();
        log.info("volume {}: host(s) {} no longer allowed; their connections to {} were cut", volume,
                revoked.stream().map(p -> p.getFileName().toString()).toList(), nqn);
    }

    /** How many times this exporter cut revoked hosts off (for tests; each cut is also logged). */
    long fences() {
        return fences.get();
    }

    /**
     * The namespace's UUID (also its NGUID): name-based on the subsystem's NQN (SHA-256, version and
     * variant bits of RFC 9562's version 8), so it is the same on every export of the volume and
     * different for every volume and NQN prefix (a host refuses two subsystems whose namespaces
     * share identifiers). Written the way configfs prints it.
     */
    static String namespaceUuid(String nqn) {
        byte[] h;
        try {
            h = MessageDigest.getInstance("SHA-256").digest(nqn.getBytes(StandardCharsets.US_ASCII));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required by every Java platform", e);
        }
        h[6] = (byte) ((h[6] & 0x0f) | 0x80);
        h[8] = (byte) ((h[8] & 0x3f) | 0x80);
        StringBuilder b = new StringBuilder(36);
        for (int i = 0; i < 16; i++) {
            if (i == 4 || i == 6 || i == 8 || i == 10) {
                b.append('-');
            }
            b.append(String.format("%02x", h[i] & 0xff));
        }
        return b.toString();
    }

    /** Makes the kernel re-read the namespace's device size and tell connected hosts if it changed. */
    private void revalidate(String volume, Path ns, long sizeBytes) {
        Path attr = ns.resolve("revalidate_size");
        if (!Files.exists(attr)) {
            // Kernels before 5.9 lack it; hosts then see the new size only on their own rescan
            // (nvme ns-rescan). Not a reason to fail the export.
            log.warn("{} does not exist (kernel older than 5.9?): connected hosts of volume {} will not be told"
                    + " that it is now {} bytes until they rescan", attr, volume, sizeBytes);
        } else {
            write(attr, "1");
            log.info("volume {}: nvmet namespace revalidated at {} bytes", volume, sizeBytes);
        }
        exportedSizes.put(volume, sizeBytes);
    }

    @Override
    public void unexport(String volume) {
        exportedSizes.remove(volume);
        for (String nqn : nqns.all(volume)) {
            unexport(nqn, subsystem(nqn));
        }
    }

    private Path subsystem(String nqn) {
        return root.resolve("subsystems").resolve(nqn);
    }

    private void unexport(String nqn, Path sub) {
        // Unlink from every port first so that no host can connect while the rest is torn down.
        for (Path portDir : list(root.resolve("ports"))) {
            Path link = portDir.resolve("subsystems").resolve(nqn);
            io(() -> Files.deleteIfExists(link));
        }
        if (!Files.isDirectory(sub)) {
            return;
        }
        for (Path link : list(sub.resolve("allowed_hosts"))) {
            io(() -> Files.deleteIfExists(link));
        }
        for (Path ns : list(sub.resolve("namespaces"))) {
            if (Files.exists(ns.resolve("enable"))) {
                write(ns.resolve("enable"), "0");
            }
            removeDir(ns);
        }
        removeDir(sub);
    }

    @Override
    public List<Exported> exports() {
        List<Exported> exports = new ArrayList<>();
        for (Path sub : list(root.resolve("subsystems"))) {
            nqns.exported(sub.getFileName().toString()).ifPresent(exports::add);
        }
        return exports;
    }
}
