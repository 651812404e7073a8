package io.ferry.agent.spdk;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;

/**
 * A small SPDK target on a real Unix socket: every request is checked against SPDK's parameter
 * tables ({@link SpdkClientTest#check}), and a tiny in-memory model of lvstores, lvols (with
 * snapshot/clone parentage) and NVMe-oF subsystems answers the way SPDK 24.x does, including its
 * error codes (-19 for an unknown bdev, -17 for a duplicate name, -32602 for an unknown subsystem).
 */
final class FakeSpdk implements AutoCloseable {

    static final ObjectMapper JSON = new ObjectMapper();
    static final long BLOCK = 4096;

    record Lvstore(String uuid, String name, String baseBdev, long clusterSize, long totalClusters) {
    }

    static final class Lvol {
        final String uuid = UUID.randomUUID().toString();
        final String lvs;
        String name;
        long size;
        final boolean thin;
        final boolean snapshot;
        String parent;

        Lvol(String lvs, String name, long size, boolean thin, boolean snapshot, String parent) {
            this.lvs = lvs;
            this.name = name;
            this.size = size;
            this.thin = thin;
            this.snapshot = snapshot;
            this.parent = parent;
        }
    }

    static final class Subsystem {
        final String nqn;
        final String serial;
        final String model;
        boolean allowAnyHost;
        final List<String> hosts = new ArrayList<>();
        /** Per host: its DH-HMAC-CHAP key name and controller key name (either may be null). */
        final Map<String, String[]> hostKeys = new LinkedHashMap<>();
        final Map<Integer, String> namespaces = new TreeMap<>();
        final List<String[]> listeners = new ArrayList<>();

        Subsystem(String nqn, String serial, String model, boolean allowAnyHost) {
            this.nqn = nqn;
            this.serial = serial;
            this.model = model;
            this.allowAnyHost = allowAnyHost;
        }
    }

    /** A key of SPDK's file keyring: SPDK keeps a removed key until no host holds it. */
    static final class Key {
        final String name;
        final String path;
        boolean removed;

        Key(String name, String path) {
            this.name = name;
            this.path = path;
        }
    }

    final Set<String> baseBdevs = new HashSet<>(Set.of("Malloc0"));
    final Map<String, Key> keys = new LinkedHashMap<>();
    /** The release this target claims; what it accepts follows (keyring 24.01, DH-HMAC-CHAP 24.05, set_keys 24.09). */
    volatile int major = 24;
    volatile int minor = 9;
    final Map<String, Lvstore> lvstores = new LinkedHashMap<>();
    final Map<String, Lvol> lvols = new LinkedHashMap<>();
    final Map<String, Subsystem> subsystems = new LinkedHashMap<>();
    /** Every request since {@link #clear()}, in order. */
    final List<JsonNode> requests;
    final long baseBdevBytes = 1L << 30;
    final long clusterSize = 4L << 20;

    private final Path socket;
    private final SpdkRpcServer server;

    FakeSpdk(Path socket) throws IOException {
        this.socket = socket;
        server = new SpdkRpcServer(socket, "fake-spdk-model", request -> {
            synchronized (this) {
                return handle(request);
            }
        });
        requests = server.requests;
    }

    /**
     * A target with the lvstore {@code lvs0} on {@code Malloc0} holding a thin 8 MiB lvol of each of
     * these names, its request log cleared so that a test sees only its own requests.
     */
    static FakeSpdk withLvols(Path socket, String... lvols) throws IOException {
        FakeSpdk spdk = new FakeSpdk(socket);
        SpdkClient client = spdk.client();
        client.createLvstore("Malloc0", "lvs0");
        for (String lvol : lvols) {
            client.createLvol("lvs0", lvol, 8 << 20, true);
        }
        spdk.clear();
        return spdk;
    }

    /** A client of this target, as the agent makes it. */
    SpdkClient client() {
        return new SpdkClient(socket, Duration.ofSeconds(5));
    }

    @Override
    public void close() throws IOException {
        server.close();
    }

    /** Methods called since {@link #clear()}, in order. */
    List<String> methods() {
        return requests.stream().map(r -> r.path("method").asText()).toList();
    }

    /** Methods that change something (everything but the get/list calls). */
    List<String> mutations() {
        return methods().stream().filter(m -> !m.contains("_get_")).toList();
    }

