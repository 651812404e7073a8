package io.ferry.controller;

import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.Leadership;
import io.ferry.etcd.store.Store;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.HostSecret;
import io.ferry.model.WorkItem;
import io.ferry.runtime.informer.Informer;
import io.ferry.runtime.informer.InformerHandler;
import io.ferry.runtime.informer.InformerOptions;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.TreeMap;
import java.util.function.Supplier;
import io.ferry.etcd.store.Transaction;

/**
 * Gives each storage node the DH-HMAC-CHAP pairs of the hosts it exports to, and only those: for
 * every node S with a work item whose export's consumer is N, {@code secrets/exports/<S>/<N>} is kept
 * equal to the pair N published at {@code secrets/hosts/<N>}, and it is removed once no work item of S
 * exports to N any more. The pairs are what an export waits for when {@code nvmeAuth} is on.
 *
 * <p>Its own informers (work items, published pairs, copies) feed one pass over everything,
 * batched; it writes only while this controller leads, each write guarded by leadership and by the
 * revision of the copy it replaces or removes. Nothing is decided before all three informers have
 * listed etcd: an empty cache is not "nothing exports". A published pair that disappears leaves its
 * copies as they are (absence is unknown, and the host still connects with the pair it has); a
 * published value that does not decode, or names another node than its key, is not copied.
 */
final class SecretDistributor {

    private static final Logger log = LoggerFactory.getLogger(SecretDistributor.class);

    private final Vertx vertx;
    private final Store decisions;
    private final FerryKeys keys;
    private final Supplier<Optional<Leadership>> leadership;
    private final Informer<WorkItem> work;
    private final Informer<HostSecret> published;
    private final Informer<HostSecret> copies;
    private boolean passPending;
    private boolean passRunning;
    private boolean passAgain;

