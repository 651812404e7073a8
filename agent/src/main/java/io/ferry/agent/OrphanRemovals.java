package io.ferry.agent;

import io.ferry.model.OrphanRemoval;
import io.ferry.model.OrphanRemovalOutcome;
import io.ferry.model.OrphanRemovalResult;
import io.vertx.core.Future;

import java.util.Optional;

/**
 * Carries out operators' orders to remove orphans ({@code <prefix>/orphan-removals/<node>/<id>}),
 * answered under {@code nodes/<node>/orphan-removals/<id>} through {@link OrphanOrders}.
 *
 * <p>An order is the only way an orphan is ever removed, and it removes only what
 * {@link OrphanTargets} allows: a volume that still exists in one of this node's pools, carries
 * this cluster's ownership marker, and is named by no work item and no placement.
 */
final class OrphanRemovals {

    private final NodeContext ctx;
    private final OrphanTargets targets;

    OrphanRemovals(NodeContext ctx, OrphanTargets targets) {
        this.ctx = ctx;
        this.targets = targets;
    }

    OrphanOrders.Kind<OrphanRemoval, OrphanRemovalResult> kind() {
        return new OrphanOrders.Kind<>("orphan removal", ctx.keys.orphanRemovals(ctx.node),
                id -> ctx.keys.orphanRemovalResult(ctx.node, id), ctx.keys.orphanRemovalResults(ctx.node),
                OrphanRemoval.class, OrphanRemoval::id, this::carryOut,
                r -> r.object() + ": " + r.outcome() + ": " + r.message());
    }

    private Future<OrphanRemovalResult> carryOut(OrphanRemoval order) {
        return targets.locate(order.object()).compose(located -> {
            if (located.refusal() != null) {
                return Future.succeededFuture(result(order, OrphanRemovalOutcome.REFUSED, located.refusal().message()));
            }
            return ctx.vertx.executeBlocking(() -> remove(order, located.target()), false);
        }).recover(err -> Future.succeededFuture(result(order, OrphanRemovalOutcome.REFUSED, "not removed: the checks"
                + " could not be made: " + StatusMessages.describe(err))));
    }

    /** On a worker: the last checks against the storage itself, then the removal. */
    private OrphanRemovalResult remove(OrphanRemoval order, OrphanTargets.Target target) {
        try {
            Optional<OrphanTargets.Refusal> refusal = targets.recheck(target, order.object());
            if (refusal.isPresent()) {
                return result(order, OrphanRemovalOutcome.REFUSED, refusal.get().message() + "; not removed");
            }
            target.engine().removeOrphan(target.pool(), target.volume());
            return result(order, OrphanRemovalOutcome.DONE, "removed " + order.object() + " (" + target.sizeBytes()
                    + " bytes) from pool " + target.pool().name());
        } catch (RuntimeException e) {
            return result(order, OrphanRemovalOutcome.REFUSED, "not removed: " + e.getMessage());
        }
    }

    private OrphanRemovalResult result(OrphanRemoval order, OrphanRemovalOutcome outcome, String message) {
        return OrphanRemovalResult.of(order.id(), ctx.node, order.object(), outcome,
                message.length() > 4000 ? message.substring(0, 4000) : message, Clock.now());
    }
}
