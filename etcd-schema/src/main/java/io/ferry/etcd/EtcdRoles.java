package io.ferry.etcd;

import io.ferry.model.Names;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * The one table of who may write what: Ferry's etcd roles and the key ranges each is granted, built
 * from {@link FerryKeys} so that a role always covers the keys its component uses. {@code ferryctl
 * security} creates exactly these; docs/security.md lists them.
 *
 * <p>etcd grants by key or by key range and knows no "delete only" permission: a write grant allows
 * put and delete. Two consequences are deliberate. The controller holds write on all of
 * {@link FerryKeys#nodes()}, because it removes an agent's {@code Deleted} acknowledgement in the same
 * transaction that releases the volume (one write per deletion; a node's name sits in the middle of
 * the path, so no range covers only {@code nodes/<any>/volumes/}); and it holds write on intents,
 * which it deletes once a volume or snapshot is gone everywhere.
 */
public final class EtcdRoles {

    public static final String CONTROLLER = "ferry-controller";
    public static final String CSI_CONTROLLER = "ferry-csi-controller";
    public static final String CSI_NODE = "ferry-csi-node";
    /** Operators and ferryctl: every Ferry key. */
    public static final String ADMIN = "ferry-admin";
    private static final String AGENT_PREFIX = "ferry-agent-";

    /** READ, WRITE (put and delete) or both, as etcd has them. */
    public enum Access { READ, WRITE, READWRITE }

    /**
     * One grant: the keys from {@code key} (inclusive) to {@code rangeEnd} (exclusive), or the one key
     * {@code key} when {@code rangeEnd} is empty, as etcd stores a permission.
     */
    public record Grant(String key, String rangeEnd, Access access) {
        public Grant {
            Objects.requireNonNull(key, "key");
            Objects.requireNonNull(rangeEnd, "rangeEnd");
            Objects.requireNonNull(access, "access");
        }

        static Grant prefix(String prefix, Access access) {
            return new Grant(prefix, prefixEnd(prefix), access);
        }

        static Grant key(String key, Access access) {
            return new Grant(key, "", access);
        }

        /** For people: {@code /ferry/nodes/worker-1/ (prefix) readwrite}. */
        public String describe() {
            String what = rangeEnd.isEmpty() ? key : rangeEnd.equals(prefixEnd(key)) ? key + "*" : "[" + key + ", " + rangeEnd + ")";
            return what + " " + access.name().toLowerCase(Locale.ROOT);
        }
    }

    /** A role's name and grants; the user of a component has the same name as its role. */
    public record Role(String name, List<Grant> grants) {
        public Role {
            grants = List.copyOf(grants);
        }
    }

    private final FerryKeys keys;

    public EtcdRoles(FerryKeys keys) {
        this.keys = keys;
    }

    /** The roles of the cluster-wide components, in the order they are created. */
    public List<Role> componentRoles() {
        return List.of(controller(), csiController(), csiNode(), admin());
    }

    /**
     * The controller: placements, ledgers, its records and election, work items, lifecycle events, the
     * layout key and the cluster's identity, the copies of consumers' secrets for storage nodes; intents (to delete finished ones) and agents' keys (to remove acknowledgements).
     */
    public Role controller() {
        return new Role(CONTROLLER, List.of(
                Grant.prefix(keys.all(), Access.READ),
                Grant.prefix(keys.placements(), Access.READWRITE),
                Grant.prefix(keys.volumeParts(), Access.READWRITE),
                Grant.prefix(keys.ledgers(), Access.READWRITE),
                Grant.prefix(keys.prefix() + "/controller/", Access.READWRITE),
                Grant.prefix(keys.work(), Access.READWRITE),
                Grant.prefix(keys.volumes(), Access.READWRITE),
                Grant.prefix(keys.snapshots(), Access.READWRITE),
                Grant.prefix(keys.nodes(), Access.READWRITE),
                Grant.prefix(keys.events(), Access.READWRITE),
                Grant.prefix(keys.exportSecrets(), Access.READWRITE),
                Grant.key(keys.clusterIdentity(), Access.READWRITE),
                Grant.key(keys.keyLayout(), Access.READWRITE)));
    }

    /**
     * The CSI controller plugin: intents, snapshots and attachments; it reads the rest to answer
     * calls, except the secrets.
     */
    public Role csiController() {
        List<Grant> grants = new ArrayList<>(allButSecrets(Access.READ));
        grants.add(Grant.prefix(keys.volumes(), Access.READWRITE));
        grants.add(Grant.prefix(keys.snapshots(), Access.READWRITE));
        grants.add(Grant.prefix(keys.attachments(), Access.READWRITE));
        return new Role(CSI_CONTROLLER, grants);
    }

    /**
     * The CSI node plugin reads (the volume's status, its node's registration, the config), and no
     * secret: it takes its host's DH-HMAC-CHAP pair from the state file the agent keeps on the same
     * host, never from etcd. It writes only its reports of the mirrors assembled on its node.
     */
    public Role csiNode() {
        List<Grant> grants = new ArrayList<>(allButSecrets(Access.READ));
        grants.add(Grant.prefix(keys.mirrorReports(), Access.READWRITE));
        return new Role(CSI_NODE, grants);
    }

    /** Every Ferry key except {@link FerryKeys#secrets()}: the two ranges on either side of it. */
    List<Grant> allButSecrets(Access access) {
        String secrets = keys.secrets();
        return List.of(new Grant(keys.all(), secrets, access),
                new Grant(prefixEnd(secrets), prefixEnd(keys.all()), access));
    }

    public Role admin() {
        return new Role(ADMIN, List.of(Grant.prefix(keys.all(), Access.READWRITE)));
    }

    /**
     * The agent of one node writes only its own {@code nodes/<node>/} and its host's DH-HMAC-CHAP
     * pair ({@code secrets/hosts/<node>}, the one key); it reads the config, the intents and
     * placements it checks work against, its own work and orphan orders, and the pairs of the
     * hosts it exports to ({@code secrets/exports/<node>/}).
     */
    public Role agent(String node) {
        Names.nodeName(node);
        return new Role(agentRoleName(node), List.of(
                Grant.prefix(keys.prefix() + "/config/", Access.READ),
                Grant.prefix(keys.volumes(), Access.READ),
                Grant.prefix(keys.snapshots(), Access.READ),
                Grant.prefix(keys.placements(), Access.READ),
                Grant.prefix(keys.work(node), Access.READ),
                Grant.prefix(keys.orphanRemovals(node), Access.READ),
                Grant.prefix(keys.orphanAdoptions(node), Access.READ),
                Grant.prefix(keys.exportSecrets(node), Access.READ),
                Grant.key(keys.hostSecret(node), Access.READWRITE),
                Grant.prefix(keys.node(node), Access.READWRITE)));
    }

    public static String agentRoleName(String node) {
        return AGENT_PREFIX + Names.nodeName(node);
    }

    /** The node of an agent role's name, or null when the name is not one. */
    public static String nodeOfAgentRole(String role) {
        return role.startsWith(AGENT_PREFIX) ? role.substring(AGENT_PREFIX.length()) : null;
    }

    /** The end of the range of every key starting with {@code prefix}: its last byte plus one, as etcdctl's --prefix. */
    static String prefixEnd(String prefix) {
        byte[] end = prefix.getBytes(StandardCharsets.UTF_8);
        for (int i = end.length - 1; i >= 0; i--) {
            if (end[i] != (byte) 0xff) {
                end[i]++;
                return new String(Arrays.copyOf(end, i + 1), StandardCharsets.UTF_8);
            }
        }
        throw new IllegalArgumentException("no range end for " + prefix);
    }

    /** Every role a cluster with these nodes has. */
    public List<Role> all(List<String> nodes) {
        List<Role> roles = new ArrayList<>(componentRoles());
        nodes.forEach(n -> roles.add(agent(n)));
        return roles;
    }
}
