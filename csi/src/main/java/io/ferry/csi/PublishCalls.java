package io.ferry.csi;

import io.ferry.csi.v1.ControllerPublishVolumeRequest;
import io.ferry.csi.v1.ControllerPublishVolumeResponse;
import io.ferry.csi.v1.ControllerUnpublishVolumeRequest;
import io.ferry.csi.v1.ControllerUnpublishVolumeResponse;
import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.Attachment;
import io.ferry.model.Names;
import io.ferry.model.NodeRegistration;
import io.ferry.model.Placement;
import io.ferry.model.Reach;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeParts;
import io.ferry.model.VolumeProgress;

import java.time.Clock;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * ControllerPublishVolume and ControllerUnpublishVolume: they write and delete the volume's
 * attachments ({@code attachments/<vol>/<node>}) and wait for the export a publish asks for. A
 * multi-part volume's attachment is the volume's only: the controller exports each part wherever
 * its volume is attached, and the waits here judge every part.
 */
final class PublishCalls {

    private final EtcdStore store;
    private final FerryKeys keys;
    private final ClusterView view;
    private final KeyedLocks locks;
    private final Clock clock;

    PublishCalls(EtcdStore store, ClusterView view, KeyedLocks locks, Clock clock) {
        this.store = store;
        this.keys = store.keys();
        this.view = view;
        this.locks = locks;
        this.clock = clock;
    }

    ControllerPublishVolumeResponse publish(ControllerPublishVolumeRequest request) throws Exception {
        String id = request.getVolumeId();
        String node = request.getNodeId();
        Calls.require(!id.isEmpty(), "volume_id is required");
        Calls.require(!node.isEmpty(), "node_id is required");
        Calls.require(request.hasVolumeCapability(), "volume_capability is required");
        String why = Driver.unsupported(request.getVolumeCapability());
        if (why != null) {
            throw Calls.invalid(why);
        }
        if (!Names.isValidVolumeName(id)) {
            throw Calls.notFound("volume " + id + " does not exist");
        }
        if (!Names.isValidNodeName(node)) {
            throw Calls.notFound("node " + node + " does not exist");
        }
        try (KeyedLocks.Held ignored = locks.lock("volume:" + id)) {
            VolumeIntent intent = Calls.await(store.get(keys.volume(id), VolumeIntent.class))
                    .map(Versioned::value).filter(v -> !v.deletionRequested() && v.partOf() == null)
                    .orElseThrow(() -> Calls.notFound("volume " + id + " does not exist"));
            NodeRegistration registration = Calls.await(store.get(keys.registration(node), NodeRegistration.class))
                    .map(Versioned::value)
                    .orElseThrow(() -> Calls.notFound("node " + node + " is not registered (is its Ferry agent running?)"));
            boolean readOnly = request.getReadonly() || Driver.readOnlyMode(request.getVolumeCapability());
            String capability = Driver.publishedAs(request.getVolumeCapability(), intent.fsType());
            Optional<Versioned<Attachment>> existing = Calls.await(store.get(keys.attachment(id, node), Attachment.class));
            if (existing.isPresent()) {
                Attachment published = existing.get().value();
                if (published.readOnly() != readOnly) {
                    throw Calls.alreadyExists("volume " + id + " is already published to " + node + " with readonly="
                            + published.readOnly());
                }
                // An attachment without a capability (ferryctl, an older plugin) is compared by readonly only.
                if (published.capability() != null && !published.capability().equals(capability)) {
                    throw Calls.alreadyExists("volume " + id + " is already published to " + node + " as "
                            + published.capability() + ", not " + capability);
                }
                if (!published.hostNqn().equals(registration.hostNqn())) {
                    // The node registered another host NQN since (a new /etc/nvme/hostnqn): the
                    // controller exports only to the registered one, so the attachment follows it.
                    Calls.await(store.put(keys.attachment(id, node), Attachment.of(id, node, registration.hostNqn(),
                            readOnly, clock.instant()).withCapability(published.capability() != null ? capability : null)));
                }
            } else {
                List<String> others = Calls.await(store.list(keys.attachmentsOf(id), Attachment.class)).items().stream()
                        .map(v -> v.value().node()).filter(n -> !n.equals(node)).toList();
                if (!others.isEmpty()) {
                    throw Calls.failedPrecondition("volume " + id + " is already published to " + others
                            + "; a Ferry volume is attached to one node at a time");
                }
                Calls.await(store.put(keys.attachment(id, node), Attachment.of(id, node, registration.hostNqn(),
                        readOnly, clock.instant()).withCapability(capability)));
            }
            String hostNqn = registration.hostNqn();
            if (intent.layout().multiPart()) {
                VolumeParts parts = Calls.await(view.await(() -> partsServedTo(id, node, hostNqn), Calls.remaining()),
                        "every part of volume " + id + " to be served to " + node).parts();
                return ControllerPublishVolumeResponse.newBuilder()
                        .putPublishContext(Driver.PUBLISH_LAYOUT, parts.layout().value()).build();
            }
            Ready ready = Calls.await(view.await(() -> exportedTo(id, node, hostNqn), Calls.remaining()),
                    "volume " + intent.name() + " to be served to " + node);
            ControllerPublishVolumeResponse.Builder response = ControllerPublishVolumeResponse.newBuilder()
                    .putPublishContext(Driver.PUBLISH_NODE, ready.placement().node());
            if (ready.reach() == Reach.EXPORT) {
                response.putPublishContext(Driver.PUBLISH_NQN, ready.status().export().nqn())
                        .putPublishContext(Driver.PUBLISH_ADDRESS, ready.status().export().address())
                        .putPublishContext(Driver.PUBLISH_PORT, Integer.toString(ready.status().export().port()))
                        .putPublishContext(Driver.PUBLISH_SERIAL, ready.status().export().serial());
            }
            return response.build();
        }
    }

