package io.ferry.etcd;

import io.ferry.etcd.FerryKeys.Kind;
import io.ferry.etcd.FerryKeys.KeyRef;
import io.ferry.model.LifecycleEvent;
import io.ferry.model.Names;
import io.ferry.model.ValidationException;

import java.util.List;
import java.util.Optional;

/**
 * Reads a key's path back into its {@link Kind} and names: the inverse of {@link FerryKeys}'s
 * builders, kept apart from them so that the layout's spelling and its parsing each have one home.
 * Names are validated as the builders validate them; a name that fails throws, and
 * {@link #parse} turns that into "not a key of ours".
 */
final class KeyClassifier {

    private KeyClassifier() {
    }

    /** What {@link FerryKeys#parse} answers: the key's kind and names, or empty for a key not of ours under {@code prefix}. */
    static Optional<KeyRef> parse(String prefix, String key) {
        if (key == null || !key.startsWith(prefix + "/")) {
            return Optional.empty();
        }
        String[] p = key.substring(prefix.length() + 1).split("/", -1);
        try {
            return Optional.ofNullable(classify(p));
        } catch (ValidationException e) {
            return Optional.empty();
        }
    }

    /** The kind and names of the key whose path below the prefix is {@code p}; null when it is none of ours. */
    static KeyRef classify(String[] p) {
        switch (p[0]) {
            case "config":
                if (p.length == 2 && p[1].equals("global")) {
                    return new KeyRef(Kind.GLOBAL_CONFIG, List.of());
                }
                if (p.length == 2 && p[1].equals("cluster")) {
                    return new KeyRef(Kind.CLUSTER_IDENTITY, List.of());
                }
                if (p.length == 2 && p[1].equals("key-layout")) {
                    return new KeyRef(Kind.KEY_LAYOUT, List.of());
                }
                if (p.length == 3 && p[1].equals("pools")) {
                    return new KeyRef(Kind.POOL_CONFIG, List.of(Names.poolName(p[2])));
                }
                if (p.length == 3 && p[1].equals("drains")) {
                    return new KeyRef(Kind.NODE_DRAIN, List.of(Names.nodeName(p[2])));
                }
                return null;
            case "volumes":
                return p.length == 2 ? new KeyRef(Kind.VOLUME, List.of(Names.volumeName(p[1]))) : null;
            case "snapshots":
                return p.length == 2 ? new KeyRef(Kind.SNAPSHOT, List.of(Names.snapshotName(p[1]))) : null;
            case "attachments":
                return p.length == 3
                        ? new KeyRef(Kind.ATTACHMENT, List.of(Names.volumeName(p[1]), Names.nodeName(p[2])))
                        : null;
            case "placements":
                return p.length == 2 ? new KeyRef(Kind.PLACEMENT, List.of(Names.volumeName(p[1]))) : null;
            case "parts":
                return p.length == 2 ? new KeyRef(Kind.VOLUME_PARTS, List.of(Names.volumeName(p[1]))) : null;
            case "mirror-health":
                return p.length == 3
                        ? new KeyRef(Kind.MIRROR_REPORT, List.of(Names.volumeName(p[1]), Names.nodeName(p[2])))
                        : null;
            case "ledger":
                return p.length == 2 ? new KeyRef(Kind.LEDGER, List.of(Names.poolName(p[1]))) : null;
            case "controller":
                if (p.length >= 2 && p[1].equals("leader")) {
                    return new KeyRef(Kind.CONTROLLER_LEADER, List.of());
                }
                if (p.length == 3 && p[1].equals("volumes")) {
                    return new KeyRef(Kind.VOLUME_SCHEDULING, List.of(Names.volumeName(p[2])));
                }
                if (p.length == 3 && p[1].equals("snapshots")) {
                    return new KeyRef(Kind.SNAPSHOT_SCHEDULING, List.of(Names.snapshotName(p[2])));
                }
                return null;
            case "nodes":
                return classifyNodeKey(p);
            case "work":
                if (p.length == 3 && p[2].equals("host-keys")) {
                    return new KeyRef(Kind.HOST_KEY_ORDER, List.of(Names.nodeName(p[1])));
                }
                if (p.length != 4) {
                    return null;
                }
                return switch (p[2]) {
                    case "volumes" -> new KeyRef(Kind.NODE_WORK, List.of(Names.nodeName(p[1]), Names.volumeName(p[3])));
                    case "snapshots" -> new KeyRef(Kind.NODE_SNAPSHOT_WORK,
                            List.of(Names.nodeName(p[1]), Names.snapshotName(p[3])));
                    default -> null;
                };
            case "secrets":
                if (p.length == 3 && p[1].equals("hosts")) {
                    return new KeyRef(Kind.HOST_SECRET, List.of(Names.nodeName(p[2])));
                }
                if (p.length == 4 && p[1].equals("exports")) {
                    return new KeyRef(Kind.EXPORT_SECRET, List.of(Names.nodeName(p[2]), Names.nodeName(p[3])));
                }
                return null;
            case "key-rotations":
                return p.length == 2 ? new KeyRef(Kind.KEY_ROTATION, List.of(Names.nodeName(p[1]))) : null;
            case "orphan-removals":
                return p.length == 3
                        ? new KeyRef(Kind.ORPHAN_REMOVAL, List.of(Names.nodeName(p[1]), Names.volumeName(p[2])))
                        : null;
            case "orphan-adoptions":
                return p.length == 3
                        ? new KeyRef(Kind.ORPHAN_ADOPTION, List.of(Names.nodeName(p[1]), Names.volumeName(p[2])))
                        : null;
            case "events":
                if (p.length != 4 || !(p[1].equals(LifecycleEvent.VOLUME) || p[1].equals(LifecycleEvent.SNAPSHOT))
                        || !p[3].matches(KeySegments.EVENT_ID)) {
                    return null;
                }
                return new KeyRef(Kind.EVENT, List.of(p[1], KeySegments.eventObject(p[1], p[2]), p[3]));
            default:
                return null;
        }
    }