    /** The params of the only request of {@code method}. */
    JsonNode only(String method) {
        List<JsonNode> found = requests.stream().filter(r -> r.path("method").asText().equals(method)).toList();
        if (found.size() != 1) {
            throw new AssertionError("expected one " + method + ", got " + methods());
        }
        return found.get(0).path("params");
    }

    void clear() {
        requests.clear();
    }

    private static final class Fail extends RuntimeException {
        final int code;

        Fail(int code, String message) {
            super(message);
            this.code = code;
        }
    }

    private JsonNode handle(JsonNode req) {
        ObjectNode ok = JSON.createObjectNode().put("jsonrpc", "2.0").put("id", req.path("id").asLong());
        try {
            ok.set("result", dispatch(req.path("method").asText(), req.path("params")));
            return ok;
        } catch (Fail f) {
            return SpdkClientTest.error(req, f.code, f.getMessage());
        }
    }

    private Lvol resolve(String name) {
        for (Lvol l : lvols.values()) {
            if (l.uuid.equals(name) || (l.lvs + "/" + l.name).equals(name)) {
                return l;
            }
        }
        return null;
    }

    private Lvol need(String name) {
        Lvol l = resolve(name);
        if (l == null) {
            throw new Fail(-19, "No such device");
        }
        return l;
    }

    private long roundUp(long mib) {
        long bytes = mib << 20;
        return (bytes + clusterSize - 1) / clusterSize * clusterSize;
    }

    private long usedClusters(String lvs) {
        long used = 0;
        for (Lvol l : lvols.values()) {
            if (l.lvs.equals(lvs) && !l.thin) {
                used += l.size / clusterSize;
            }
        }
        return used;
    }

    /** SPDK_LVOL_NAME_MAX is 64 bytes with the terminating NUL: SPDK refuses longer names with -EINVAL. */
    static final int NAME_MAX = 63;

    private Lvol add(String lvs, String name, long size, boolean thin, boolean snapshot, String parent) {
        if (name.getBytes(StandardCharsets.UTF_8).length > NAME_MAX) {
            throw new Fail(-22, "Invalid argument");
        }
        for (Lvol l : lvols.values()) {
            if (l.lvs.equals(lvs) && l.name.equals(name)) {
                throw new Fail(-17, "File exists");
            }
        }
        Lvol l = new Lvol(lvs, name, size, thin, snapshot, parent);
        lvols.put(l.uuid, l);
        return l;
    }

