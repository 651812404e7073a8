package io.ferry.agent;

import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.HostSecrets;
import io.ferry.etcd.store.RawEntry;
import io.ferry.etcd.store.Store;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.HostKeyOrder;
import io.ferry.model.HostKeyStatus;
import io.ferry.model.HostKeyStep;
import io.ferry.model.HostSecret;
import io.ferry.model.ValidationException;
import io.ferry.runtime.auth.HostKeyFile;
import io.ferry.runtime.informer.Informer;
import io.ferry.runtime.informer.InformerHandler;
import io.ferry.runtime.informer.InformerOptions;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * This host's own pair, as a consumer: kept in its state file ({@link HostKeyFile}), published at
 * {@code secrets/hosts/<self>}, and rotated on the controller's order ({@code work/<self>/host-keys}).
 *
 * <p>Publishing: the newest generation in the file (the next one during a rotation) is what etcd
 * must hold. An exact-key informer follows {@code secrets/hosts/<self>} (the agent's role grants
 * that one key, and a prefix watch would also see {@code <self>0}); a value removed, replaced or
 * undecodable is published again at once.
 *
 * <p>Rotating from generation O to G, on the controller's order, one key at a time
 * ({@link HostKeyStep}): (1) {@code prepare} keeps a new pair G beside O in the file and publishes G's
 * controller key with O's host key, for the targets to serve first (connects still use O);
 * (2) {@code switchCtrlKey}, once every target serves that, writes G's controller key into the
 * host's live controllers ({@link LiveControllerKeys}), records it in the file (connects now use
 * O's host key with G's controller key) and publishes the whole of G; (3) {@code switchHostKey},
 * once every target serves G, writes G's host key into the live controllers and makes G the pair
 * in use, dropping O. Each step is idempotent and starts from the file, so an agent restarted
 * anywhere in between carries on. The agent reports at {@code nodes/<self>/host-key} (generations
 * only). A step that fails is retried every {@link #RETRY}.
 */
final class OwnHostKeys {

    private static final Logger log = LoggerFactory.getLogger(OwnHostKeys.class);
    static final Duration RETRY = Duration.ofSeconds(10);

    private final Vertx vertx;
    private final Store store;
    private final FerryKeys keys;
    private final String node;
    private final String hostNqn;
    private final Path file;
    private final LiveControllerKeys live;
    private final Informer<HostSecret> published;
    private final Informer<HostKeyOrder> order;
    private boolean acting;
    private boolean actAgain;
    private long retryTimer = -1;
    private volatile boolean closed;

    OwnHostKeys(Vertx vertx, Store store, String node, String hostNqn, Path file, LiveControllerKeys live,
            InformerOptions options, MeterRegistry registry) {
        this.vertx = vertx;
        this.store = store;
        this.keys = store.keys();
        this.node = node;
        this.hostNqn = hostNqn;
        this.file = file;
        this.live = live;
        published = Informer.ofKey(vertx, store, keys.hostSecret(node), HostSecret.class, new InformerHandler<>() {
            @Override
            public void onUpsert(Versioned<HostSecret> current, Versioned<HostSecret> previous) {
                act();
            }

            @Override
            public void onDelete(String key, Versioned<HostSecret> lastKnown) {
                act();
            }

            @Override
            public void onBadValue(RawEntry raw, ValidationException error) {
                act();
            }
        }, options, registry);
        order = Informer.ofKey(vertx, store, keys.hostKeyOrder(node), HostKeyOrder.class, new InformerHandler<>() {
            @Override
            public void onUpsert(Versioned<HostKeyOrder> current, Versioned<HostKeyOrder> previous) {
                act();
            }

            @Override
            public void onDelete(String key, Versioned<HostKeyOrder> lastKnown) {
                // No order is no rotation under way: the pair in use stays, and so does a prepared next one.
            }
        }, options, registry);
    }

    /** What this host publishes for its targets to serve, from its file ({@link HostKeyFile.Generations#published}). */
    HostSecret newest() {
        return HostKeyFile.readGenerations(file).orElseThrow(() -> new IllegalStateException(file + " is gone"))
                .published(node, hostNqn);
    }

    /** Publishes the newest pair if etcd does not hold it, then follows the published key and the order. */
    Future<Void> start() {
        return vertx.executeBlocking(this::newest, false)
                .compose(secret -> HostSecrets.publish(store, secret)
                        .onSuccess(wrote -> {
                            if (wrote) {
                                log.info("published this host's NVMe authentication keys (generation {}) at {}",
                                        secret.generation(), keys.hostSecret(node));
                            }
                        })
                        .recover(err -> {
                            // The follower publishes it once etcd answers.
                            log.warn("cannot publish this host's NVMe authentication keys yet: {}", err.getMessage());
                            return Future.succeededFuture(false);
                        }))
                .compose(v -> Future.all(published.start(), order.start()))
                .onSuccess(v -> act())
                .mapEmpty();
    }

    /** One step at a time; a change during a step makes one more. */
    private void act() {
        if (closed) {
            return;
        }
        if (acting) {
            actAgain = true;
            return;
        }
        acting = true;
        Optional<HostKeyOrder> wanted = order.get(keys.hostKeyOrder(node)).map(Versioned::value)
                .filter(o -> o.node().equals(node));
        vertx.executeBlocking(() -> step(wanted), false)
                .compose(step -> publishAndReport(step).map(step.retry()))
                .onComplete(ar -> {
                    acting = false;
                    if (ar.succeeded() && ar.result()) {
                        vertx.cancelTimer(retryTimer);
                        retryTimer = vertx.setTimer(RETRY.toMillis(), t -> act());
                    } else if (ar.failed()) {
                        log.warn("NVMe authentication keys of this host: {}; retrying in {} s", ar.cause().getMessage(),
                                RETRY.toSeconds());
                        vertx.cancelTimer(retryTimer);
                        retryTimer = vertx.setTimer(RETRY.toMillis(), t -> act());
                    }
                    if (actAgain) {
                        actAgain = false;
                        act();
                    }
                });
    }

    /** @param retry the step failed (the status says why): try again later */
    private record Step(HostSecret newest, HostKeyStatus status, boolean retry) {
    }

    /** The file's part of a step (blocking): prepare or switch as the order says. */
    private Step step(Optional<HostKeyOrder> wanted) {
        HostKeyFile.Generations kept = HostKeyFile.readGenerations(file).orElseThrow(() -> new IllegalStateException(
                file + " is gone"));
        int switched = 0;
        String message = "";
        if (wanted.isPresent() && wanted.get().generation() > kept.current().generation()) {
            HostKeyOrder order = wanted.get();
            long g = order.generation();
            HostKeyFile.Pair next = HostKeyFile.prepareNext(file, g, Instant.now());
            if (kept.next().isEmpty()) {
                log.info("generated generation {} of this host's NVMe authentication keys; publishing its controller"
                        + " key for the targets to serve first", g);
            }
            try {
                switched = switchLive(order, kept, next);
            } catch (RuntimeException e) {
                // The keys the file says are in use stay in use and kept: nothing is lost, the step is tried again.
                message = "cannot give the live controllers generation " + g + " (" + order.step() + "): " + e.getMessage();
                log.warn("{}; retrying in {} s", message, RETRY.toSeconds());
            }
        }
        HostKeyFile.Generations now = HostKeyFile.readGenerations(file).orElseThrow();
        HostKeyStatus status = HostKeyStatus.of(node, now.current().generation(),
                now.next().map(HostKeyFile.Pair::generation).orElse(0L), switched, message, Instant.now());
        return new Step(now.published(node, hostNqn), status, !message.isEmpty());
    }

    /**
     * The live part of the order's step, each key once: the controller key when the targets serve
     * it (then the file records it in use, and the whole pair is published), the host key when they
     * serve the whole pair (then the next pair becomes the one in use).
     *
     * @return how many live controllers hold the keys of the step afterwards
     */
    private int switchLive(HostKeyOrder order, HostKeyFile.Generations kept, HostKeyFile.Pair next) {
        long g = next.generation();
        HostKeyFile.Pair old = kept.current();
        int switched = 0;
        // Preparing never changes whether the next controller key is in use: what was read still holds.
        if (order.atLeast(HostKeyStep.SWITCH_CTRL_KEY) && !kept.nextCtrlKeyInUse()) {
            LiveControllerKeys.Switched done = live.useCtrlKey(hostNqn, old, next);
            HostKeyFile.useNextCtrlKey(file, g);
            switched = done.controllers();
            log.info("this host uses the controller key of generation {} ({}); publishing the whole generation", g,
                    done.describe());
        }
        if (order.atLeast(HostKeyStep.SWITCH_HOST_KEY)) {
            LiveControllerKeys.Switched done = live.useHostKey(hostNqn, old, next);
            HostKeyFile.promoteNext(file, g);
            switched = done.controllers();
            log.info("this host now uses generation {} of its NVMe authentication keys ({}); generation {} is dropped",
                    g, done.describe(), old.generation());
        }
        return switched;
    }

    private Future<Void> publishAndReport(Step step) {
        return HostSecrets.publish(store, step.newest())
                .onSuccess(wrote -> {
                    if (wrote) {
                        log.info("published generation {} of this host's NVMe authentication keys at {}",
                                step.newest().generation(), keys.hostSecret(node));
                    }
                })
                .compose(v -> report(step.status()));
    }

    /** Writes the status when its generations changed (not on every step: no churn in etcd). */
    private Future<Void> report(HostKeyStatus status) {
        String key = keys.hostKeyStatus(node);
        return store.get(key, HostKeyStatus.class)
                .map(found -> found.map(Versioned::value)
                        .filter(s -> s.generation() == status.generation() && s.pending() == status.pending()
                                && Objects.equals(s.message(), status.message())).isPresent())
                .recover(err -> Future.succeededFuture(false))
                .compose(same -> same ? Future.succeededFuture() : store.put(key, status).mapEmpty());
    }

    void close() {
        closed = true;
        vertx.cancelTimer(retryTimer);
        published.close();
        order.close();
    }
}
