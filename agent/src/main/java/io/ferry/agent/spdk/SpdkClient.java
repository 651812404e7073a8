package io.ferry.agent.spdk;

import static io.ferry.agent.spdk.SpdkRpc.JSON;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * JSON-RPC 2.0 client for the SPDK target's Unix socket ({@code /var/tmp/spdk.sock} by default).
 * Parameter names follow SPDK's own RPC definitions (python/spdk/rpc/lvol.py, nvmf.py, bdev.py) of
 * the 23.x/24.x releases, where sizes are given as {@code size_in_mib}. Each method is one call
 * over {@link SpdkRpc}, which says how calls travel; methods block, so call them from workers.
 */
public final class SpdkClient {

    private final SpdkRpc rpc;

    public SpdkClient(Path socket, Duration timeout) {
        this.rpc = new SpdkRpc(socket, timeout);
    }

    // ---- lvols ----

    /** Creates an lvol; returns its bdev name (a UUID). SPDK rounds the size up to whole clusters. */
    public String createLvol(String lvstore, String name, long sizeBytes, boolean thin) {
        ObjectNode p = JSON.createObjectNode().put("lvol_name", name).put("size_in_mib", mib(sizeBytes))
                .put("lvs_name", lvstore);
        if (thin) {
            p.put("thin_provision", true);
        }
        return rpc.call("bdev_lvol_create", p).asText();
    }

    /** {@code bdev} is an alias {@code <lvstore>/<lvol>} or a bdev name. */
    public void deleteLvol(String bdev) {
        rpc.call("bdev_lvol_delete", JSON.createObjectNode().put("name", bdev));
    }

    public void resizeLvol(String bdev, long sizeBytes) {
        rpc.call("bdev_lvol_resize", JSON.createObjectNode().put("name", bdev).put("size_in_mib", mib(sizeBytes)));
    }

    public String snapshotLvol(String bdev, String snapshotName) {
        return rpc.call("bdev_lvol_snapshot", JSON.createObjectNode().put("lvol_name", bdev)
                .put("snapshot_name", snapshotName)).asText();
    }

    /**
     * Renames an lvol within its lvstore: only its name, and so its alias {@code <lvstore>/<name>},
     * changes; its bdev name (a UUID), data and any NVMe-oF namespace backed by it stay. SPDK refuses
     * a name already taken in the lvstore, and the rename of a snapshot (a read-only blob).
     */
    public void renameLvol(String bdev, String newName) {
        rpc.call("bdev_lvol_rename", JSON.createObjectNode().put("old_name", bdev).put("new_name", newName));
    }

    public String cloneSnapshot(String snapshotBdev, String cloneName) {
        return rpc.call("bdev_lvol_clone", JSON.createObjectNode().put("snapshot_name", snapshotBdev)
                .put("clone_name", cloneName)).asText();
    }

    /** A bdev as SPDK describes it: name, aliases, size. */
    public record Bdev(String name, List<String> aliases, long sizeBytes) {
    }

    /** All bdevs, or the one named (an empty list when it does not exist). */
    public List<Bdev> getBdevs(String name) {
        ObjectNode p = JSON.createObjectNode();
        if (name != null) {
            p.put("name", name);
        }
        JsonNode result;
        try {
            result = rpc.call("bdev_get_bdevs", p);
        } catch (SpdkException e) {
            if (name != null && e.notFound()) {
                return List.of();
            }
            throw e;
        }
        List<Bdev> bdevs = new ArrayList<>();
        for (JsonNode b : result) {
            List<String> aliases = new ArrayList<>();
            b.path("aliases").forEach(a -> aliases.add(a.asText()));
            bdevs.add(new Bdev(b.path("name").asText(), aliases,
                    b.path("block_size").asLong() * b.path("num_blocks").asLong()));
        }
        return bdevs;
    }

    // ---- lvstores ----

    /** Creates lvstore {@code name} on base bdev {@code bdev}; returns the lvstore's UUID. */
    public String createLvstore(String bdev, String name) {
        return rpc.call("bdev_lvol_create_lvstore", JSON.createObjectNode().put("bdev_name", bdev).put("lvs_name", name))
                .asText();
    }

    /** An lvstore's geometry as {@code bdev_lvol_get_lvstores} reports it. */
    public record Lvstore(String uuid, String name, String baseBdev, long totalDataClusters, long freeClusters,
            long clusterSize) {

        public long capacityBytes() {
            return totalDataClusters * clusterSize;
        }

        public long freeBytes() {
            return freeClusters * clusterSize;
        }
    }

