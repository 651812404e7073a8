package io.ferry.etcd;

import io.ferry.model.Names;
import io.ferry.model.ValidationException;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The one place that knows Ferry's key layout under a configurable prefix (default {@code /ferry}).
 *
 * <p>Every method that builds a key validates the names it is given, so a name carrying {@code /},
 * {@code ..} or other garbage can never address a key outside the slot it was meant for. Prefix
 * methods (plural names) end with {@code /} so that {@code volumes/a} never matches {@code volumes/ab}.
 *
 * <p>Instances are immutable and thread-safe.
 */
public final class FerryKeys {

    public static final String DEFAULT_PREFIX = "/ferry";

    /** What a key under the prefix addresses; {@link #parse(String)} returns it with the names in the key. */
    public enum Kind {
        GLOBAL_CONFIG, CLUSTER_IDENTITY, POOL_CONFIG, VOLUME, SNAPSHOT, ATTACHMENT, PLACEMENT, LEDGER,
        VOLUME_SCHEDULING, SNAPSHOT_SCHEDULING, CONTROLLER_LEADER, VOLUME_PARTS,
        /** An operator's request to empty a node: {@code config/drains/<node>}. */
        NODE_DRAIN,
        /** A consumer's node plugin's report of a mirror assembled there: {@code mirror-health/<vol>/<node>}. */
        MIRROR_REPORT,
        NODE_REGISTRATION, NODE_POOL_STATUS, NODE_WORK, NODE_SNAPSHOT_WORK, NODE_VOLUME_STATUS,
        NODE_SNAPSHOT_STATUS, NODE_ORPHANS, ORPHAN_REMOVAL, NODE_ORPHAN_REMOVAL_RESULT, ORPHAN_ADOPTION,
        NODE_ORPHAN_ADOPTION_RESULT, EVENT, KEY_LAYOUT,
        /** A consumer host's DH-HMAC-CHAP pair as its owner publishes it: {@code secrets/hosts/<node>}. */
        HOST_SECRET,
        /** The copy of a consumer's pair for a storage node that exports to it: {@code secrets/exports/<storage>/<node>}. */
        EXPORT_SECRET,
        /** An operator's request to rotate a host's pair: {@code key-rotations/<node>}. */
        KEY_ROTATION,
        /** The controller's rotation order to a consumer's agent: {@code work/<node>/host-keys}. */
        HOST_KEY_ORDER,
        /** A storage node's report of the generation it serves a consumer: {@code nodes/<storage>/served-keys/<node>}. */
        SERVED_HOST_KEY,
        /** A consumer's report on its own pair: {@code nodes/<node>/host-key}. */
        HOST_KEY_STATUS,
        /** A work item where key layout 1 kept it; only the migration and agents during it read these. */
        LEGACY_NODE_WORK,
        /** A snapshot work item where key layout 1 kept it. */
        LEGACY_NODE_SNAPSHOT_WORK
    }

    /** A parsed key: its kind and the names it carries, in path order (e.g. node, then volume). */
    public record KeyRef(Kind kind, List<String> names) {
        public KeyRef {
            Objects.requireNonNull(kind, "kind");
            names = List.copyOf(names);
        }

        /** The last name in the key, which is the name of the object itself (volume, pool, ...). */
        public String name() {
            return names.isEmpty() ? "" : names.get(names.size() - 1);
        }
    }

    private final String prefix;
    private final OrderKeys removals = new OrderKeys(this, "orphan-removals");
    private final OrderKeys adoptions = new OrderKeys(this, "orphan-adoptions");

    /**
     * @param prefix absolute, without a trailing slash, e.g. {@code /ferry} or {@code /prod/ferry}
     * @throws ValidationException when the prefix is not a clean absolute path
     */
    public FerryKeys(String prefix) {
        this.prefix = KeySegments.prefix(prefix);
    }

    public String prefix() {
        return prefix;
    }

    /** Everything Ferry owns; useful for backups and for tests. */
    public String all() {
        return prefix + "/";
    }

    public String globalConfig() {
        return prefix + "/config/global";
    }

    /** The cluster's identity, written once by the first controller or {@code ferry up}. */
    public String clusterIdentity() {
        return prefix + "/config/cluster";
    }

    /** Which key layout the cluster's keys are in ({@code io.ferry.model.KeyLayout}); absent means layout 1. */
    public String keyLayout() {
        return prefix + "/config/key-layout";
    }

    public String poolConfigs() {
        return prefix + "/config/pools/";
    }

    public String poolConfig(String pool) {
        return poolConfigs() + Names.poolName(pool);
    }

