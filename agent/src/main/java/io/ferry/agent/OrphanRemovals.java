package io.ferry.agent;

import io.ferry.agent.engine.Inventory;
import io.ferry.agent.engine.LocalVolume;
import io.ferry.agent.engine.VolumeEngine;
import io.ferry.etcd.informer.Informer;
import io.ferry.etcd.informer.InformerHandler;
import io.ferry.etcd.informer.InformerOptions;
import io.ferry.etcd.store.RawEntry;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.OrphanOwner;
import io.ferry.model.OrphanRemoval;
import io.ferry.model.OrphanRemovalOutcome;
import io.ferry.model.OrphanRemovalResult;
import io.ferry.model.PoolConfig;
import io.ferry.model.ValidationException;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Carries out operators' orders to remove orphans ({@code <prefix>/orphan-removals/<node>/<id>})
 * and answers each once under {@code nodes/<node>/orphan-removals/<id>}.
 *
 * <p>An order is the only way an orphan is ever removed, and it removes only a volume that still
 * exists in one of this node's pools, carries this cluster's ownership marker, and is named by no
 * work item and no placement. Anything else is refused, with the reason, before anything is
 * changed. Orders run one at a time; an order that already has an answer is never run again, and
 * an answer whose order has been withdrawn is removed.
 */
final class OrphanRemovals implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(OrphanRemovals.class);

    private final NodeContext ctx;
    private final Informer<OrphanRemoval> orders;
    private final Set<String> running = ConcurrentHashMap.newKeySet();
    private Future<Void> tail = Future.succeededFuture();

    OrphanRemovals(NodeContext ctx, MeterRegistry registry) {
        this.ctx = ctx;
        this.orders = new Informer<>(ctx.vertx, ctx.store, ctx.keys.orphanRemovals(ctx.node), OrphanRemoval.class,
                new Handler(), InformerOptions.defaults(), registry);
    }

    /** Starts watching; answers left without an order (withdrawn while the agent was down) are removed. */
    Future<Void> start() {
        return orders.start().compose(v -> ctx.store.listRaw(ctx.keys.orphanRemovalResults(ctx.node)))
                .compose(listing -> {
                    for (RawEntry answer : listing.entries()) {
                        String id = NodeContext.lastSegment(answer.key());
                        if (orders.get(ctx.keys.orphanRemovals(ctx.node) + id).isEmpty()) {
                            ctx.store.delete(answer.key());
                        }
                    }
                    return Future.<Void>succeededFuture();
                })
                .recover(err -> {
                    log.warn("cannot tidy the answers to orphan removal orders: {}", err.getMessage());
                    return Future.succeededFuture();
                });
    }

    private final class Handler implements InformerHandler<OrphanRemoval> {
        @Override
        public void onUpsert(Versioned<OrphanRemoval> current, Versioned<OrphanRemoval> previous) {
            submit(current.value());
        }

        @Override
        public void onDelete(String key, Versioned<OrphanRemoval> lastKnown) {
            String id = NodeContext.lastSegment(key);
            ctx.store.delete(ctx.keys.orphanRemovalResult(ctx.node, id))
                    .onFailure(err -> log.info("cannot remove the answer to orphan removal {}: {}", id,
                            err.getMessage()));
        }

        @Override
        public void onBadValue(RawEntry raw, ValidationException error) {
            // Logged and counted by the informer; a broken order is never carried out.
        }
    }

    private void submit(OrphanRemoval order) {
        if (!running.add(order.id())) {
            return;
        }
        tail = tail.eventually(() -> answerOnce(order).onComplete(ar -> running.remove(order.id())))
                .recover(err -> {
                    log.warn("orphan removal {} on {}: {}", order.id(), ctx.node, err.getMessage());
                    return Future.succeededFuture();
                });
    }

    private Future<Void> answerOnce(OrphanRemoval order) {
        String answerKey = ctx.keys.orphanRemovalResult(ctx.node, order.id());
        return ctx.store.getRaw(answerKey).compose(answered -> {
            if (answered.isPresent()) {
                return Future.succeededFuture();
            }
            return carryOut(order).compose(result -> ctx.store.putIfAbsent(answerKey, result)
                    .onSuccess(v -> log.info("orphan removal {} of {} on {}: {}: {}", order.id(), order.object(),
                            ctx.node, result.outcome(), result.message()))
                    .mapEmpty());
        });
    }

    /** Where the named object lives: a volume of one of this node's pools. */
    private record Target(PoolConfig pool, VolumeEngine engine, String volume, long sizeBytes) {
    }

    private Future<OrphanRemovalResult> carryOut(OrphanRemoval order) {
        return ctx.vertx.executeBlocking(() -> find(order.object()), false).compose(target -> {
            if (target.isEmpty()) {
                return refused(order, "no volume of this node's pools is named " + order.object() + " (exports and"
                        + " snapshots cannot be removed this way; names are as `ferryctl orphan ls` shows them)");
            }
            String volume = target.get().volume();
            if (ctx.workItem(volume).isPresent() || ctx.workItemIsBad(volume)) {
                return refused(order, "work item " + ctx.keys.workItem(ctx.node, volume) + " names it: it is not an"
                        + " orphan");
            }
            return ctx.store.getRaw(ctx.keys.placement(volume)).compose(placement -> {
                if (placement.isPresent()) {
                    return refused(order, "placement " + ctx.keys.placement(volume) + " names it: the controller"
                            + " still knows the volume");
                }
                return ctx.vertx.executeBlocking(() -> remove(order, target.get()), false);
            });
        });
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

    /** On a worker: the last checks against the storage itself, then the removal. */
    private OrphanRemovalResult remove(OrphanRemoval order, Target target) {
        String volume = target.volume();
        // A work item may have appeared while etcd was asked about the placement.
        if (ctx.workItem(volume).isPresent()) {
            return result(order, OrphanRemovalOutcome.REFUSED, "a work item for " + volume + " appeared; not removed");
        }
        try {
            Optional<OrphanOwner> owner = target.engine().owner(target.pool(), volume);
            if (owner.isEmpty()) {
                return result(order, OrphanRemovalOutcome.REFUSED, order.object() + " no longer exists");
            }
            if (owner.get() != OrphanOwner.THIS_CLUSTER) {
                return result(order, OrphanRemovalOutcome.REFUSED, order.object() + " does not carry this cluster's"
                        + " ownership marker (it is " + owner.get() + "); Ferry never removes it");
            }
            target.engine().removeOrphan(target.pool(), volume);
            return result(order, OrphanRemovalOutcome.DONE, "removed " + order.object() + " (" + target.sizeBytes()
                    + " bytes) from pool " + target.pool().name());
        } catch (RuntimeException e) {
            return result(order, OrphanRemovalOutcome.REFUSED, "not removed: " + e.getMessage());
        }
    }

    private Future<OrphanRemovalResult> refused(OrphanRemoval order, String why) {
        return Future.succeededFuture(result(order, OrphanRemovalOutcome.REFUSED, why));
    }

    private OrphanRemovalResult result(OrphanRemoval order, OrphanRemovalOutcome outcome, String message) {
        return OrphanRemovalResult.of(order.id(), ctx.node, order.object(), outcome,
                message.length() > 4000 ? message.substring(0, 4000) : message, Clock.now());
    }

    @Override
    public void close() {
        orders.close();
    }
}
