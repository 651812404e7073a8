package io.ferry.controller;

import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.Leadership;
import io.ferry.etcd.store.Transaction;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.Placement;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeParts;
import io.ferry.placement.Candidate;
import io.vertx.core.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;

/**
 * Growing a volume of several parts (docs/layouts.md, "Growing a multi-part volume"). When the
 * volume's intent asks for more bytes than its parts assemble, every part that must grow (each leg
 * of a mirror, each stripe, a linear volume's last segment) is checked for room in its pool first,
 * so that a volume is not left with some parts grown and the rest refused for want of space; then
 * one transaction, guarded by leadership, the volume's intent, its parts record and each changed
 * part's intent, writes the parts record with the new sizes and each changed part's intent with its
 * new size. From there each part grows as any single volume does ({@link GrowStep}: its ledger,
 * placement and work item, then its agent), and the consumer grows the assembled device once every
 * part reports its new size.
 *
 * <p>A pool that fills between the check and a part's own growth leaves that part waiting for room,
 * its record saying so, while the others have grown: the ledgers stay right, and the volume grows
 * once room comes. Parts never shrink.
 */
final class PartsGrowth {

    private static final Logger log = LoggerFactory.getLogger(PartsGrowth.class);

    private final DecisionContext ctx;
    private final ClusterState state;
    private final FerryKeys keys;
    private final WaitingForRoom waitingForRoom;

    PartsGrowth(DecisionContext ctx, WaitingForRoom waitingForRoom) {
        this.ctx = ctx;
        this.state = ctx.state();
        this.keys = ctx.keys();
        this.waitingForRoom = waitingForRoom;
    }

    /** One part to grow: its intent as read, and its size and its pool's room. */
    private record Growth(Versioned<VolumeIntent> intent, long sizeBytes) {
    }

    /**
     * Grows the parts for the intent's size when it is larger than what they assemble; completes with
     * why it cannot now (no room, a part without intent or placement), or null when there was nothing
     * to do or the growth was committed.
     */
    Future<String> grow(Leadership leader, Versioned<VolumeIntent> intent, Versioned<VolumeParts> placed) {
        VolumeIntent spec = intent.value();
        VolumeParts parts = placed.value();
        if (spec.sizeBytes() <= parts.assembledBytes()) {
            return Future.succeededFuture(null);
        }
        VolumeParts next = parts.grownTo(spec.sizeBytes());
        List<Growth> growths = new ArrayList<>();
        List<String> lacking = new ArrayList<>();
        for (VolumeParts.Part part : next.parts()) {
            Versioned<VolumeIntent> partIntent = state.intent(part.name()).orElse(null);
            Placement placement = state.placement(part.name()).map(Versioned::value).orElse(null);
            if (partIntent == null || placement == null) {
                return Future.succeededFuture("cannot grow to " + spec.sizeBytes() + " bytes: part " + part.name()
                        + " has no " + (partIntent == null ? "intent" : "placement") + " now");
            }
            long delta = part.sizeBytes() - placement.sizeBytes();
            if (partIntent.value().sizeBytes() >= part.sizeBytes() && delta <= 0) {
                continue;
            }
            Candidate pool = state.candidate(placement.pool()).orElse(null);
            long free = pool == null ? 0 : Math.max(0, pool.free(placement.thin()));
            if (delta > 0 && free < delta) {
                lacking.add("pool " + placement.pool() + " has " + free + " bytes free and part " + part.name()
                        + " needs " + delta);
            }
            growths.add(new Growth(partIntent, part.sizeBytes()));
        }
        if (!lacking.isEmpty()) {
            // Room may come (a volume deleted, a pool grown): capacity changes try again.
            waitingForRoom.add(spec.name());
            return Future.succeededFuture("cannot grow to " + spec.sizeBytes() + " bytes: " + String.join("; ", lacking)
                    + "; no part is grown until every part has room");
        }
        waitingForRoom.remove(spec.name());
        Transaction txn = ctx.store().txn().requireLeadership(leader)
                .requireModRevision(keys.volume(spec.name()), intent.modRevision())
                .requireModRevision(keys.volumeParts(spec.name()), placed.modRevision())
                .put(keys.volumeParts(spec.name()), next);
        List<VolumeIntent> written = new ArrayList<>();
        for (Growth growth : growths) {
            VolumeIntent grown = growth.intent().value().withSizeBytes(growth.sizeBytes());
            written.add(grown);
            txn.requireModRevision(keys.volume(grown.name()), growth.intent().modRevision())
                    .put(keys.volume(grown.name()), grown);
        }
        return txn.commit().compose(outcome -> {
            if (!outcome.succeeded()) {
                ctx.metrics().conflict();
                return Future.failedFuture(new IllegalStateException("growing the parts of " + spec.name()
                        + " lost a race (its intent, its parts record or a part's intent changed); retrying"));
            }
            state.wroteParts(next, outcome.revision());
            written.forEach(w -> state.wroteIntent(w, outcome.revision()));
            log.info("{} volume {}: parts grown to {} bytes in total ({}); each part now grows in its pool",
                    next.layout(), spec.name(), next.assembledBytes(), String.join(", ", written.stream()
                            .map(w -> w.name() + " " + w.sizeBytes()).toList()));
            return Future.succeededFuture(null);
        });
    }
}
