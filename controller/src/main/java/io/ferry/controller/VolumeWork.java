package io.ferry.controller;

import io.ferry.model.Attachment;
import io.ferry.model.Condition;
import io.ferry.model.Engine;
import io.ferry.model.ExportSpec;
import io.ferry.model.FailureReason;
import io.ferry.model.NodeRegistration;
import io.ferry.model.Placement;
import io.ferry.model.Reach;
import io.ferry.model.VolumeSource;
import io.ferry.model.WorkItem;

import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * What a node is told to do for a placed volume: its work item, with the export its attachments
 * need. The one place that turns a placement and the attachments into work, so that every step
 * writes the same item for the same state.
 */
final class VolumeWork {

    private final ClusterState state;

    VolumeWork(ClusterState state) {
        this.state = state;
    }

    /** The work item a placement asks for: one place for what the node is told, creation record included. */
    WorkItem workFor(Placement p) {
        return WorkItem.of(p.volume(), p.node(), p.pool(), p.engine(), p.sizeBytes(), p.thin(), p.generation(), sourceOf(p),
                exportFor(p.volume(), p.node(), p.engine())).withCreationRecord(p.mustExist(), p.emptySinceGeneration());
    }

    /**
     * The export for the attachments whose consumers reach the volume over the network
     * ({@link Reach#EXPORT}): every such host NQN. A consumer on the serving node, or handed the
     * device on the same machine, needs none.
     *
     * <p>Whether a consumer shares the serving node's machine rests on both registrations, and one
     * goes missing whenever an agent restarts or its lease lapses. Missing says nothing about where a
     * node runs, so the last registration this controller saw of it stands in: an agent's restart
     * does not export a handed-over volume and withdraw the export moments later. A node never seen
     * registered (a bare host attached with ferryctl, or any node after this controller started while
     * it was down) follows the rule as it is: an export.
     */
    ExportSpec exportFor(String volume, String servingNode, Engine engine) {
        NodeRegistration serving = state.lastKnownRegistration(servingNode).orElse(null);
        Set<String> hosts = new TreeSet<>();
        String consumer = null;
        for (Attachment a : state.attachmentsOf(volume)) {
            NodeRegistration consumerRegistration = state.lastKnownRegistration(a.node()).orElse(null);
            if (refused(a, consumerRegistration)) {
                continue;
            }
            if (Reach.of(servingNode, serving, engine, a.node(), consumerRegistration).needsExport()) {
                hosts.add(a.hostNqn());
                if (consumer == null || a.node().compareTo(consumer) < 0) {
                    consumer = a.node();
                }
            }
        }
        return hosts.isEmpty() ? null : ExportSpec.tcp(consumer, hosts);
    }

    /** The {@code Attached} condition while an attachment of the volume is refused; null otherwise. */
    Condition attachmentRefusal(String volume, long observed) {
        for (Attachment a : state.attachmentsOf(volume)) {
            NodeRegistration registration = state.lastKnownRegistration(a.node()).orElse(null);
            if (refused(a, registration)) {
                return Condition.failed(Condition.ATTACHED, FailureReason.ATTACHMENT_REFUSED, "the attachment to "
                        + a.node() + " names host NQN " + a.hostNqn() + ", but node " + a.node() + " registered "
                        + registration.hostNqn() + ": nothing is exported to it", observed, 0);
            }
        }
        return null;
    }

    /** Whether two work items tell the node the same, their generation aside. */
    static boolean sameWork(WorkItem a, WorkItem b) {
        return a.sizeBytes() == b.sizeBytes() && a.pool().equals(b.pool()) && a.engine() == b.engine() && a.thin() == b.thin()
                && Objects.equals(a.source(), b.source()) && Objects.equals(a.export(), b.export())
                && a.mustExist() == b.mustExist() && a.emptySinceGeneration() == b.emptySinceGeneration();
    }

    /**
     * Whether an attachment claims a host NQN its node did not register. The export's allow-list is
     * the one access control NVMe/TCP has here, so it takes only identities the nodes stated
     * themselves; a node never seen registered (a bare host attached with ferryctl) has nothing to
     * compare with and is taken at its word.
     */
    private static boolean refused(Attachment a, NodeRegistration registration) {
        return registration != null && !registration.hostNqn().equals(a.hostNqn());
    }

    private static VolumeSource sourceOf(Placement p) {
        if (p.emptySinceGeneration() > 0) {
            // The operator replaced the lost volume by an empty one; its source is history.
            return null;
        }
        if (p.sourceSnapshot() != null) {
            return VolumeSource.snapshot(p.sourceSnapshot(), p.pool());
        }
        return p.sourceVolume() == null ? null : VolumeSource.volume(p.sourceVolume(), p.pool());
    }
}
