package io.ferry.agent;

import io.ferry.agent.engine.EngineException;
import io.ferry.agent.engine.VolumeEngine;
import io.ferry.model.ValidationException;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.FailureReason;
import io.ferry.model.Placement;
import io.ferry.model.PoolConfig;
import io.ferry.model.SnapshotStatus;
import io.ferry.model.Sizes;
import io.ferry.model.VolumePhase;
import io.ferry.model.VolumeStatus;
import io.ferry.model.WorkItem;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import java.util.Objects;
import java.util.Optional;

/**
 * What a work item must satisfy before anything is created or grown for it: rules that need its
 * pool, a placement by the controller that accounts for it, and a source that still exists.
 */
final class WorkItemChecks {

    private final NodeContext ctx;
    private final StatusWriter statuses;

    WorkItemChecks(NodeContext ctx, StatusWriter statuses) {
        this.ctx = ctx;
        this.statuses = statuses;
    }

    /** Work item rules the model cannot check alone because they need the pool. */
    static String validate(WorkItem item, PoolConfig pool) {
        if (pool.engine() != item.engine()) {
            return "work item asks for engine " + item.engine() + " but pool " + pool.name() + " is "
                    + pool.engine();
        }
        if (item.sizeBytes() > Sizes.MAX_VOLUME_BYTES) {
            return "sizeBytes " + item.sizeBytes() + " exceeds the largest volume, " + Sizes.MAX_VOLUME_BYTES
                    + " bytes";
        }
        if (item.thin() && !item.engine().thin()) {
            return "engine " + item.engine() + " cannot hold thin volumes";
        }
        if (!item.thin() && !item.engine().thick()) {
            return "engine " + item.engine() + " holds only thin volumes";
        }
        if (item.source() != null && !item.source().pool().equals(item.pool())) {
            return "the source " + (item.source().snapshot() != null ? "snapshot " + item.source().snapshot()
                    : "volume " + item.source().volume()) + " is in pool " + item.source().pool()
                    + "; a volume can only be created from a source in its own pool " + item.pool();
        }
        if (item.source() != null && item.source().volume() != null && item.source().volume().equals(item.volume())) {
            return "a volume cannot be cloned from itself";
        }
        return null;
    }

    /**
     * Why the volume must already exist, or null when creating it is right. The controller's record
     * (the work item's {@code mustExist}, from the placement) holds even when this node's status is
     * gone; the node's own status holds even under a controller that predates the record. Either
     * counts only from the generation at which an operator last replaced a lost volume by an empty
     * one: what was recorded before that belonged to the volume the operator gave up.
     */
    static String createdBefore(WorkItem item, Optional<VolumeStatus> status) {
        if (item.mustExist()) {
            return "the controller's placement records its first creation";
        }
        return status.filter(VolumeStatuses::wasCreated)
                .filter(st -> st.observedGeneration() >= item.emptySinceGeneration())
                .map(st -> "status " + st.phase().value() + ", " + st.sizeBytes() + " bytes")
                .orElse(null);
    }

    /**
     * Only the controller gives work. It writes a volume's placement (charged to its pool's ledger)
     * and its work item in one transaction, so a work item asking this node for space that no
     * placement accounts for was written by someone else: a hand-written or forged key would
     * otherwise make the agent fill a pool outside the ledger, or copy another volume's data into a
     * new one. Checked before anything is created or grown (a point read, on this worker thread);
     * what already exists is left as it is.
     */
    void requirePlacement(WorkItem item) throws Exception {
        String key = ctx.keys.placement(item.volume());
        Placement p;
        try {
            p = ctx.store.get(key, Placement.class).toCompletionStage().toCompletableFuture()
                    .get(ctx.store.requestTimeout().toMillis(), TimeUnit.MILLISECONDS)
                    .map(Versioned::value).orElse(null);
        } catch (ExecutionException e) {
            if (FailureClassifier.unwrap(e) instanceof ValidationException invalid) {
                throw unplaced(item, key + " does not decode (" + invalid.getMessage() + ")");
            }
            throw e;
        }
        String why = p == null ? "no placement exists for it (" + key + ")"
                : !p.node().equals(ctx.node) ? "its placement is on node " + p.node()
                : !p.pool().equals(item.pool()) ? "its placement is in pool " + p.pool()
                : p.engine() != item.engine() ? "its placement is for engine " + p.engine().value()
                : p.sizeBytes() < item.sizeBytes() ? "its placement holds " + p.sizeBytes() + " bytes, not " + item.sizeBytes()
                : !Objects.equals(sourceOf(p), sourceOf(item)) ? "its placement's source is " + sourceOf(p)
                : null;
        if (why != null) {
            throw unplaced(item, why);
        }
    }

    private EngineException unplaced(WorkItem item, String why) {
        return new EngineException("work item " + ctx.keys.workItem(ctx.node, item.volume()) + " asks for volume "
                + item.volume() + " in pool " + item.pool() + " (" + item.sizeBytes() + " bytes), but " + why
                + "; only work the controller gives is carried out, and nothing was created or grown",
                FailureReason.UNPLACED_WORK);
    }

    /** A placement's or a work item's source, in one form for comparing: null, snapshot:NAME or volume:NAME. */
    private static String sourceOf(Placement p) {
        return p.emptySinceGeneration() > 0 ? null : p.sourceSnapshot() != null ? "snapshot:" + p.sourceSnapshot()
                : p.sourceVolume() != null ? "volume:" + p.sourceVolume() : null;
    }

    private static String sourceOf(WorkItem item) {
        return item.source() == null ? null : item.source().snapshot() != null ? "snapshot:" + item.source().snapshot()
                : "volume:" + item.source().volume();
    }

    /**
     * A clone or a volume from a snapshot needs its source; one this node created and no longer finds
     * is lost, which retrying cannot fix (the source coming back enqueues the work again). A source
     * not created yet is the engine's to report, and is retried.
     */
    void requireSource(WorkItem item, PoolConfig pool, VolumeEngine engine) {
        if (item.source() == null) {
            return;
        }
        if (item.source().volume() != null) {
            String source = item.source().volume();
            Optional<VolumeStatus> st = VolumeStatuses.latestStatus(ctx, statuses, source).filter(VolumeStatuses::wasCreated);
            if (st.isPresent() && (st.get().phase() == VolumePhase.LOST || engine.findVolume(pool, source).isEmpty())) {
                throw EngineException.of(FailureReason.SOURCE_LOST, "source volume " + source + " was created on node "
                        + ctx.node + " and pool " + pool.name() + " no longer has it; volume " + item.volume()
                        + " cannot be cloned from it until it is back");
            }
        } else if (item.source().snapshot() != null) {
            String source = item.source().snapshot();
            if (ctx.snapshotStatus(source).filter(SnapshotStatus::readyToUse).isPresent()
                    && engine.findSnapshot(pool, source).isEmpty()) {
                throw EngineException.of(FailureReason.SOURCE_LOST, "snapshot " + source + " was cut on node "
                        + ctx.node + " and pool " + pool.name() + " no longer has it; volume " + item.volume()
                        + " cannot be made from it until it is back");
            }
        }
    }
}