    private JsonNode dispatch(String method, JsonNode p) {
        switch (method) {
            case "spdk_get_version": {
                ObjectNode v = JSON.createObjectNode().put("version", String.format("SPDK v%d.%02d", major, minor));
                v.putObject("fields").put("major", major).put("minor", minor).put("patch", 0).put("suffix", "");
                return v;
            }
            case "keyring_file_add_key": {
                since(24, 1);
                String name = p.path("name").asText();
                String path = p.path("path").asText();
                // SPDK's file keyring: an absolute path to a file only its own user can read.
                if (!path.startsWith("/")) {
                    throw new Fail(-1, "Operation not permitted");
                }
                Path file = Path.of(path);
                if (!Files.exists(file)) {
                    throw new Fail(-2, "No such file or directory");
                }
                try {
                    Set<PosixFilePermission> perms = Files.getPosixFilePermissions(file);
                    if (perms.stream().anyMatch(x -> x.name().startsWith("GROUP") || x.name().startsWith("OTHERS"))
                            || !Files.getOwner(file).getName().equals(System.getProperty("user.name"))) {
                        throw new Fail(-1, "Operation not permitted");
                    }
                } catch (IOException e) {
                    throw new Fail(-5, "Input/output error");
                }
                if (keys.containsKey(name)) {
                    throw new Fail(-17, "File exists");
                }
                keys.put(name, new Key(name, path));
                return JSON.getNodeFactory().booleanNode(true);
            }
            case "keyring_file_remove_key": {
                since(24, 1);
                Key k = keys.get(p.path("name").asText());
                if (k == null || k.removed) {
                    throw new Fail(-126, "Required key not available");
                }
                k.removed = true;
                dropUnused();
                return JSON.getNodeFactory().booleanNode(true);
            }
            case "keyring_get_keys": {
                since(24, 1);
                ArrayNode out = JSON.createArrayNode();
                keys.values().forEach(k -> out.addObject().put("name", k.name).put("removed", k.removed)
                        .put("probed", false).put("refcnt", 1 + refs(k.name)).put("module", "keyring_file")
                        .put("path", k.path));
                return out;
            }
            case "nvmf_subsystem_set_keys": {
                since(24, 9);
                Subsystem s = sub(p);
                String host = p.path("host").asText();
                if (!s.hosts.contains(host)) {
                    throw new Fail(-2, "No such file or directory");
                }
                s.hostKeys.put(host, hostKeys(p));
                dropUnused();
                return JSON.getNodeFactory().booleanNode(true);
            }
            case "bdev_lvol_create_lvstore": {
                if (!baseBdevs.contains(p.path("bdev_name").asText())) {
                    throw new Fail(-19, "No such device");
                }
                if (lvstores.containsKey(p.path("lvs_name").asText())) {
                    throw new Fail(-17, "File exists");
                }
                Lvstore l = new Lvstore(UUID.randomUUID().toString(), p.path("lvs_name").asText(),
                        p.path("bdev_name").asText(), clusterSize, baseBdevBytes / clusterSize - 1);
                lvstores.put(l.name(), l);
                return JSON.getNodeFactory().textNode(l.uuid());
            }
            case "bdev_lvol_get_lvstores": {
                ArrayNode out = JSON.createArrayNode();
                for (Lvstore l : lvstores.values()) {
                    if (p.has("lvs_name") && !p.path("lvs_name").asText().equals(l.name())) {
                        continue;
                    }
                    out.addObject().put("uuid", l.uuid()).put("name", l.name()).put("base_bdev", l.baseBdev())
                            .put("total_data_clusters", l.totalClusters())
                            .put("free_clusters", l.totalClusters() - usedClusters(l.name()))
                            .put("block_size", BLOCK).put("cluster_size", l.clusterSize());
                }
                if (p.has("lvs_name") && out.isEmpty()) {
                    throw new Fail(-19, "No such device");
                }
                return out;
            }
            case "bdev_lvol_create": {
                if (!lvstores.containsKey(p.path("lvs_name").asText())) {
                    throw new Fail(-19, "No such device");
                }
                return JSON.getNodeFactory().textNode(add(p.path("lvs_name").asText(), p.path("lvol_name").asText(),
                        roundUp(p.path("size_in_mib").asLong()), p.path("thin_provision").asBoolean(false), false,
                        null).uuid);
            }
            case "bdev_get_bdevs": {
                ArrayNode out = JSON.createArrayNode();
                if (p.has("name")) {
                    String n = p.path("name").asText();
                    if (baseBdevs.contains(n)) {
                        out.addObject().put("name", n).put("block_size", 512).put("num_blocks", baseBdevBytes / 512)
                                .putArray("aliases");
                        return out;
                    }
                    bdev(out, need(n));
                    return out;
                }
                for (String b : baseBdevs) {
                    out.addObject().put("name", b).put("block_size", 512).put("num_blocks", baseBdevBytes / 512)
                            .putArray("aliases");
                }
                lvols.values().forEach(l -> bdev(out, l));
                return out;
            }
            case "bdev_lvol_resize": {
                Lvol l = need(p.path("name").asText());
                l.size = Math.max(l.size, roundUp(p.path("size_in_mib").asLong()));
                return JSON.getNodeFactory().booleanNode(true);
            }
            case "bdev_lvol_snapshot": {
                Lvol origin = need(p.path("lvol_name").asText());
                Lvol snap = add(origin.lvs, p.path("snapshot_name").asText(), origin.size, true, true, origin.parent);
                origin.parent = snap.uuid;
                return JSON.getNodeFactory().textNode(snap.uuid);
            }
            case "bdev_lvol_clone": {
                Lvol snap = need(p.path("snapshot_name").asText());
                if (!snap.snapshot) {
                    throw new Fail(-22, "Invalid argument: not a snapshot");
                }
                return JSON.getNodeFactory().textNode(add(snap.lvs, p.path("clone_name").asText(), snap.size, true,
                        false, snap.uuid).uuid);
            }
            case "bdev_lvol_rename": {
                // SPDK's handler: -19 for an unknown bdev; otherwise the lvol library's answer
                // as "Invalid params" with strerror: EEXIST for a name taken in the lvstore,
                // EPERM for a snapshot (a read-only blob whose metadata cannot change).
                Lvol l = need(p.path("old_name").asText());
                String to = p.path("new_name").asText();
                if (l.name.equals(to)) {
                    return JSON.getNodeFactory().booleanNode(true);
                }
                if (lvols.values().stream().anyMatch(o -> o.lvs.equals(l.lvs) && o.name.equals(to))) {
                    throw new Fail(-32602, "File exists");
                }
                if (l.snapshot) {
                    throw new Fail(-32602, "Operation not permitted");
                }
                if (to.getBytes(StandardCharsets.UTF_8).length > NAME_MAX) {
                    throw new Fail(-32602, "Invalid argument");
                }
                l.name = to;
                return JSON.getNodeFactory().booleanNode(true);
            }
            case "bdev_lvol_delete": {
                Lvol l = need(p.path("name").asText());
                List<Lvol> clones = lvols.values().stream().filter(c -> l.uuid.equals(c.parent)).toList();
                if (clones.size() > 1) {
                    throw new Fail(-1, "Operation not permitted: snapshot has more than one clone");
                }
                clones.forEach(c -> c.parent = l.parent);
                lvols.remove(l.uuid);
                return JSON.getNodeFactory().booleanNode(true);
            }
            case "nvmf_create_subsystem": {
                String nqn = p.path("nqn").asText();
                if (subsystems.containsKey(nqn)) {
                    throw new Fail(-32602, "Invalid parameters");
                }
                subsystems.put(nqn, new Subsystem(nqn, p.path("serial_number").asText(), p.path("model_number").asText(),
                        p.path("allow_any_host").asBoolean(false)));
                return JSON.getNodeFactory().booleanNode(true);
            }
            case "nvmf_get_subsystems": {
                ArrayNode out = JSON.createArrayNode();
                out.addObject().put("nqn", "nqn.2014-08.org.nvmexpress.discovery").put("subtype", "Discovery")
                        .put("allow_any_host", true);
                for (Subsystem s : subsystems.values()) {
                    ObjectNode o = out.addObject().put("nqn", s.nqn).put("subtype", "NVMe")
                            .put("allow_any_host", s.allowAnyHost).put("serial_number", s.serial)
                            .put("model_number", s.model);
                    ArrayNode hosts = o.putArray("hosts");
                    for (String h : s.hosts) {
                        ObjectNode entry = hosts.addObject().put("nqn", h);
                        String[] hk = s.hostKeys.get(h);
                        if (hk != null && hk[0] != null) {
                            entry.put("dhchap_key", hk[0]);
                        }
                        if (hk != null && hk[1] != null) {
                            entry.put("dhchap_ctrlr_key", hk[1]);
                        }
                    }
                    ArrayNode ns = o.putArray("namespaces");
                    s.namespaces.forEach((id, b) -> ns.addObject().put("nsid", id).put("bdev_name", b)
                            .put("name", b));
                    ArrayNode ls = o.putArray("listen_addresses");
                    s.listeners.forEach(l -> ls.addObject().put("trtype", "TCP").put("adrfam", l[2])
                            .put("traddr", l[0]).put("trsvcid", l[1]));
                }
                return out;
            }
            case "nvmf_delete_subsystem":
                if (subsystems.remove(p.path("nqn").asText()) == null) {
                    throw new Fail(-32602, "Invalid parameters");
                }
                dropUnused();
                return JSON.getNodeFactory().booleanNode(true);
            case "nvmf_subsystem_add_host": {
                Subsystem s = sub(p);
                String host = p.path("host").asText();
                if (s.hosts.contains(host)) {
                    throw new Fail(-32603, "Internal error");
                }
                // Before 24.05 SPDK decodes add_host's params relaxed and knows no dhchap_*: the keys
                // would be ignored and the host let in without authentication.
                String[] hk = atLeast(24, 5) ? hostKeys(p) : new String[2];
                s.hosts.add(host);
                if (hk[0] != null) {
                    s.hostKeys.put(host, hk);
                }
                return JSON.getNodeFactory().booleanNode(true);
            }
            case "nvmf_subsystem_remove_host": {
                Subsystem s = sub(p);
                s.hosts.remove(p.path("host").asText());
                s.hostKeys.remove(p.path("host").asText());
                dropUnused();
                return JSON.getNodeFactory().booleanNode(true);
            }
            case "nvmf_subsystem_allow_any_host":
                sub(p).allowAnyHost = p.path("allow_any_host").asBoolean();
                return JSON.getNodeFactory().booleanNode(true);
            case "nvmf_subsystem_add_ns": {
                Subsystem s = sub(p);
                Lvol l = need(p.path("namespace").path("bdev_name").asText());
                int nsid = p.path("namespace").path("nsid").asInt(1);
                if (s.namespaces.containsKey(nsid)) {
                    throw new Fail(-32602, "Invalid parameters");
                }
                // SPDK reports the bdev's own name, which for an lvol is its UUID, not the alias.
                s.namespaces.put(nsid, l.uuid);
                return JSON.getNodeFactory().numberNode(nsid);
            }
            case "nvmf_subsystem_remove_ns":
                if (sub(p).namespaces.remove(p.path("nsid").asInt()) == null) {
                    throw new Fail(-32602, "Invalid parameters");
                }
                return JSON.getNodeFactory().booleanNode(true);
            case "nvmf_subsystem_add_listener": {
                JsonNode a = p.path("listen_address");
                Subsystem s = sub(p);
                if (s.listeners.stream().noneMatch(l -> l[0].equals(a.path("traddr").asText())
                        && l[1].equals(a.path("trsvcid").asText()))) {
                    s.listeners.add(new String[] {a.path("traddr").asText(), a.path("trsvcid").asText(),
                            a.path("adrfam").asText()});
                }
                return JSON.getNodeFactory().booleanNode(true);
            }
            default:
                throw new Fail(-32601, "Method not found");
        }
    }