    /** The lvstore named {@code name}, or empty when SPDK does not know it. */
    public Optional<Lvstore> getLvstore(String name) {
        JsonNode result;
        try {
            result = rpc.call("bdev_lvol_get_lvstores", JSON.createObjectNode().put("lvs_name", name));
        } catch (SpdkException e) {
            if (e.notFound()) {
                return Optional.empty();
            }
            throw e;
        }
        for (JsonNode l : result) {
            if (name.equals(l.path("name").asText())) {
                return Optional.of(new Lvstore(l.path("uuid").asText(), l.path("name").asText(),
                        l.path("base_bdev").asText(), l.path("total_data_clusters").asLong(),
                        l.path("free_clusters").asLong(), l.path("cluster_size").asLong()));
            }
        }
        return Optional.empty();
    }

    /** The target's version string; used as the liveness probe (the RPC takes no parameters). */
    public String getVersion() {
        return rpc.call("spdk_get_version", null).path("version").asText();
    }

    /**
     * A target's release as {@code spdk_get_version} reports it: {@code major} and {@code minor} from
     * its {@code fields} (e.g. 24 and 9 for v24.09), {@code text} the version string as sent.
     * {@code major} is -1 when the answer carries no version Ferry can read.
     */
    public record Version(int major, int minor, String text) {

        private static final Pattern TEXT = Pattern.compile("v(\\d+)\\.(\\d+)");

        /** True when this release is {@code major.minor} or later. */
        public boolean atLeast(int wantMajor, int wantMinor) {
            return major > wantMajor || (major == wantMajor && minor >= wantMinor);
        }

