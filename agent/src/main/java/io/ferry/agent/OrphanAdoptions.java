package io.ferry.agent;

import io.ferry.etcd.store.BadValueException;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.OrphanAdoption;
import io.ferry.model.OrphanAdoptionResult;
import io.ferry.model.OrphanRefusal;
import io.ferry.model.Sizes;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumePhase;
import io.ferry.model.VolumeStatus;
import io.vertx.core.Future;

import java.util.Optional;

/**
 * Carries out operators' orders to adopt orphans ({@code <prefix>/orphan-adoptions/<node>/<id>}),
 * answered under {@code nodes/<node>/orphan-adoptions/<id>} through {@link OrphanOrders}: the way
 * back for a volume of this cluster that Ferry has lost every record of (an etcd restored from a
 * backup older than the volume).
 *
 * <p>Adopting writes the node's status of the volume (pool, size, phase {@code Pending}) and
 * nothing else; the data is never touched. That status is the record the controller rebuilds the
 * placement and work item from, with the first-creation record, once an intent names this node in
 * {@code adoptFromNode}; the agent then adopts the volume through its work item as it is. Only what
 * {@link OrphanTargets} allows is adopted, and only when the engine can say its size, no intent of
 * its name asks for deletion, and the node's own status of it (if any) can be rebuilt from.
 */
final class OrphanAdoptions {

    private final NodeContext ctx;
    private final OrphanTargets targets;
    private final StatusWriter statuses;

    OrphanAdoptions(NodeContext ctx, OrphanTargets targets, StatusWriter statuses) {
        this.ctx = ctx;
        this.targets = targets;
        this.statuses = statuses;
    }

    OrphanOrders.Kind<OrphanAdoption, OrphanAdoptionResult> kind() {
        return new OrphanOrders.Kind<>("orphan adoption", ctx.keys.orphanAdoptions(ctx.node),
                id -> ctx.keys.orphanAdoptionResult(ctx.node, id), ctx.keys.orphanAdoptionResults(ctx.node),
                OrphanAdoption.class, OrphanAdoption::id, this::carryOut,
                r -> r.object() + ": " + r.outcome() + (r.reason() == null ? "" : " (" + r.reason() + ")") + ": "
                        + r.message());
    }

    private Future<OrphanAdoptionResult> carryOut(OrphanAdoption order) {
        return targets.locate(order.object()).compose(located -> {
            if (located.refusal() != null) {
                return refused(order, located.refusal().reason(), located.refusal().message());
            }
            OrphanTargets.Target target = located.target();
            return deletionAsked(target.volume()).compose(asked -> asked.isPresent()
                    ? refused(order, asked.get().reason(), asked.get().message())
                    : ctx.vertx.executeBlocking(() -> targets.recheck(target, order.object()), false)
                    .compose(refusal -> refusal.isPresent()
                            ? refused(order, refusal.get().reason(), refusal.get().message())
                            : record(order, target)));
        }).recover(err -> refused(order, OrphanRefusal.CHECK_FAILED, "not adopted: the checks could not be made: "
                + StatusMessages.describe(err)));
    }

    /** An intent of the volume that asks for its deletion would have the adopted volume deleted at once. */
    private Future<Optional<OrphanTargets.Refusal>> deletionAsked(String volume) {
        String key = ctx.keys.volume(volume);
        return ctx.store.get(key, VolumeIntent.class)
                .map(intent -> intent.map(Versioned::value).filter(VolumeIntent::deletionRequested)
                        .map(i -> new OrphanTargets.Refusal(OrphanRefusal.DELETION_REQUESTED, "intent " + key
                                + " asks for the volume's deletion; adopting it would have it deleted")))
                .recover(err -> err instanceof BadValueException
                        ? Future.succeededFuture(Optional.of(new OrphanTargets.Refusal(OrphanRefusal.CHECK_FAILED,
                        "intent " + key + " cannot be read (" + err.getMessage() + "); fix it first")))
                        : Future.failedFuture(err));
    }