    private static KeyRef classifyNodeKey(String[] p) {
        if (p.length < 3) {
            return null;
        }
        String node = Names.nodeName(p[1]);
        if (p.length == 3) {
            return switch (p[2]) {
                case "registration" -> new KeyRef(Kind.NODE_REGISTRATION, List.of(node));
                case "orphans" -> new KeyRef(Kind.NODE_ORPHANS, List.of(node));
                case "host-key" -> new KeyRef(Kind.HOST_KEY_STATUS, List.of(node));
                default -> null;
            };
        }
        if (p.length != 4) {
            return null;
        }
        return switch (p[2]) {
            case "pools" -> new KeyRef(Kind.NODE_POOL_STATUS, List.of(node, Names.poolName(p[3])));
            case "work" -> new KeyRef(Kind.LEGACY_NODE_WORK, List.of(node, Names.volumeName(p[3])));
            case "snapshot-work" -> new KeyRef(Kind.LEGACY_NODE_SNAPSHOT_WORK, List.of(node, Names.snapshotName(p[3])));
            case "volumes" -> new KeyRef(Kind.NODE_VOLUME_STATUS, List.of(node, Names.volumeName(p[3])));
            case "snapshots" -> new KeyRef(Kind.NODE_SNAPSHOT_STATUS, List.of(node, Names.snapshotName(p[3])));
            case "orphan-removals" -> new KeyRef(Kind.NODE_ORPHAN_REMOVAL_RESULT, List.of(node, Names.volumeName(p[3])));
            case "orphan-adoptions" -> new KeyRef(Kind.NODE_ORPHAN_ADOPTION_RESULT, List.of(node, Names.volumeName(p[3])));
            case "served-keys" -> new KeyRef(Kind.SERVED_HOST_KEY, List.of(node, Names.nodeName(p[3])));
            default -> null;
        };
    }
}
