package io.ferry.agent;

import io.ferry.agent.export.ExportSecrets;
import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.HostSecrets;
import io.ferry.etcd.store.Store;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.GlobalConfig;
import io.ferry.model.HostSecret;
import io.ferry.model.NvmeAuth;
import io.ferry.runtime.auth.HostKeyFile;
import io.ferry.runtime.informer.Informer;
import io.ferry.runtime.informer.InformerHandler;
import io.ferry.runtime.informer.InformerOptions;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Optional;
import java.time.Duration;

/**
 * The agent's part in NVMe in-band authentication, both ways round.
 *
 * <p>As a consumer: it publishes its host's pair (kept in its state directory by
 * {@link HostKeyFile}) at {@code secrets/hosts/<self>}, and checks it every {@link #REPUBLISH}: a key
 * removed or changed by anyone else gets the pair the host connects with again. (A point read, not a
 * watch: the agent's role grants the one key, and an informer lists a range, which etcd would refuse.)
 *
 * <p>As a storage node: it watches the copies the controller makes for it
 * ({@code secrets/exports/<self>/}) and the cluster's {@code nvmeAuth} setting, and is the
 * {@link ExportSecrets} of its nvmet exporter; whenever either changes, every volume is reconciled
 * again so that waiting exports go ahead and host entries get a replaced pair.
 */
final class HostAuth implements ExportSecrets {

    private static final Logger log = LoggerFactory.getLogger(HostAuth.class);
    static final Duration REPUBLISH = Duration.ofSeconds(30);

    private final Vertx vertx;
    private final Store store;
    private final String node;
    private final HostSecret own;
    private final Runnable exportsChanged;
    private long republishTimer = -1;
    private final Informer<HostSecret> copies;
    private final Informer<GlobalConfig> global;
    private volatile NvmeAuth mode;

    HostAuth(Vertx vertx, Store store, String node, HostSecret own, NvmeAuth initialMode, Runnable exportsChanged,
            InformerOptions options, MeterRegistry registry) {
        this.vertx = vertx;
        this.store = store;
        this.node = node;
        this.own = own;
        this.mode = initialMode;
        this.exportsChanged = exportsChanged;
        FerryKeys keys = store.keys();
        copies = new Informer<>(vertx, store, keys.exportSecrets(node), HostSecret.class, new Changed<>(), options,
                registry);
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

    /** Publishes the pair if etcd does not hold it, then follows the three keys. */
    Future<Void> start() {
        return HostSecrets.publish(store, own)
                .onSuccess(wrote -> {
                    if (wrote) {
                        log.info("published this host's NVMe authentication keys (generation {}) at {}", own.generation(),
                                store.keys().hostSecret(node));
                    }
                })
                .recover(err -> {
                    // The periodic check publishes it once etcd answers.
                    log.warn("cannot publish this host's NVMe authentication keys yet: {}", err.getMessage());
                    return Future.succeededFuture(false);
                })
                .compose(v -> Future.all(copies.start(), global.start()))
                .onSuccess(v -> republishTimer = vertx.setPeriodic(REPUBLISH.toMillis(), t -> republish()))
                .mapEmpty();
    }

    private void republish() {
        HostSecrets.publish(store, own)
                .onSuccess(wrote -> {
                    if (wrote) {
                        log.warn("{} was missing or held another pair; published this host's pair (generation {}) again",
                                store.keys().hostSecret(node), own.generation());
                    }
                })
                .onFailure(err -> log.warn("cannot check this host's published NVMe authentication keys: {}",
                        err.getMessage()));
    }

    private void setMode(NvmeAuth next) {
        if (next != mode) {
            log.info("nvmeAuth is now {} (was {})", next.value(), mode.value());
            mode = next;
            exportsChanged.run();
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
        vertx.cancelTimer(republishTimer);
        copies.close();
        global.close();
    }

    private final class Changed<T> implements InformerHandler<T> {
        @Override
        public void onUpsert(Versioned<T> current, Versioned<T> previous) {
            exportsChanged.run();
        }

        @Override
        public void onDelete(String key, Versioned<T> lastKnown) {
            // An export keeps the keys its host entry has; nothing to do until the copy returns.
        }
    }
}
