package io.ferry.agent;

import io.ferry.runtime.informer.Informer;
import io.ferry.runtime.informer.InformerHandler;
import io.ferry.runtime.informer.InformerOptions;
import io.ferry.etcd.store.RawEntry;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.KeyNamed;
import io.ferry.model.ValidationException;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * Operators' orders about this node's orphans (removal, adoption): each kind watched under its own
 * prefix ({@code <prefix>/orphan-<kind>/<node>/<id>}) and answered once under
 * {@code nodes/<node>/orphan-<kind>/<id>}.
 *
 * <p>Every order of every kind runs on one lane, one at a time: two orders about the same object
 * (a removal and an adoption) must never interleave their checks and their acts. An order that
 * already has an answer is never run again, and an answer whose order has been withdrawn is removed
 * (at start too, for orders withdrawn while the agent was down).
 */
final class OrphanOrders implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(OrphanOrders.class);

    /**
     * One kind of order.
     *
     * @param what        for logs, e.g. "orphan removal"
     * @param orders      the prefix this node's orders of the kind live under
     * @param answerKey   the answer's key for an order id
     * @param answers     the prefix this node's answers live under
     * @param carryOut    checks and acts; the future's value is the answer to write
     * @param summary     one line saying what the answer says, for the log
     */
    record Kind<O extends KeyNamed, R>(String what, String orders, Function<String, String> answerKey, String answers,
            Class<O> type, Function<O, String> id, Function<O, Future<R>> carryOut, Function<R, String> summary) {
    }

    private final NodeContext ctx;
    private final MeterRegistry registry;
    private final List<Informer<?>> informers = new ArrayList<>();
    private final List<Future<Void>> tidied = new ArrayList<>();
    private final Set<String> running = ConcurrentHashMap.newKeySet();
    private Future<Void> tail = Future.succeededFuture();

    OrphanOrders(NodeContext ctx, MeterRegistry registry) {
        this.ctx = ctx;
        this.registry = registry;
    }

    /** Starts watching orders of one kind; answers left without an order are removed. */
    <O extends KeyNamed, R> Future<Void> start(Kind<O, R> kind) {
        Informer<O> orders = new Informer<>(ctx.vertx, ctx.store, kind.orders(), kind.type(), new Handler<>(kind),
                InformerOptions.defaults(), registry);
        informers.add(orders);
        return orders.start().compose(v -> ctx.store.listRaw(kind.answers()))
                .compose(listing -> {
                    for (RawEntry answer : listing.entries()) {
                        if (orders.get(kind.orders() + NodeContext.lastSegment(answer.key())).isEmpty()) {
                            ctx.store.delete(answer.key());
                        }
                    }
                    return Future.<Void>succeededFuture();
                })
                .recover(err -> {
                    log.warn("cannot tidy the answers to {} orders: {}", kind.what(), err.getMessage());
                    return Future.succeededFuture();
                });
    }

    private final class Handler<O extends KeyNamed, R> implements InformerHandler<O> {
        private final Kind<O, R> kind;

        Handler(Kind<O, R> kind) {
            this.kind = kind;
        }

        @Override
        public void onUpsert(Versioned<O> current, Versioned<O> previous) {
            submit(kind, current.value());
        }

        @Override
        public void onDelete(String key, Versioned<O> lastKnown) {
            String id = NodeContext.lastSegment(key);
            ctx.store.delete(kind.answerKey().apply(id))
                    .onFailure(err -> log.info("cannot remove the answer to {} {}: {}", kind.what(), id,
                            err.getMessage()));
        }

        @Override
        public void onBadValue(RawEntry raw, ValidationException error) {
            // Logged and counted by the informer; a broken order is never carried out.
        }
    }

    private <O extends KeyNamed, R> void submit(Kind<O, R> kind, O order) {
        String id = kind.id().apply(order);
        String runKey = kind.orders() + id;
        if (!running.add(runKey)) {
            return;
        }
        tail = tail.eventually(() -> answerOnce(kind, order, id).onComplete(ar -> running.remove(runKey)))
                .recover(err -> {
                    log.warn("{} {} on {}: {}", kind.what(), id, ctx.node, err.getMessage());
                    return Future.succeededFuture();
                });
    }

    private <O extends KeyNamed, R> Future<Void> answerOnce(Kind<O, R> kind, O order, String id) {
        String answerKey = kind.answerKey().apply(id);
        return ctx.store.getRaw(answerKey).compose(answered -> {
            if (answered.isPresent()) {
                return Future.succeededFuture();
            }
            return kind.carryOut().apply(order).compose(result -> ctx.store.putIfAbsent(answerKey, result)
                    .onSuccess(v -> log.info("{} {} on {}: {}", kind.what(), id, ctx.node,
                            kind.summary().apply(result)))
                    .mapEmpty());
        });
    }

    @Override
    public void close() {
        informers.forEach(Informer::close);
    }
}