    private boolean atLeast(int wantMajor, int wantMinor) {
        return major > wantMajor || (major == wantMajor && minor >= wantMinor);
    }

    /** An RPC this release does not have answers as SPDK answers any unknown method. */
    private void since(int wantMajor, int wantMinor) {
        if (!atLeast(wantMajor, wantMinor)) {
            throw new Fail(-32601, "Method not found");
        }
    }

    /** add_host's and set_keys' key names: each must name a live key; a controller key needs a host key. */
    private String[] hostKeys(JsonNode p) {
        String key = p.has("dhchap_key") ? p.path("dhchap_key").asText() : null;
        String ckey = p.has("dhchap_ctrlr_key") ? p.path("dhchap_ctrlr_key").asText() : null;
        for (String name : new String[] {key, ckey}) {
            if (name != null && (!keys.containsKey(name) || keys.get(name).removed)) {
                throw new Fail(-32602, "Invalid parameters");
            }
        }
        if (ckey != null && key == null) {
            throw new Fail(-32603, "Internal error");
        }
        return new String[] {key, ckey};
    }

    /** How many host entries hold the key. */
    int refs(String name) {
        int n = 0;
        for (Subsystem s : subsystems.values()) {
            for (String[] hk : s.hostKeys.values()) {
                n += (name.equals(hk[0]) ? 1 : 0) + (name.equals(hk[1]) ? 1 : 0);
            }
        }
        return n;
    }

    /** A removed key lives while a host holds it; the last reference gone, SPDK forgets it. */
    private void dropUnused() {
        keys.values().removeIf(k -> k.removed && refs(k.name) == 0);
    }

    private Subsystem sub(JsonNode p) {
        Subsystem s = subsystems.get(p.path("nqn").asText());
        if (s == null) {
            throw new Fail(-32602, "Invalid parameters");
        }
        return s;
    }

    private static void bdev(ArrayNode out, Lvol l) {
        ObjectNode b = out.addObject().put("name", l.uuid).put("block_size", BLOCK).put("num_blocks", l.size / BLOCK);
        b.putArray("aliases").add(l.lvs + "/" + l.name);
        b.putObject("driver_specific").putObject("lvol").put("snapshot", l.snapshot).put("clone", l.parent != null)
                .put("thin_provision", l.thin);
    }
}
