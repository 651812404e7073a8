package io.ferry.runtime.informer;

import io.ferry.etcd.store.KeyChange;
import io.ferry.etcd.store.Store;
import io.ferry.etcd.store.StoreWatch;
import io.ferry.etcd.store.WatchListener;
import io.vertx.core.Context;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.RejectedExecutionException;

/**
 * An informer's one watch at a time: opens it, hands its callbacks to the informer's context,
 * drops callbacks of a watch already replaced (each watch has an epoch), and tells a live stream
 * from a silent one. What to do with answers and failures is the informer's.
 */
final class InformerStream {

    private static final Logger log = LoggerFactory.getLogger(InformerStream.class);

    /** Called on the informer's context, only for the watch currently open. */
    interface Events {
        void onResponse(long shown, List<KeyChange> changes);

        /** @param error null when the stream ended without one */
        void onFailure(Throwable error);
    }

    private final Context context;
    private final Store store;
    private final InformerScope scope;
    private final Duration watchdogInterval;
    private final Events events;

    private StoreWatch watcher;
    private long epoch;
    private long lastResponseNanos;
    private boolean progressRequested;
    private volatile boolean closed;

    InformerStream(Context context, Store store, InformerScope scope, Duration watchdogInterval, Events events) {
        this.context = context;
        this.store = store;
        this.scope = scope;
        this.watchdogInterval = watchdogInterval;
        this.events = events;
    }

    boolean isOpen() {
        return watcher != null;
    }

    /** Opens a watch from {@code from} (inclusive); a watch that cannot even be created fails at once. */
    void open(long from) {
        long mine = ++epoch;
        lastResponseNanos = System.nanoTime();
        progressRequested = false;
        try {
            watcher = scope.watch(store, from, new WatchListener() {
                @Override
                public void onChanges(long shown, List<KeyChange> changes) {
                    post(() -> {
                        if (current(mine)) {
                            lastResponseNanos = System.nanoTime();
                            progressRequested = false;
                            events.onResponse(shown, changes);
                        }
                    });
                }

                @Override
                public void onError(Throwable error) {
                    post(() -> {
                        if (current(mine)) {
                            events.onFailure(error);
                        }
                    });
                }

                @Override
                public void onCompleted() {
                    post(() -> {
                        if (current(mine)) {
                            events.onFailure(null);
                        }
                    });
                }
            });
        } catch (RuntimeException e) {
            if (current(mine)) {
                events.onFailure(e);
            }
        }
    }

    private boolean current(long mine) {
        return mine == epoch && !closed;
    }

    /**
     * Hands a watch callback to the informer's context. jetcd completes its watches when its client
     * closes, which may happen after the application's Vert.x is gone; such late callbacks are dropped.
     */
    private void post(Runnable action) {
        if (closed) {
            return;
        }
        try {
            context.runOnContext(v -> action.run());
        } catch (RejectedExecutionException e) {
            log.debug("informer on {} got a watch callback after its Vert.x closed", scope.path());
        }
    }

    /**
     * Whether the open watch is silent despite a progress request. etcd answers a progress request
     * on a healthy stream; silence for a whole interval asks once, silence for another interval
     * after asking returns how long it lasted (ms), and the owner replaces the stream; otherwise -1.
     */
    long silentDespiteProgressRequest() {
        long silentNanos = System.nanoTime() - lastResponseNanos;
        if (watcher == null || silentNanos < watchdogInterval.toNanos()) {
            return -1;
        }
        if (!progressRequested) {
            progressRequested = true;
            try {
                store.requestWatchProgress();
            } catch (RuntimeException e) {
                log.debug("progress request failed", e);
            }
            return -1;
        }
        return silentNanos / 1_000_000;
    }

    /** Closes the open watch; its late callbacks are dropped. */
    void stop() {
        epoch++;
        if (watcher != null) {
            try {
                watcher.close();
            } catch (RuntimeException e) {
                log.debug("closing watcher failed", e);
            }
            watcher = null;
        }
    }

    /** Silences the open watch the way a stalled jetcd stream does: no events, no error. */
    void silenceForTest() {
        if (watcher != null) {
            epoch++;
            watcher.close();
        }
    }

    /** No callback is delivered after this, whatever thread it comes from. */
    void close() {
        closed = true;
    }
}
