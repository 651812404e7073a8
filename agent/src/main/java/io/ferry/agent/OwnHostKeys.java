package io.ferry.agent;

import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.HostSecrets;
import io.ferry.etcd.store.RawEntry;
import io.ferry.etcd.store.Store;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.HostKeyOrder;
import io.ferry.model.HostKeyStatus;
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
 * <p>Rotating to generation G: (1) the order without {@code switchNow} makes the agent keep a new
 * pair G beside the one in use, in the file, and publish G (connects still use the old one; the
 * controller copies G to the storage nodes); (2) the order with {@code switchNow}, given once every
 * storage node exporting to this host serves G, makes it write G into the host's live controllers
 * ({@link LiveControllerKeys}) and then promote G in the file, dropping the old one. Each step is
 * idempotent and starts from the file, so an agent restarted anywhere in between carries on. The
 * agent reports at {@code nodes/<self>/host-key} (generations only). A step that fails is retried
 * every {@link #RETRY}.
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

    /** The newest pair this host has, as published. */
    HostSecret newest() {
        HostKeyFile.Generations kept = HostKeyFile.readGenerations(file).orElseThrow(() -> new IllegalStateException(
                file + " is gone"));
        return secret(kept.next().orElse(kept.current()));
    }

    private HostSecret secret(HostKeyFile.Pair pair) {
        return HostSecret.of(node, hostNqn, pair.generation(), pair.hostKey(), pair.ctrlKey(), pair.createdAt());
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

    /** @param retry the switch failed (the status says why): try again later */
    private record Step(HostSecret newest, HostKeyStatus status, boolean retry) {
    }

    /** The file's part of a step (blocking): prepare or switch as the order says. */
    private Step step(Optional<HostKeyOrder> wanted) {
        HostKeyFile.Generations kept = HostKeyFile.readGenerations(file).orElseThrow(() -> new IllegalStateException(
                file + " is gone"));
        int switched = 0;
        String message = "";
        if (wanted.isPresent() && wanted.get().generation() > kept.current().generation()) {
            long g = wanted.get().generation();
            HostKeyFile.Pair next = HostKeyFile.prepareNext(file, g, Instant.now());
            if (kept.next().isEmpty()) {
                log.info("generated generation {} of this host's NVMe authentication keys; publishing it", g);
            }
            if (wanted.get().switchNow()) {
                try {
                    switched = live.switchTo(hostNqn, kept.current(), next);
                    HostKeyFile.promoteNext(file, g);
                    log.info("this host now uses generation {} of its NVMe authentication keys ({} live controllers"
                            + " switched); generation {} is dropped", g, switched, kept.current().generation());
                } catch (RuntimeException e) {
                    // The old generation stays in use and kept: nothing is lost, the switch is tried again.
                    message = "cannot give the live controllers generation " + g + ": " + e.getMessage();
                    log.warn("{}; retrying in {} s", message, RETRY.toSeconds());
                }
            }
        }
        HostKeyFile.Generations now = HostKeyFile.readGenerations(file).orElseThrow();
        HostKeyStatus status = HostKeyStatus.of(node, now.current().generation(),
                now.next().map(HostKeyFile.Pair::generation).orElse(0L), switched, message, Instant.now());
        return new Step(secret(now.next().orElse(now.current())), status, !message.isEmpty());
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