        static Version of(JsonNode result) {
            String text = result.path("version").asText("");
            JsonNode fields = result.path("fields");
            if (fields.path("major").isIntegralNumber() && fields.path("minor").isIntegralNumber()) {
                return new Version(fields.path("major").asInt(), fields.path("minor").asInt(), text);
            }
            // Releases before the fields member: the string alone ("SPDK v23.01 git sha1 ...").
            Matcher m = TEXT.matcher(text);
            return m.find() ? new Version(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)), text)
                    : new Version(-1, 0, text);
        }
    }

    public Version version() {
        return Version.of(rpc.call("spdk_get_version", null));
    }

    // ---- keyring (SPDK 24.01 and later) ----

    /**
     * Registers the key in {@code path} under {@code name} ({@code keyring_file_add_key}). SPDK reads
     * the file itself: the request carries only its path, never the key. SPDK refuses a relative
     * path, a file readable by group or others, or one owned by another user (-EPERM), and a name
     * already registered (-EEXIST).
     */
    public void addKeyFile(String name, Path path) {
        rpc.call("keyring_file_add_key", JSON.createObjectNode().put("name", name).put("path", path.toString()));
    }

    /** Unregisters a file key; a key still used by a host stays alive in SPDK until that host lets go. */
    public void removeKeyFile(String name) {
        rpc.call("keyring_file_remove_key", JSON.createObjectNode().put("name", name));
    }

    /** A key SPDK's keyring holds: {@code removed} when unregistered but still referenced. */
    public record Key(String name, boolean removed) {
    }

    /** Every key in SPDK's keyring ({@code keyring_get_keys}; names only, never material). */
    public List<Key> keys() {
        List<Key> out = new ArrayList<>();
        for (JsonNode k : rpc.call("keyring_get_keys", JSON.createObjectNode())) {
            out.add(new Key(k.path("name").asText(), k.path("removed").asBoolean(false)));
        }
        return out;
    }

    // ---- NVMe-oF ----

    public void createSubsystem(String nqn, String serial, String model) {
        rpc.call("nvmf_create_subsystem", JSON.createObjectNode().put("nqn", nqn).put("serial_number", serial)
                .put("model_number", model).put("allow_any_host", false));
    }

    public void addNamespace(String nqn, String bdev, int nsid) {
        ObjectNode ns = JSON.createObjectNode().put("bdev_name", bdev).put("nsid", nsid);
        ObjectNode p = JSON.createObjectNode().put("nqn", nqn);
        p.set("namespace", ns);
        rpc.call("nvmf_subsystem_add_ns", p);
    }

    public void addListener(String nqn, String address, int port) {
        ObjectNode listen = JSON.createObjectNode().put("trtype", "TCP")
                .put("adrfam", address.contains(":") ? "IPv6" : "IPv4").put("traddr", address)
                .put("trsvcid", Integer.toString(port));
        ObjectNode p = JSON.createObjectNode().put("nqn", nqn);
        p.set("listen_address", listen);
        rpc.call("nvmf_subsystem_add_listener", p);
    }

    public void addHost(String nqn, String hostNqn) {
        rpc.call("nvmf_subsystem_add_host", JSON.createObjectNode().put("nqn", nqn).put("host", hostNqn));
    }

    /**
     * Allows a host that must authenticate (SPDK 24.05 and later): {@code dhchapKey} and
     * {@code ctrlrKey} (null for unidirectional) are names of keys in SPDK's keyring, not keys.
     */
    public void addHost(String nqn, String hostNqn, HostKeys keys) {
        rpc.call("nvmf_subsystem_add_host", keys.into(JSON.createObjectNode().put("nqn", nqn).put("host", hostNqn)));
    }

    /**
     * Replaces an allowed host's DH-HMAC-CHAP keys ({@code nvmf_subsystem_set_keys}, SPDK 24.09 and
     * later). SPDK checks keys when a host authenticates, so connected hosts stay connected and
     * prove the new key at their next (re)authentication.
     */
    public void setKeys(String nqn, String hostNqn, HostKeys keys) {
        rpc.call("nvmf_subsystem_set_keys", keys.into(JSON.createObjectNode().put("nqn", nqn).put("host", hostNqn)));
    }

    /** Key names (in SPDK's keyring) a host authenticates with; {@code ctrlrKey} null when unidirectional. */
    public record HostKeys(String dhchapKey, String ctrlrKey) {

        public static final HostKeys NONE = new HostKeys(null, null);

        ObjectNode into(ObjectNode p) {
            if (dhchapKey != null) {
                p.put("dhchap_key", dhchapKey);
            }
            if (ctrlrKey != null) {
                p.put("dhchap_ctrlr_key", ctrlrKey);
            }
            return p;
        }
    }

    public void removeHost(String nqn, String hostNqn) {
        rpc.call("nvmf_subsystem_remove_host", JSON.createObjectNode().put("nqn", nqn).put("host", hostNqn));
    }

    public void removeNamespace(String nqn, int nsid) {
        rpc.call("nvmf_subsystem_remove_ns", JSON.createObjectNode().put("nqn", nqn).put("nsid", nsid));
    }

    public void setAllowAnyHost(String nqn, boolean allow) {
        rpc.call("nvmf_subsystem_allow_any_host", JSON.createObjectNode().put("nqn", nqn).put("allow_any_host", allow));
    }

    public void deleteSubsystem(String nqn) {
        rpc.call("nvmf_delete_subsystem", JSON.createObjectNode().put("nqn", nqn));
    }

    /** One NVMe-oF subsystem as {@code nvmf_get_subsystems} describes it. */
    public record Subsystem(String nqn, boolean allowAnyHost, List<String> hosts, Map<Integer, String> namespaces,
            List<String> listeners, Map<String, HostKeys> hostKeys) {

        /** The key names the host authenticates with here ({@link HostKeys#NONE} when none). */
        public HostKeys keysOf(String host) {
            return hostKeys.getOrDefault(host, HostKeys.NONE);
        }
    }

    /** Every subsystem with its hosts, namespaces (nsid to bdev name) and listeners ({@code traddr:trsvcid}). */
    public List<Subsystem> subsystems() {
        List<Subsystem> out = new ArrayList<>();
        for (JsonNode s : rpc.call("nvmf_get_subsystems", JSON.createObjectNode())) {
            List<String> hosts = new ArrayList<>();
            Map<String, HostKeys> hostKeys = new TreeMap<>();
            s.path("hosts").forEach(h -> {
                hosts.add(h.path("nqn").asText());
                if (h.has("dhchap_key") || h.has("dhchap_ctrlr_key")) {
                    hostKeys.put(h.path("nqn").asText(), new HostKeys(h.path("dhchap_key").asText(null),
                            h.path("dhchap_ctrlr_key").asText(null)));
                }
            });
            Map<Integer, String> namespaces = new TreeMap<>();
            s.path("namespaces").forEach(n -> namespaces.put(n.path("nsid").asInt(), n.path("bdev_name").asText()));
            List<String> listeners = new ArrayList<>();
            s.path("listen_addresses").forEach(l -> listeners.add(l.path("traddr").asText() + ":"
                    + l.path("trsvcid").asText()));
            out.add(new Subsystem(s.path("nqn").asText(), s.path("allow_any_host").asBoolean(false), hosts,
                    namespaces, listeners, hostKeys));
        }
        return out;
    }

    /** SPDK takes whole MiB; round up so a volume is never smaller than asked. */
    static long mib(long bytes) {
        return (bytes + (1L << 20) - 1) >> 20;
    }
}