    /**
     * Served to {@code node}: exported to its host, or (on the serving node's machine) with the device
     * the node plugin there is handed; as {@link io.ferry.model.Reach} decides from both registrations.
     */
    private Optional<Ready> exportedTo(String volume, String node, String hostNqn) {
        Placement placement = view.placement(volume).orElse(null);
        // The node plugin finds the device of a volume on its own node by itself, so the controller
        // side does not need one yet (an spdk volume has none).
        return Calls.done(VolumeProgress.servedTo(volume, placement, placement == null ? null
                : view.volumeStatus(placement.node(), volume).orElse(null), node, hostNqn,
                placement == null ? null : view.registration(placement.node()).orElse(null),
                view.registration(node).orElse(null), false)).map(Ready::of);
    }

    private Optional<PartsProgress.Progress> partsServedTo(String volume, String node, String hostNqn) {
        return Calls.done(PartsProgress.servedTo(volume, view.volumeParts(volume).orElse(null), node, hostNqn,
                view.registration(node).orElse(null), false, PartsProgress.of(view)));
    }

    ControllerUnpublishVolumeResponse unpublish(ControllerUnpublishVolumeRequest request) throws Exception {
        String id = request.getVolumeId();
        Calls.require(!id.isEmpty(), "volume_id is required");
        if (!Names.isValidVolumeName(id)) {
            return ControllerUnpublishVolumeResponse.getDefaultInstance();
        }
        try (KeyedLocks.Held ignored = locks.lock("volume:" + id)) {
            // Unknown volume or node: nothing is attached, which is what the caller wants.
            String node = request.getNodeId();
            if (node.isEmpty()) {
                Calls.await(store.deletePrefix(keys.attachmentsOf(id)));
            } else if (Names.isValidNodeName(node)) {
                Calls.await(store.delete(keys.attachment(id, node)));
            } else {
                return ControllerUnpublishVolumeResponse.getDefaultInstance();
            }
            // Deleting the attachment only asks; the node is detached once the serving node has cut it
            // off, live connections included. Until then the next consumer must not be told it is free.
            Calls.await(view.await(() -> cutOff(id, node), Calls.remaining()),
                    "the storage node to cut " + (node.isEmpty() ? "every node" : node) + " off volume " + id);
            return ControllerUnpublishVolumeResponse.getDefaultInstance();
        }
    }

    /**
     * Whether the serving node no longer lets the detached node ({@code node}, or every node when
     * empty) in. Its attachment is counted as gone whatever the view says: the view may not have seen
     * the deletion just made, and counting it would read the old export as the answer. For a
     * multi-part volume, the serving node of every part.
     */
    private Optional<Boolean> cutOff(String volume, String node) {
        Placement placement = view.placement(volume).orElse(null);
        Set<String> attached = new HashSet<>();
        for (String other : view.attachedNodes(volume)) {
            if (!node.isEmpty() && !other.equals(node)) {
                view.attachment(volume, other).map(Attachment::hostNqn).ifPresent(attached::add);
            }
        }
        VolumeParts parts = view.volumeParts(volume).orElse(null);
        if (parts != null) {
            return Calls.done(PartsProgress.cutOff(parts, attached, PartsProgress.of(view))).map(p -> Boolean.TRUE);
        }
        return Calls.done(VolumeProgress.cutOff(volume, placement, placement == null ? null
                : view.volumeStatus(placement.node(), volume).orElse(null), attached,
                placement == null ? null : view.registration(placement.node()).orElse(null))).map(d -> Boolean.TRUE);
    }
}