    /** Writes the status the controller rebuilds from, unless the node's own status already is one. */
    private Future<OrphanAdoptionResult> record(OrphanAdoption order, OrphanTargets.Target target) {
        String volume = target.volume();
        String pool = target.pool().name();
        String statusKey = ctx.keys.volumeStatus(ctx.node, volume);
        Optional<VolumeStatus> mine = statuses.last(statusKey);
        Optional<VolumeStatus> existing = mine.isPresent() ? mine : ctx.volumeStatus(volume);
        if (existing.isPresent()) {
            VolumeStatus st = existing.get();
            if (st.phase() == VolumePhase.DELETING || st.phase() == VolumePhase.DELETED) {
                return refused(order, OrphanRefusal.STATUS_CONFLICT, "status " + statusKey + " says "
                        + st.phase().value() + ": a deletion was under way, part of the data may be gone");
            }
            if (st.pool() != null && !st.pool().equals(pool)) {
                return refused(order, OrphanRefusal.STATUS_CONFLICT, "status " + statusKey + " names pool " + st.pool()
                        + ", not " + pool + " where " + order.object() + " is");
            }
            if (st.pool() != null && st.sizeBytes() > 0) {
                return done(order, target, st.sizeBytes(), "its status " + statusKey + " already records it");
            }
        }
        if (target.sizeBytes() <= 0) {
            return refused(order, OrphanRefusal.SIZE_UNKNOWN, "engine " + target.pool().engine() + " cannot say how"
                    + " large " + order.object() + " is; without a size the controller cannot account for it");
        }
        if (target.sizeBytes() % Sizes.ALIGNMENT != 0 || target.sizeBytes() > Sizes.MAX_VOLUME_BYTES) {
            return refused(order, OrphanRefusal.NOT_A_VOLUME_SIZE, order.object() + " is " + target.sizeBytes()
                    + " bytes, not a multiple of " + Sizes.ALIGNMENT + " (or larger than the largest volume) as every"
                    + " volume Ferry makes; its intent could only name it by growing it, so it is not adopted");
        }
        VolumeStatus adopted = VolumeStatus.of(volume, ctx.node, pool, VolumePhase.PENDING, null, target.sizeBytes(),
                null, 0, "adopted on order " + order.id() + " (" + order.object() + "); waiting for an intent with"
                        + " adoptFromNode " + ctx.node + " and the placement the controller rebuilds from this status",
                Clock.now());
        // An unusable status of our own (no pool or size, from an older agent) is replaced; any other
        // status appearing meanwhile is never overwritten.
        Future<Boolean> written = existing.isPresent() ? statuses.volume(statusKey, adopted, existing).map(true)
                : statuses.volumeIfAbsent(statusKey, adopted);
        return written.compose(ok -> ok ? done(order, target, target.sizeBytes(), "status " + statusKey
                + " now records it") : refused(order, OrphanRefusal.STATUS_CONFLICT, "a status " + statusKey
                + " appeared meanwhile; give the order again to check it"));
    }

    private Future<OrphanAdoptionResult> done(OrphanAdoption order, OrphanTargets.Target target, long size,
            String how) {
        return Future.succeededFuture(OrphanAdoptionResult.done(order.id(), ctx.node, order.object(), "adopted "
                + order.object() + " as volume " + target.volume() + " (" + size + " bytes) in pool "
                + target.pool().name() + ": " + how + "; its data is unchanged", target.volume(), target.pool().name(),
                target.pool().engine(), size, Clock.now()));
    }

    private Future<OrphanAdoptionResult> refused(OrphanAdoption order, OrphanRefusal reason, String message) {
        return Future.succeededFuture(OrphanAdoptionResult.refused(order.id(), ctx.node, order.object(), reason,
                message.length() > 4000 ? message.substring(0, 4000) : message, Clock.now()));
    }
}