    /** Operators' requests to empty a node ({@code io.ferry.model.NodeDrain}): {@code config/drains/<node>}. */
    public String nodeDrains() {
        return prefix + "/config/drains/";
    }

    public String nodeDrain(String node) {
        return nodeDrains() + Names.nodeName(node);
    }

    public String volumes() {
        return prefix + "/volumes/";
    }

    public String volume(String volume) {
        return volumes() + Names.volumeName(volume);
    }

    public String snapshots() {
        return prefix + "/snapshots/";
    }

    public String snapshot(String snapshot) {
        return snapshots() + Names.snapshotName(snapshot);
    }

    public String attachments() {
        return prefix + "/attachments/";
    }

    public String attachmentsOf(String volume) {
        return attachments() + Names.volumeName(volume) + "/";
    }

    public String attachment(String volume, String node) {
        return attachmentsOf(volume) + Names.nodeName(node);
    }

    public String placements() {
        return prefix + "/placements/";
    }

    public String placement(String volume) {
        return placements() + Names.volumeName(volume);
    }

    /** What each multi-part volume is assembled from ({@code io.ferry.model.VolumeParts}), written by the controller. */
    public String volumeParts() {
        return prefix + "/parts/";
    }

    public String volumeParts(String volume) {
        return volumeParts() + Names.volumeName(volume);
    }

    /**
     * What the node plugin of each consumer reports of a mirror assembled there
     * ({@code io.ferry.model.MirrorReport}): {@code mirror-health/<vol>/<node>}.
     */
    public String mirrorReports() {
        return prefix + "/mirror-health/";
    }

    public String mirrorReportsOf(String volume) {
        return mirrorReports() + Names.volumeName(volume) + "/";
    }

    public String mirrorReport(String volume, String node) {
        return mirrorReportsOf(volume) + Names.nodeName(node);
    }

    public String ledgers() {
        return prefix + "/ledger/";
    }

    public String ledger(String pool) {
        return ledgers() + Names.poolName(pool);
    }

    public String volumeSchedulings() {
        return prefix + "/controller/volumes/";
    }

    public String volumeScheduling(String volume) {
        return volumeSchedulings() + Names.volumeName(volume);
    }

    public String snapshotSchedulings() {
        return prefix + "/controller/snapshots/";
    }

    public String snapshotScheduling(String snapshot) {
        return snapshotSchedulings() + Names.snapshotName(snapshot);
    }

    /** The etcd election name the controllers campaign on. */
    public String controllerLeader() {
        return prefix + "/controller/leader";
    }

    public String nodes() {
        return prefix + "/nodes/";
    }

    public String node(String node) {
        return nodes() + Names.nodeName(node) + "/";
    }

    public String registration(String node) {
        return node(node) + "registration";
    }

    public String nodePoolStatuses(String node) {
        return node(node) + "pools/";
    }

    public String nodePoolStatus(String node, String pool) {
        return nodePoolStatuses(node) + Names.poolName(pool);
    }

    /**
     * The controller's orders to every node. Outside {@link #nodes()} on purpose: an agent may write
     * its own {@code nodes/<node>/} prefix, and must not be able to give itself work.
     */
    public String work() {
        return prefix + "/work/";
    }

    /** The controller's orders to one node: what that node's agent reads, and only the controller writes. */
    public String work(String node) {
        return work() + Names.nodeName(node) + "/";
    }

    /** The controller's order to a consumer's agent in a key rotation (see {@code HostKeyOrder}). */
    public String hostKeyOrder(String node) {
        return work(node) + "host-keys";
    }

    public String workItems(String node) {
        return work(node) + "volumes/";
    }

    public String workItem(String node, String volume) {
        return workItems(node) + Names.volumeName(volume);
    }

    public String snapshotWorkItems(String node) {
        return work(node) + "snapshots/";
    }

    public String snapshotWorkItem(String node, String snapshot) {
        return snapshotWorkItems(node) + Names.snapshotName(snapshot);
    }

    /** Where key layout 1 kept a node's work items; read only to migrate them and while migrating. */
    public String legacyWorkItems(String node) {
        return node(node) + "work/";
    }

    public String legacyWorkItem(String node, String volume) {
        return legacyWorkItems(node) + Names.volumeName(volume);
    }

    /** Where key layout 1 kept a node's snapshot work items. */
    public String legacySnapshotWorkItems(String node) {
        return node(node) + "snapshot-work/";
    }

