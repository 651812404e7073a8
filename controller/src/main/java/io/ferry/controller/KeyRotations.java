package io.ferry.controller;

import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.Leadership;
import io.ferry.etcd.store.Store;
import io.ferry.etcd.store.Transaction;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.HostKeyOrder;
import io.ferry.model.HostKeyRotation;
import io.ferry.model.HostKeyStatus;
import io.ferry.model.HostSecret;
import io.ferry.model.ServedHostKey;
import io.ferry.runtime.informer.Informer;
import io.ferry.runtime.informer.InformerHandler;
import io.ferry.runtime.informer.InformerOptions;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Carries out operators' key rotations ({@code key-rotations/<node>}, see {@code ferryctl security
 * rotate-keys}) by ordering the consumer's agent ({@code work/<node>/host-keys}), the only writer of
 * its host's pair:
 *
 * <ol>
 *   <li>A request for generation G of node N's pair, while N uses an older one, gives the order
 *       "prepare G" ({@code switchNow} false). N's agent keeps G beside the pair in use and publishes
 *       it; {@link SecretDistributor} copies it to every storage node that exports to N; each of them
 *       sets it on N's host entry and reports {@code nodes/<S>/served-keys/<N>} = G.</li>
 *   <li>Once N's published pair is G and every storage node exporting to N reports G, the order
 *       becomes "switch to G" ({@code switchNow} true, never taken back): N's agent writes G into its
 *       live controllers, drops the old generation and reports {@code nodes/<N>/host-key} = G.</li>
 * </ol>
 *
 * A storage node that is down or cannot set the pair holds the rotation at step 1: the host keeps
 * connecting with the old pair, which every target that has not switched still accepts, and the
 * rotation goes on when the node reports. Writes happen only while this controller leads, each
 * guarded by the revision of the order it replaces. Nothing is decided before every informer has
 * listed etcd.
 */
final class KeyRotations {

    private static final Logger log = LoggerFactory.getLogger(KeyRotations.class);
    /** How often unfinished rotations are looked at again besides every change seen. */
    static final Duration RECHECK = Duration.ofSeconds(2);

    private final Vertx vertx;
    private final Store decisions;
    private final FerryKeys keys;
    private final Supplier<Optional<Leadership>> leadership;
    private final SecretDistributor secrets;
    private final Informer<HostKeyRotation> requests;
    private final Informer<Object> reports;
    private final Informer<HostKeyOrder> orders;
    private long timer = -1;
    private boolean passRunning;

    KeyRotations(Vertx vertx, Store store, Store decisions, Supplier<Optional<Leadership>> leadership,
            SecretDistributor secrets, InformerOptions options, MeterRegistry registry) {
        this.vertx = vertx;
        this.decisions = decisions;
        this.keys = store.keys();
        this.leadership = leadership;
        this.secrets = secrets;
        InformerHandler<Object> changed = new InformerHandler<>() {
            @Override
            public void onUpsert(Versioned<Object> current, Versioned<Object> previous) {
                pass();
            }

            @Override
            public void onDelete(String key, Versioned<Object> lastKnown) {
                pass();
            }
        };
        requests = new Informer<>(vertx, store, keys.keyRotations(), HostKeyRotation.class, cast(changed), options,
                registry);
        reports = new Informer<>(vertx, store, keys.nodes(), key -> keys.parse(key).map(ref -> switch (ref.kind()) {
            case SERVED_HOST_KEY -> ServedHostKey.class;
            case HOST_KEY_STATUS -> HostKeyStatus.class;
            default -> null;
        }).orElse(null), changed, options, registry);
        orders = new Informer<>(vertx, store, keys.work(), key -> keys.parse(key)
                .filter(ref -> ref.kind() == FerryKeys.Kind.HOST_KEY_ORDER).map(ref -> HostKeyOrder.class).orElse(null),
                cast(changed), options, registry);
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static <T> InformerHandler<T> cast(InformerHandler<Object> handler) {
        return (InformerHandler) handler;
    }

    Future<Void> start() {
        return Future.all(requests.start(), reports.start(), orders.start())
                .onSuccess(v -> timer = vertx.setPeriodic(RECHECK.toMillis(), t -> pass()))
                .mapEmpty();
    }

    private void pass() {
        Optional<Leadership> leader = leadership.get();
        if (passRunning || leader.isEmpty() || !requests.synced() || !reports.synced() || !orders.synced()
                || !secrets.synced()) {
            return;
        }
        List<Future<?>> writes = new ArrayList<>();
        for (Versioned<HostKeyRotation> request : requests.values()) {
            HostKeyRotation rotation = request.value();
            if (!request.key().equals(keys.keyRotation(rotation.node()))) {
                continue;
            }
            desiredOrder(rotation).ifPresent(order -> {
                Optional<Versioned<HostKeyOrder>> seen = orders.get(keys.hostKeyOrder(rotation.node()));
                if (seen.isEmpty() || !seen.get().value().equals(order)) {
                    writes.add(write(leader.get(), seen, order));
                }
            });
        }
        if (writes.isEmpty()) {
            return;
        }
        passRunning = true;
        Future.join(writes).onComplete(ar -> {
            passRunning = false;
            if (ar.failed()) {
                log.warn("ordering a key rotation failed; retrying: {}", ar.cause().getMessage());
            }
        });
    }

    /** The order a request calls for now; empty when the host already uses that generation or a later one. */
    Optional<HostKeyOrder> desiredOrder(HostKeyRotation rotation) {
        String node = rotation.node();
        long g = rotation.generation();
        Optional<HostKeyStatus> status = reports.get(keys.hostKeyStatus(node)).map(v -> (HostKeyStatus) v.value());
        if (status.isPresent() && status.get().generation() >= g) {
            return Optional.empty();
        }
        Optional<HostKeyOrder> seen = orders.get(keys.hostKeyOrder(node)).map(Versioned::value);
        if (seen.isPresent() && seen.get().generation() == g && seen.get().switchNow()) {
            return seen;
        }
        boolean publishedG = secrets.published(node).map(HostSecret::generation).filter(p -> p == g).isPresent();
        Set<String> storage = secrets.exportersTo(node);
        boolean allServe = storage.stream().allMatch(s -> reports.get(keys.servedHostKey(s, node))
                .map(v -> ((ServedHostKey) v.value()).generation() >= g).orElse(false));
        return Optional.of(HostKeyOrder.of(node, g, publishedG && allServe));
    }

    private Future<?> write(Leadership leader, Optional<Versioned<HostKeyOrder>> seen, HostKeyOrder order) {
        String key = keys.hostKeyOrder(order.node());
        Transaction txn = decisions.txn().requireLeadership(leader);
        if (!orders.badKeys().contains(key)) {
            txn.requireModRevision(key, seen.map(Versioned::modRevision).orElse(0L));
        }
        return txn.put(key, order).commit().onSuccess(o -> {
            if (o.succeeded()) {
                log.info(order.switchNow()
                        ? "every storage node exporting to {} serves generation {} of its keys: it switches now"
                        : "{} is to prepare and publish generation {} of its keys", order.node(), order.generation());
            }
        });
    }

    void close() {
        vertx.cancelTimer(timer);
        requests.close();
        reports.close();
        orders.close();
    }
}
