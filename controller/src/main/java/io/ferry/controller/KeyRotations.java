package io.ferry.controller;

import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.Leadership;
import io.ferry.etcd.store.Store;
import io.ferry.etcd.store.Transaction;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.HostKeyOrder;
import io.ferry.model.HostKeyRotation;
import io.ferry.model.HostKeyStatus;
import io.ferry.model.HostKeyStep;
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
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * Carries out operators' key rotations ({@code key-rotations/<node>}, see {@code ferryctl security
 * rotate-keys}) by ordering the consumer's agent ({@code work/<node>/host-keys}), the only writer of
 * its host's pair:
 *
 * <ol>
 *   <li>A request for generation G of node N's pair, while N uses an older one O, gives the order
 *       {@code prepare}. N's agent keeps G beside O and publishes G's controller key with O's host
 *       key; {@link SecretDistributor} copies that to every storage node that exports to N; each of
 *       them sets it on N's host entry and reports {@code nodes/<S>/served-keys/<N>}.</li>
 *   <li>Once every one of them serves G's controller key, {@code switchCtrlKey}: N's agent writes it
 *       into its live controllers (whose re-authentications then meet targets holding exactly that
 *       pair) and publishes the whole of G, which is copied and served the same way.</li>
 *   <li>Once every one of them serves the whole of G, {@code switchHostKey}: N's agent writes G's host
 *       key into its live controllers, drops O and reports {@code nodes/<N>/host-key} = G.</li>
 * </ol>
 *
 * The step never goes back.
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

    /**
     * The order a request calls for now; empty when the host already uses that generation or a later
     * one. The step only moves forward: {@code switchCtrlKey} once the host publishes G's controller
     * key and every storage node exporting to it serves that key; {@code switchHostKey} once the host
     * publishes the whole of G (it does after its live controllers took G's controller key) and every
     * storage node serves it.
     */
    Optional<HostKeyOrder> desiredOrder(HostKeyRotation rotation) {
        String node = rotation.node();
        long g = rotation.generation();
        Optional<HostKeyStatus> status = reports.get(keys.hostKeyStatus(node)).map(v -> (HostKeyStatus) v.value());
        if (status.isPresent() && status.get().generation() >= g) {
            return Optional.empty();
        }
        HostKeyStep seen = orders.get(keys.hostKeyOrder(node)).map(Versioned::value).filter(o -> o.generation() == g)
                .map(HostKeyOrder::step).orElse(HostKeyStep.PREPARE);
        Optional<HostSecret> published = secrets.published(node).filter(p -> p.generation() == g);
        Set<String> storage = secrets.exportersTo(node);
        HostKeyStep step = HostKeyStep.PREPARE;
        if (published.isPresent() && allServe(storage, node, served -> served.servesCtrlKeyOf(g))) {
            step = HostKeyStep.SWITCH_CTRL_KEY;
            if (published.get().hostKeyGeneration() == g && allServe(storage, node, served -> served.servesPairOf(g))) {
                step = HostKeyStep.SWITCH_HOST_KEY;
            }
        }
        return Optional.of(HostKeyOrder.of(node, g, step.compareTo(seen) >= 0 ? step : seen));
    }

    private boolean allServe(Set<String> storage, String consumer, Predicate<ServedHostKey> serves) {
        return storage.stream().allMatch(s -> reports.get(keys.servedHostKey(s, consumer))
                .map(v -> serves.test((ServedHostKey) v.value())).orElse(false));
    }

    private Future<?> write(Leadership leader, Optional<Versioned<HostKeyOrder>> seen, HostKeyOrder order) {
        String key = keys.hostKeyOrder(order.node());
        Transaction txn = decisions.txn().requireLeadership(leader);
        if (!orders.badKeys().contains(key)) {
            txn.requireModRevision(key, seen.map(Versioned::modRevision).orElse(0L));
        }
        return txn.put(key, order).commit().onSuccess(o -> {
            if (o.succeeded()) {
                log.info(switch (order.step()) {
                    case PREPARE -> "{} is to prepare generation {} of its keys and publish its controller key";
                    case SWITCH_CTRL_KEY -> "every storage node exporting to {} serves the controller key of generation {}:"
                            + " its live controllers take it now";
                    case SWITCH_HOST_KEY -> "every storage node exporting to {} serves generation {} of its keys:"
                            + " its live controllers take the host key now";
                }, order.node(), order.generation());
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