    public String legacySnapshotWorkItem(String node, String snapshot) {
        return legacySnapshotWorkItems(node) + Names.snapshotName(snapshot);
    }

    public String volumeStatuses(String node) {
        return node(node) + "volumes/";
    }

    public String volumeStatus(String node, String volume) {
        return volumeStatuses(node) + Names.volumeName(volume);
    }

    public String snapshotStatuses(String node) {
        return node(node) + "snapshots/";
    }

    public String snapshotStatus(String node, String snapshot) {
        return snapshotStatuses(node) + Names.snapshotName(snapshot);
    }

    public String orphans(String node) {
        return node(node) + "orphans";
    }

    /** Operators' orders to remove orphans, all nodes. */
    public String orphanRemovals() {
        return removals.all();
    }

    /** Operators' orders to remove orphans of one node: what that node's agent watches. */
    public String orphanRemovals(String node) {
        return removals.of(node);
    }

    public String orphanRemoval(String node, String id) {
        return removals.order(node, id);
    }

    /** The agent's answers to orphan removal orders. */
    public String orphanRemovalResults(String node) {
        return removals.answersOf(node);
    }

    public String orphanRemovalResult(String node, String id) {
        return removals.answer(node, id);
    }

    /** Operators' orders to adopt orphans, all nodes. */
    public String orphanAdoptions() {
        return adoptions.all();
    }

    /** Operators' orders to adopt orphans of one node: what that node's agent watches. */
    public String orphanAdoptions(String node) {
        return adoptions.of(node);
    }

    public String orphanAdoption(String node, String id) {
        return adoptions.order(node, id);
    }

    /** The agent's answers to orphan adoption orders. */
    public String orphanAdoptionResults(String node) {
        return adoptions.answersOf(node);
    }

    public String orphanAdoptionResult(String node, String id) {
        return adoptions.answer(node, id);
    }

    /** Operators' requests to rotate a host's pair; not secrets (they name a generation, not keys). */
    public String keyRotations() {
        return prefix + "/key-rotations/";
    }

    public String keyRotation(String node) {
        return keyRotations() + Names.nodeName(node);
    }

    /** The generations of consumers' pairs a storage node's target serves. */
    public String servedHostKeys(String storageNode) {
        return node(storageNode) + "served-keys/";
    }

    public String servedHostKey(String storageNode, String consumerNode) {
        return servedHostKeys(storageNode) + Names.nodeName(consumerNode);
    }

    /** A consumer's report on its own pair (generation in use, pending). */
    public String hostKeyStatus(String node) {
        return node(node) + "host-key";
    }

    /**
     * Every secret, under one prefix so that etcd roles can leave it out: "everything but secrets" is
     * the two ranges {@code [<p>/, <p>/secrets/)} and {@code [<p>/secrets0, <p>0)}.
     */
    public String secrets() {
        return prefix + "/secrets/";
    }

    /** Consumer hosts' DH-HMAC-CHAP pairs, each written by its own host. */
    public String hostSecrets() {
        return secrets() + "hosts/";
    }

    public String hostSecret(String node) {
        return hostSecrets() + Names.nodeName(node);
    }

    /** The controller's copies of consumers' pairs, per storage node. */
    public String exportSecrets() {
        return secrets() + "exports/";
    }

    /** The pairs one storage node needs: one per node it exports to. */
    public String exportSecrets(String storageNode) {
        return exportSecrets() + Names.nodeName(storageNode) + "/";
    }

    public String exportSecret(String storageNode, String consumerNode) {
        return exportSecrets(storageNode) + Names.nodeName(consumerNode);
    }

    /** Every lifecycle event, under one prefix so that {@code ferryctl events -w} watches one range. */
    public String events() {
        return prefix + "/events/";
    }

    /** The events of one volume or snapshot ({@code objectKind} is {@code volume} or {@code snapshot}). */
    public String eventsOf(String objectKind, String object) {
        return events() + KeySegments.eventKind(objectKind) + "/" + KeySegments.eventObject(objectKind, object) + "/";
    }

    public String event(String objectKind, String object, String id) {
        return eventsOf(objectKind, object) + KeySegments.eventId(id);
    }

    /**
     * Classifies a key read from etcd. Returns empty for keys outside the layout, and for keys whose
     * names fail validation (someone wrote {@code /ferry/volumes/Bad Name} by hand): callers report
     * those as bad keys rather than acting on them.
     */
    public Optional<KeyRef> parse(String key) {
        return KeyClassifier.parse(prefix, key);
    }

    @Override
    public String toString() {
        return "FerryKeys[" + prefix + "]";
    }
}
