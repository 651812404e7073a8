package io.ferry.agent;

import io.ferry.agent.engine.Inventory;
import io.ferry.agent.engine.LocalVolume;
import io.ferry.agent.engine.VolumeEngine;
import io.ferry.model.OrphanOwner;
import io.ferry.model.OrphanRefusal;
import io.ferry.model.PoolConfig;
import io.vertx.core.Future;

import java.util.Optional;

/**
 * The one place for the rule every order about an orphan obeys: Ferry acts on an orphan only if it
 * still exists in one of this node's pools, carries this cluster's ownership marker, and no work
 * item and no placement names its volume. Anything else is refused, with the reason, before
 * anything is changed.
 */
final class OrphanTargets {

    /** Where the named object lives: a volume of one of this node's pools, as the inventory found it. */
    record Target(PoolConfig pool, VolumeEngine engine, String volume, long sizeBytes) {
    }

    /** Why an order is refused; nothing was changed. */
    record Refusal(OrphanRefusal reason, String message) {
    }

    /** Either the target, or why there is none to act on. */
    record Located(Target target, Refusal refusal) {
        static Located refused(OrphanRefusal reason, String message) {
            return new Located(null, new Refusal(reason, message));
        }
    }

    private final NodeContext ctx;

    OrphanTargets(NodeContext ctx) {
        this.ctx = ctx;
    }

    /**
     * Finds the object and checks etcd: no work item (the agent's cache) and no placement (asked
     * fresh). The storage's own marker is checked last, on a worker, by {@link #recheck}.
     */
    Future<Located> locate(String object) {
        return ctx.vertx.executeBlocking(() -> find(object), false).compose(found -> {
            if (found.isEmpty()) {
                return Future.succeededFuture(Located.refused(OrphanRefusal.NOT_FOUND, "no volume of this node's pools"
                        + " is named " + object + " (exports and snapshots cannot be named here; names are as"
                        + " `ferryctl orphan ls` shows them)"));
            }
            String volume = found.get().volume();
            if (ctx.workItem(volume).isPresent() || ctx.workItemIsBad(volume)) {
                return Future.succeededFuture(Located.refused(OrphanRefusal.NAMED_BY_WORK_ITEM, "work item "
                        + ctx.keys.workItem(ctx.node, volume) + " names it: it is not an orphan"));
            }
            String placementKey = ctx.keys.placement(volume);
            return ctx.store.getRaw(placementKey).map(placement -> placement.isPresent()
                    ? Located.refused(OrphanRefusal.NAMED_BY_PLACEMENT, "placement " + placementKey + " names it: the"
                    + " controller still knows the volume")
                    : new Located(found.get(), null));
        });
    }

    /**
     * On a worker, right before acting: the work item may have appeared while etcd was asked, and
     * only the storage itself can say whose the object is.
     */
    Optional<Refusal> recheck(Target target, String object) {
        String volume = target.volume();
        if (ctx.workItem(volume).isPresent()) {
            return Optional.of(new Refusal(OrphanRefusal.NAMED_BY_WORK_ITEM, "a work item for " + volume
                    + " appeared meanwhile"));
        }
        Optional<OrphanOwner> owner = target.engine().owner(target.pool(), volume);
        if (owner.isEmpty()) {
            return Optional.of(new Refusal(OrphanRefusal.NOT_FOUND, object + " no longer exists"));
        }
        if (owner.get() != OrphanOwner.THIS_CLUSTER) {
            return Optional.of(new Refusal(owner.get() == OrphanOwner.OTHER_CLUSTER ? OrphanRefusal.OTHER_CLUSTER
                    : OrphanRefusal.UNMARKED, object + " does not carry this cluster's ownership marker (it is "
                    + owner.get() + "); Ferry never removes or adopts it"));
        }
        return Optional.empty();
    }

    private Optional<Target> find(String object) {
        for (PoolConfig pool : ctx.ownPools()) {
            Optional<VolumeEngine> engine = ctx.engine(pool.engine());
            if (engine.isEmpty()) {
                continue;
            }
            Inventory inventory = engine.get().inventory(pool);
            for (LocalVolume v : inventory.volumes()) {
                if (OrphanScanner.objectName(pool, v.name()).equals(object)) {
                    return Optional.of(new Target(pool, engine.get(), v.name(), v.sizeBytes()));
                }
            }
            for (Inventory.Unowned u : inventory.unowned()) {
                if (OrphanScanner.objectName(pool, u.volume()).equals(object)) {
                    return Optional.of(new Target(pool, engine.get(), u.volume(), u.sizeBytes()));
                }
            }
        }
        return Optional.empty();
    }
}
