package io.ferry.controller;

import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.Leadership;
import io.ferry.etcd.store.Transaction;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.Ledger;
import io.ferry.model.Placement;
import io.ferry.model.VolumePhase;
import io.ferry.model.VolumeStatus;
import io.ferry.model.WorkItem;
import io.vertx.core.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The release step, the end of a deletion: once the node has given the volume up under the order in
 * force, its bytes go back to the pool's ledger and its placement, work item, record, intent and the
 * node's acknowledgement are removed, all in one transaction (shared by the volumes released together).
 */
final class ReleaseStep {

    private static final Logger log = LoggerFactory.getLogger(ReleaseStep.class);
    /**
     * Releases per batch: five deletes (placement, work item, record, intent, the node's
     * acknowledgement) plus at most one ledger put each, even when every volume is in another pool.
     */
    static final int MAX_RELEASE_BATCH = DecisionContext.MAX_TXN_OPS / 6;

    private final DecisionContext ctx;
    private final ClusterState state;
    private final FerryKeys keys;
    private final BatchQueue toRelease;

    ReleaseStep(DecisionContext ctx, SerialLane lane) {
        this.ctx = ctx;
        this.state = ctx.state();
        this.keys = ctx.keys();
        this.toRelease = new BatchQueue(lane, MAX_RELEASE_BATCH, this::releaseBatch);
    }

    /** Like placements, releases that arrive during a commit share the next transaction. */
    Future<Void> request(String volume) {
        return toRelease.add(volume);
    }

    /** A release as decided: the placement and, when the node answered, its acknowledgement. */
    record Release(Versioned<Placement> placement, Versioned<VolumeStatus> acknowledgement) {
        Placement value() {
            return placement.value();
        }
    }

    /**
     * The release of a volume whose node has given it up under the order in force, or null while it
     * must wait. The node gives it up with its acknowledgement, the status {@code Deleted} at the
     * order's generation or later, which the release removes with the order it answers (guarded by
     * its revision: exactly that acknowledgement); or, down and never having reported the volume,
     * with nothing at all, having nothing to acknowledge (should the volume turn up there after all,
     * its agent keeps it and reports an orphan: a leak, never a loss).
     */
    Release plan(String volume) {
        Versioned<Placement> placement = state.placement(volume).orElse(null);
        if (placement == null) {
            return null;
        }
        Placement p = placement.value();
        WorkItem order = state.workItem(p.node(), volume).map(Versioned::value).filter(WorkItem::deletionRequested).orElse(null);
        if (order == null) {
            return null;
        }
        Versioned<VolumeStatus> status = state.volumeStatusEntry(p.node(), volume).orElse(null);
        if (status != null && status.value().phase() == VolumePhase.DELETED
                && status.value().observedGeneration() >= order.generation()) {
            return new Release(placement, status);
        }
        return status == null && !state.nodeAlive(p.node()) ? new Release(placement, null) : null;
    }

    /**
     * Releases every volume of the batch in one transaction: each pool's ledger is put once, with
     * all of the batch's bytes taken out. A lost race sends each volume down the one-at-a-time path.
     */
    private Future<Void> releaseBatch(List<String> volumes) {
        Optional<Leadership> leader = ctx.leadership().get();
        if (leader.isEmpty()) {
            return Future.succeededFuture();
        }
        if (volumes.size() == 1) {
            return release(volumes.get(0), 0);
        }
        Map<String, Long> ledgerRevisions = new LinkedHashMap<>();
        Map<String, Ledger> ledgers = new HashMap<>();
        List<Release> released = new ArrayList<>();
        Transaction txn = ctx.store().txn().requireLeadership(leader.get());
        for (String volume : volumes) {
            Release release = plan(volume);
            if (release == null) {
                continue;
            }
            Placement p = release.value();
            if (!ledgerRevisions.containsKey(p.pool())) {
                Versioned<Ledger> ledger = state.ledger(p.pool()).orElse(null);
                ledgerRevisions.put(p.pool(), ledger == null ? 0 : ledger.modRevision());
                ledgers.put(p.pool(), ledger == null ? null : ledger.value());
            }
            // No ledger at all (removed by hand?) is written back empty, as a release alone would.
            Ledger current = ledgers.get(p.pool());
            ledgers.put(p.pool(), current == null ? null : releaseSafely(current, p.sizeBytes()));
            addRelease(txn, release);
            released.add(release);
        }
        if (released.isEmpty()) {
            return Future.succeededFuture();
        }
        ledgers.replaceAll((pool, ledger) -> ledger == null ? Ledger.empty(pool) : ledger);
        ledgerRevisions.forEach((pool, revision) -> txn.requireModRevision(keys.ledger(pool), revision)
                .put(keys.ledger(pool), ledgers.get(pool)));
        return txn.commit().compose(outcome -> {
            if (outcome.succeeded()) {
                released.forEach(r -> released(r, outcome.revision()));
                ledgers.values().forEach(l -> state.wroteLedger(l, outcome.revision()));
                ctx.metrics().releaseBatch(released.size());
                return Future.succeededFuture();
            }
            ctx.metrics().conflict();
            Future<Void> chain = Future.succeededFuture();
            for (Release r : released) {
                chain = chain.compose(v -> release(r.value().volume(), 0));
            }
            return chain;
        });
    }