    /**
     * @param store     what the informers read
     * @param decisions what writes go through (the controller's store, held while etcd went back in time)
     */
    SecretDistributor(Vertx vertx, Store store, Store decisions, Supplier<Optional<Leadership>> leadership,
            InformerOptions options, MeterRegistry registry) {
        this.vertx = vertx;
        this.decisions = decisions;
        this.keys = store.keys();
        this.leadership = leadership;
        InformerHandler<Object> changed = new InformerHandler<>() {
            @Override
            public void onUpsert(Versioned<Object> current, Versioned<Object> previous) {
                soon();
            }

            @Override
            public void onDelete(String key, Versioned<Object> lastKnown) {
                soon();
            }
        };
        work = new Informer<>(vertx, store, keys.work(), key -> keys.parse(key)
                .filter(ref -> ref.kind() == FerryKeys.Kind.NODE_WORK).map(ref -> WorkItem.class).orElse(null),
                cast(changed), options, registry);
        published = new Informer<>(vertx, store, keys.hostSecrets(), HostSecret.class, cast(changed), options, registry);
        copies = new Informer<>(vertx, store, keys.exportSecrets(), HostSecret.class, cast(changed), options, registry);
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static <T> InformerHandler<T> cast(InformerHandler<Object> handler) {
        return (InformerHandler) handler;
    }

    Future<Void> start() {
        return Future.all(work.start(), published.start(), copies.start()).onSuccess(v -> soon()).mapEmpty();
    }

    /** A pass shortly after a burst of changes (a thousand work items written at once cause one). */
    void soon() {
        if (passPending) {
            return;
        }
        passPending = true;
        vertx.setTimer(100, t -> {
            passPending = false;
            pass();
        });
    }

    private void pass() {
        if (passRunning) {
            passAgain = true;
            return;
        }
        Optional<Leadership> leader = leadership.get();
        if (leader.isEmpty() || !work.synced() || !published.synced() || !copies.synced()) {
            return;
        }
        passRunning = true;
        List<Future<?>> writes = new ArrayList<>();
        Map<String, HostSecret> desired = desired();
        desired.forEach((key, secret) -> {
            Optional<Versioned<HostSecret>> copy = copies.get(key);
            if (copy.isEmpty() || !secret.samePair(copy.get().value())) {
                writes.add(write(leader.get(), key, copy, secret));
            }
        });
        for (Versioned<HostSecret> copy : copies.values()) {
            if (!desired.containsKey(copy.key()) && stillExportedTo(copy.key()).isEmpty()) {
                writes.add(decisions.txn().requireLeadership(leader.get()).requireModRevision(copy.key(), copy.modRevision())
                        .delete(copy.key()).commit()
                        .onSuccess(o -> {
                            if (o.succeeded()) {
                                log.info("removed {}: that node no longer exports to {}", copy.key(), copy.value().node());
                            }
                        }));
            }
        }
        Future.join(writes).onComplete(ar -> {
            passRunning = false;
            if (ar.failed()) {
                log.warn("copying NVMe authentication keys to storage nodes failed; retrying: {}", ar.cause().getMessage());
                vertx.setTimer(1000, t -> soon());
            }
            if (passAgain) {
                passAgain = false;
                soon();
            }
        });
    }

    /** Replaces the copy seen (absent, or one that does not decode: not guarded by a revision this informer never had). */
    private Future<?> write(Leadership leader, String key, Optional<Versioned<HostSecret>> seen, HostSecret secret) {
        Transaction txn = decisions.txn().requireLeadership(leader);
        if (!copies.badKeys().contains(key)) {
            txn.requireModRevision(key, seen.map(Versioned::modRevision).orElse(0L));
        }
        return txn.put(key, secret).commit()
                .onSuccess(o -> {
                    if (o.succeeded()) {
                        log.info("{} now holds the keys of {} (generation {})", key, secret.node(), secret.generation());
                    }
                });
    }

    /** Every copy that must exist: per storage node, the published pair of each consumer of its exports. */
    Map<String, HostSecret> desired() {
        Map<String, HostSecret> desired = new TreeMap<>();
        for (Versioned<WorkItem> v : work.values()) {
            Optional<FerryKeys.KeyRef> ref = keys.parse(v.key());
            if (ref.isEmpty() || v.value().export() == null) {
                continue;
            }
            String storage = ref.get().names().get(0);
            String consumer = v.value().export().consumerNode();
            published(consumer).ifPresent(secret -> desired.put(keys.exportSecret(storage, consumer), secret));
        }
        return desired;
    }

    /**
     * The consumer named by a copy's key, if a work item of its storage node still exports to it: a
     * copy whose published pair is missing stays as long as the export does.
     */
    private Optional<String> stillExportedTo(String copyKey) {
        Optional<FerryKeys.KeyRef> ref = keys.parse(copyKey);
        if (ref.isEmpty() || ref.get().kind() != FerryKeys.Kind.EXPORT_SECRET) {
            return Optional.of("");
        }
        String storage = ref.get().names().get(0);
        String consumer = ref.get().names().get(1);
        for (Versioned<WorkItem> v : work.values()) {
            if (v.key().startsWith(keys.work(storage)) && v.value().export() != null
                    && v.value().export().consumerNode().equals(consumer)) {
                return Optional.of(consumer);
            }
        }
        // A work item that does not decode may still export to it: keep the copy until it is read.
        return work.badKeys().stream().anyMatch(k -> k.startsWith(keys.work(storage))) ? Optional.of(consumer)
                : Optional.empty();
    }

    /** True once every informer has listed etcd: before that, an empty answer means "not read yet". */
    boolean synced() {
        return work.synced() && published.synced() && copies.synced();
    }

    /** The storage nodes with a work item that exports to {@code consumer}. */
    Set<String> exportersTo(String consumer) {
        Set<String> storage = new TreeSet<>();
        for (Versioned<WorkItem> v : work.values()) {
            Optional<FerryKeys.KeyRef> ref = keys.parse(v.key());
            if (ref.isPresent() && v.value().export() != null && v.value().export().consumerNode().equals(consumer)) {
                storage.add(ref.get().names().get(0));
            }
        }
        return storage;
    }

    /** The pair a node published, when its value names the node of its key. */
    Optional<HostSecret> published(String node) {
        return published.get(keys.hostSecret(node)).map(Versioned::value).filter(s -> s.node().equals(node));
    }

    void close() {
        work.close();
        published.close();
        copies.close();
    }
}
