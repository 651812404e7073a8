package io.ferry.controller;

import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.Leadership;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.FailureReason;
import io.ferry.model.Ledger;
import io.ferry.model.Placement;
import io.ferry.model.SchedulingPhase;
import io.ferry.model.VolumeIntent;
import io.ferry.model.WorkItem;
import io.ferry.placement.Candidate;
import io.vertx.core.Future;

import java.util.Map;
import java.util.Optional;

/**
 * The grow step: a placed volume whose intent asks for more bytes takes them from its pool, with its
 * placement, work item (next generation) and the pool's ledger in one transaction; without room it is
 * marked waiting for room and its record says how much is missing. Runs in the serial lane, as every
 * ledger commit does.
 */
final class GrowStep {

    private final DecisionContext ctx;
    private final ClusterState state;
    private final FerryKeys keys;
    private final SerialLane lane;
    private final VolumeWork volumeWork;
    private final VolumeRecord volumeRecord;
    private final WaitingForRoom waitingForRoom;

    GrowStep(DecisionContext ctx, SerialLane lane, VolumeWork volumeWork, VolumeRecord volumeRecord,
             WaitingForRoom waitingForRoom) {
        this.ctx = ctx;
        this.state = ctx.state();
        this.keys = ctx.keys();
        this.lane = lane;
        this.volumeWork = volumeWork;
        this.volumeRecord = volumeRecord;
        this.waitingForRoom = waitingForRoom;
    }

    /** Grows the volume to its intent's size, in its turn on the serial lane; nothing to do is done. */
    Future<Void> request(String volume) {
        return lane.submit(() -> grow(volume, 0));
    }

    private Future<Void> grow(String volume, int attempt) {
        Optional<Leadership> leader = ctx.leadership().get();
        Versioned<VolumeIntent> intent = state.intent(volume).orElse(null);
        Versioned<Placement> placement = state.placement(volume).orElse(null);
        if (leader.isEmpty() || intent == null || placement == null || intent.value().sizeBytes() <= placement.value().sizeBytes()) {
            return Future.succeededFuture();
        }
        Placement current = placement.value();
        long delta = intent.value().sizeBytes() - current.sizeBytes();
        Candidate pool = state.candidate(current.pool()).orElse(null);
        if (pool == null || pool.free(current.thin()) < delta) {
            long free = pool == null ? 0 : Math.max(0, pool.free(current.thin()));
            // Room may come (a volume deleted, a ledger corrected): capacity changes try again.
            waitingForRoom.add(volume);
            return volumeRecord.writeScheduling(leader.get(), volume, SchedulingPhase.PLACED, null, Map.of(),
                    "cannot grow to " + intent.value().sizeBytes() + " bytes: pool " + current.pool() + " has " + free
                            + " bytes free and needs " + delta, current.node(), current.pool(), state.nodeAlive(current.node()),
                    intent.value().sizeBytes(), FailureReason.NO_SPACE);
        }
        Placement grown = current.withSize(intent.value().sizeBytes(), current.generation() + 1);
        Ledger ledger = pool.ledger().grow(delta);
        WorkItem work = volumeWork.workFor(grown);
        return ctx.store().txn().requireLeadership(leader.get())
                .requireModRevision(keys.placement(volume), placement.modRevision())
                .requireModRevision(keys.ledger(current.pool()), pool.ledgerRevision())
                .put(keys.placement(volume), grown)
                .put(keys.ledger(current.pool()), ledger)
                .put(keys.workItem(current.node(), volume), work)
                .commit().compose(outcome -> {
                    if (outcome.succeeded()) {
                        state.wrotePlacement(grown, outcome.revision());
                        state.wroteLedger(ledger, outcome.revision());
                        state.wroteWorkItem(work, outcome.revision());
                        return volumeRecord.writeScheduling(leader.get(), volume, SchedulingPhase.PLACED, Map.of(), null, current.node(),
                                current.pool(), state.nodeAlive(current.node()));
                    }
                    ctx.metrics().conflict();
                    if (attempt + 1 >= DecisionContext.MAX_COMMIT_ATTEMPTS) {
                        return Future.failedFuture(new IllegalStateException("growing " + volume + " kept losing races"));
                    }
                    return ctx.refresh(volume, current.pool()).compose(v -> grow(volume, attempt + 1));
                });
    }

}