    private Future<Void> release(String volume, int attempt) {
        Optional<Leadership> leader = ctx.leadership().get();
        Release release = plan(volume);
        if (leader.isEmpty() || release == null) {
            return Future.succeededFuture();
        }
        Placement p = release.value();
        Versioned<Ledger> ledger = state.ledger(p.pool()).orElse(null);
        Ledger released = ledger == null ? Ledger.empty(p.pool()) : releaseSafely(ledger.value(), p.sizeBytes());
        Transaction txn = ctx.store().txn().requireLeadership(leader.get())
                .requireModRevision(keys.ledger(p.pool()), ledger == null ? 0 : ledger.modRevision())
                .put(keys.ledger(p.pool()), released);
        addRelease(txn, release);
        return txn.commit().compose(outcome -> {
            if (outcome.succeeded()) {
                state.wroteLedger(released, outcome.revision());
                released(release, outcome.revision());
                return Future.succeededFuture();
            }
            ctx.metrics().conflict();
            if (attempt + 1 >= DecisionContext.MAX_COMMIT_ATTEMPTS) {
                return Future.failedFuture(new IllegalStateException("releasing " + volume + " kept losing races"));
            }
            return ctx.refresh(volume, p.pool()).compose(v -> release(volume, attempt + 1));
        });
    }

    /**
     * The guards (placement, intent and acknowledgement unchanged) and the deletions of one release,
     * ledger aside. The node's acknowledgement goes in the same transaction as the order it answers:
     * the agent has nothing left to tidy up, and there is no moment at which one exists without the other.
     */
    private void addRelease(Transaction txn, Release release) {
        Placement p = release.value();
        String volume = p.volume();
        txn.requireModRevision(keys.placement(volume), release.placement().modRevision())
                .delete(keys.placement(volume))
                .delete(keys.workItem(p.node(), volume))
                .delete(keys.volumeScheduling(volume));
        state.intent(volume).ifPresent(intent ->
                txn.requireModRevision(keys.volume(volume), intent.modRevision()).delete(keys.volume(volume)));
        if (release.acknowledgement() != null) {
            String statusKey = keys.volumeStatus(p.node(), volume);
            txn.requireModRevision(statusKey, release.acknowledgement().modRevision()).delete(statusKey);
        }
    }

    private void released(Release release, long revision) {
        Placement p = release.value();
        state.removedPlacement(p, revision);
        state.removedWorkItem(p.node(), p.volume(), revision);
        state.removedScheduling(keys.volumeScheduling(p.volume()), revision);
        // Seen at once by the pass of a multi-part volume waiting for its parts to go.
        state.removedIntent(p.volume(), revision);
        if (release.acknowledgement() != null) {
            state.removedVolumeStatus(p.node(), p.volume(), revision);
        }
        ctx.metrics().deleted();
    }

    private static Ledger releaseSafely(Ledger ledger, long bytes) {
        if (ledger.allocatedBytes() < bytes || ledger.volumeCount() < 1) {
            // The ledger already lost these bytes (edited by hand?): clamp rather than wedge deletion.
            log.warn("ledger of {} holds {} bytes, less than the {} being released; clamping to zero",
                    ledger.pool(), ledger.allocatedBytes(), bytes);
            return new Ledger(ledger.schemaVersion(), ledger.pool(), Math.max(0, ledger.allocatedBytes() - bytes),
                    Math.max(0, ledger.volumeCount() - 1));
        }
        return ledger.release(bytes);
    }

}
