package io.ferry.csi;

import io.ferry.etcd.FerryKeys;
import io.ferry.runtime.informer.Informer;
import io.ferry.runtime.informer.InformerHandler;
import io.ferry.runtime.informer.InformerOptions;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.NodeRegistration;
import io.ferry.model.Placement;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeParts;
import io.ferry.model.VolumeScheduling;
import io.ferry.model.VolumeStatus;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;

import java.util.Optional;

/**
 * One followed volume's watches. Each key is watched as a prefix (the informer's only mode): a
 * volume named like the start of another ({@code pvc-1}, {@code pvc-10}) also brings the other's
 * changes, which cost a little traffic and are never read, since reads are by exact key.
 */
final class FollowedVolume {

    /** The serving node's keys for one followed volume. */
    record Served(String node, Informer<VolumeStatus> status, Informer<NodeRegistration> registration,
                  Future<Void> loaded) {
        void close() {
            status.close();
            registration.close();
        }
    }

    private final Vertx vertx;
    private final EtcdStore store;
    private final FerryKeys keys;
    private final InformerOptions options;
    private final ViewWaits wake;
    final String volume;
    /** Per volume, and dropped with it: per-key informer metrics would grow without bound. */
    final MeterRegistry meters = new SimpleMeterRegistry();
    final Informer<VolumeIntent> intent;
    final Informer<Placement> placement;
    final Informer<VolumeScheduling> scheduling;
    /** Only a multi-part volume has one; the node plugin then follows each part as a volume of its own. */
    final Informer<VolumeParts> parts;
    final Future<Void> loaded;
    private Served served;
    private boolean closed;

    FollowedVolume(Vertx vertx, EtcdStore store, InformerOptions options, ViewWaits wake, String volume) {
        this.vertx = vertx;
        this.store = store;
        this.keys = store.keys();
        this.options = options;
        this.wake = wake;
        this.volume = volume;
        intent = new Informer<>(vertx, store, keys.volume(volume), VolumeIntent.class, wake.wake(), options, meters);
        scheduling = new Informer<>(vertx, store, keys.volumeScheduling(volume), VolumeScheduling.class, wake.wake(),
                options, meters);
        parts = new Informer<>(vertx, store, keys.volumeParts(volume), VolumeParts.class, wake.wake(), options, meters);
        InformerHandler<Placement> woken = wake.wake();
        placement = new Informer<>(vertx, store, keys.placement(volume), Placement.class, new InformerHandler<>() {
            @Override
            public void onUpsert(Versioned<Placement> current, Versioned<Placement> previous) {
                serve();
                woken.onUpsert(current, previous);
            }

            @Override
            public void onDelete(String key, Versioned<Placement> lastKnown) {
                serve();
                woken.onDelete(key, lastKnown);
            }

            @Override
            public void onSynced(long revision) {
                woken.onSynced(revision);
            }
        }, options, meters);
        loaded = Future.all(intent.start(), placement.start(), scheduling.start(), parts.start()).compose(v -> serve()).mapEmpty();
    }

    Optional<Placement> currentPlacement() {
        return placement.get(keys.placement(volume)).map(Versioned::value);
    }

    /**
     * Watches the status and registration of the node the volume is placed on, moving the
     * watches when the placement names another node; completes once they are loaded.
     */
    synchronized Future<Void> serve() {
        if (closed) {
            return Future.succeededFuture();
        }
        String node = currentPlacement().map(Placement::node).orElse(null);
        if (served != null && served.node().equals(node)) {
            return served.loaded();
        }
        if (served != null) {
            served.close();
            served = null;
        }
        if (node == null) {
            return Future.succeededFuture();
        }
        Informer<VolumeStatus> status = new Informer<>(vertx, store, keys.volumeStatus(node, volume),
                VolumeStatus.class, wake.wake(), options, meters);
        Informer<NodeRegistration> registration = new Informer<>(vertx, store, keys.registration(node),
                NodeRegistration.class, wake.wake(), options, meters);
        served = new Served(node, status, registration, Future.all(status.start(), registration.start()).mapEmpty());
        return served.loaded();
    }

    synchronized Served served() {
        return served;
    }

    synchronized void close() {
        closed = true;
        intent.close();
        placement.close();
        scheduling.close();
        parts.close();
        if (served != null) {
            served.close();
        }
    }
}
