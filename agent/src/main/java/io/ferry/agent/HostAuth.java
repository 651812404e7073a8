package io.ferry.agent;

import io.ferry.agent.export.ExportSecrets;
import io.ferry.agent.export.Exporter;
import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.Store;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.GlobalConfig;
import io.ferry.model.HostSecret;
import io.ferry.model.NvmeAuth;
import io.ferry.model.ServedHostKey;
import io.ferry.runtime.informer.Informer;
import io.ferry.runtime.informer.InformerHandler;
import io.ferry.runtime.informer.InformerOptions;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * The agent's part in NVMe in-band authentication, both ways round.
 *
 * <p>As a consumer: {@link OwnHostKeys} keeps, publishes and rotates its host's pair.
 *
 * <p>As a storage node: it watches the copies the controller makes for it
 * ({@code secrets/exports/<self>/}) and the cluster's {@code nvmeAuth} setting, and is the
 * {@link ExportSecrets} of its exporters; whenever either changes, every volume is reconciled
 * again so that waiting exports go ahead. A changed copy is also set at once on the host's entry
 * of every exporter ({@link Exporter#setHostPair}), after which the node reports the generation
 * it serves that host at {@code nodes/<self>/served-keys/<host's node>}: what a key rotation waits
 * for before the host switches.
 */
final class HostAuth implements ExportSecrets {

    private static final Logger log = LoggerFactory.getLogger(HostAuth.class);

    private final Vertx vertx;
    private final Store store;
    private final String node;
    private final Runnable exportsChanged;
    private final OwnHostKeys own;
    private final Informer<HostSecret> copies;
    private final Informer<GlobalConfig> global;
    private volatile NvmeAuth mode;
    private Supplier<List<Exporter>> exporters = List::of;

    HostAuth(Vertx vertx, Store store, String node, String hostNqn, Path keyFile, LiveControllerKeys live,
            NvmeAuth initialMode, Runnable exportsChanged, InformerOptions options, MeterRegistry registry) {
        this.vertx = vertx;
        this.store = store;
        this.node = node;
        this.mode = initialMode;
        this.exportsChanged = exportsChanged;
        this.own = new OwnHostKeys(vertx, store, node, hostNqn, keyFile, live, options, registry);
        FerryKeys keys = store.keys();
        copies = new Informer<>(vertx, store, keys.exportSecrets(node), HostSecret.class, new InformerHandler<>() {
            @Override
            public void onUpsert(Versioned<HostSecret> current, Versioned<HostSecret> previous) {
                exportsChanged.run();
                serve(current);
            }

            @Override
            public void onDelete(String key, Versioned<HostSecret> lastKnown) {
                // An export keeps the keys its host entry has; nothing to do until the copy returns.
                if (lastKnown != null) {
                    store.delete(keys.servedHostKey(node, lastKnown.value().node()))
                            .onFailure(err -> log.debug("cannot remove a served-key report: {}", err.getMessage()));
                }
            }
        }, options, registry);
        String globalKey = keys.globalConfig();
        global = new Informer<>(vertx, store, globalKey, key -> key.equals(globalKey) ? GlobalConfig.class : null,
                new InformerHandler<>() {
                    @Override
                    public void onUpsert(Versioned<GlobalConfig> current, Versioned<GlobalConfig> previous) {
                        setMode(current.value().nvmeAuth());
                    }

                    @Override
                    public void onDelete(String key, Versioned<GlobalConfig> lastKnown) {
                        setMode(GlobalConfig.DEFAULT_NVME_AUTH);
                    }
                }, options, registry);
    }

    /** The exporters whose host entries get a changed pair (set once they exist, before {@link #start()}). */
    void serveWith(Supplier<List<Exporter>> exporters) {
        this.exporters = exporters;
    }

    /** Publishes this host's pair, then follows it, the copies for this node and the cluster's setting. */
    Future<Void> start() {
        return own.start()
                .compose(v -> Future.all(copies.start(), global.start()))
                .onSuccess(v -> copies.values().forEach(this::serve))
                .mapEmpty();
    }

    /**
     * Sets a copy's pair on every exporter's host entry, then reports the generation served. A copy
     * pasted under another node's key is not used (as in {@link #forHost}).
     */
    private void serve(Versioned<HostSecret> copy) {
        HostSecret pair = copy.value();
        if (!copy.key().equals(store.keys().exportSecret(node, pair.node()))) {
            return;
        }
        List<Exporter> targets = exporters.get();
        vertx.executeBlocking(() -> {
            for (Exporter exporter : targets) {
                if (exporter != null && exporter.available()) {
                    exporter.setHostPair(pair);
                }
            }
            return null;
        }, false).compose(v -> {
            String key = store.keys().servedHostKey(node, pair.node());
            return store.get(key, ServedHostKey.class)
                    .map(found -> found.map(Versioned::value).filter(s -> s.generation() == pair.generation()
                            && s.hostKeyGeneration() == pair.hostKeyGeneration()).isPresent())
                    .recover(err -> Future.succeededFuture(false))
                    .compose(same -> same ? Future.succeededFuture()
                            : store.put(key, ServedHostKey.of(pair, Instant.now())).mapEmpty());
        }).onSuccess(v -> log.debug("serving {}", pair))
                .onFailure(err -> {
                    log.warn("cannot serve generation {} of the NVMe authentication keys of {}: {}; retrying",
                            pair.generation(), pair.node(), err.getMessage());
                    vertx.setTimer(OwnHostKeys.RETRY.toMillis(), t -> copies.get(copy.key()).ifPresent(this::serve));
                });
    }

    private void setMode(NvmeAuth next) {
        if (next != mode) {
            log.info("nvmeAuth is now {} (was {})", next.value(), mode.value());
            mode = next;
            exportsChanged.run();
            copies.values().forEach(this::serve);
        }
    }

    @Override
    public NvmeAuth mode() {
        return mode;
    }

    /**
     * The copy for {@code hostNqn}: the one whose key names the node its value names (a copy pasted
     * under another node's key is not used).
     */
    @Override
    public Optional<HostSecret> forHost(String hostNqn) {
        return copies.values().stream()
                .filter(v -> v.value().hostNqn().equals(hostNqn))
                .filter(v -> v.key().equals(store.keys().exportSecret(node, v.value().node())))
                .map(Versioned::value)
                .findFirst();
    }

    void close() {
        own.close();
        copies.close();
        global.close();
    }
}
