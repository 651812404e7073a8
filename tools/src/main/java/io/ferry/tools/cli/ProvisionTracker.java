package io.ferry.tools.cli;

import io.ferry.etcd.FerryKeys;
import io.ferry.runtime.informer.InformerHandler;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.Placement;
import io.ferry.model.SchedulingPhase;
import io.ferry.model.VolumeProgress;
import io.ferry.model.VolumeScheduling;
import io.ferry.model.VolumeStatus;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Completes each volume's wait: a creation once {@link VolumeProgress#created} (the rule the CSI
 * plugin and ferryctl use) says it is done or has failed, a deletion once the controller has
 * removed the volume's scheduling record.
 */
final class ProvisionTracker implements InformerHandler<Object> {
    interface Done {
        void accept(String error);
    }

    private final FerryKeys keys;
    private final Map<String, Done> creating = new ConcurrentHashMap<>();
    private final Map<String, Done> deleting = new ConcurrentHashMap<>();
    private final Map<String, Long> placedNanos = new ConcurrentHashMap<>();
    private final Map<String, VolumeScheduling> schedulings = new ConcurrentHashMap<>();
    private final Map<String, Placement> placements = new ConcurrentHashMap<>();
    private final Map<String, VolumeStatus> statuses = new ConcurrentHashMap<>();

    ProvisionTracker(FerryKeys keys) {
        this.keys = keys;
    }

    /** When the placement of a volume being created was seen ({@link System#nanoTime}), once. */
    Long placedAt(String name) {
        return placedNanos.remove(name);
    }

    void expect(String name, boolean create, Done done) {
        (create ? creating : deleting).put(name, done);
    }

    void fail(String name, String error) {
        Done d = creating.remove(name);
        if (d == null) {
            d = deleting.remove(name);
        }
        if (d != null) {
            d.accept(error);
        }
    }

    private void evaluate(String volume) {
        if (!creating.containsKey(volume)) {
            return;
        }
        VolumeProgress.Outcome outcome = VolumeProgress.created(volume, schedulings.get(volume), 0,
                placements.get(volume), statuses.get(volume));
        if (outcome instanceof VolumeProgress.Failed f) {
            fail(volume, f.reason().value() + ": " + f.message());
        } else if (outcome instanceof VolumeProgress.Done) {
            Done d = creating.remove(volume);
            if (d != null) {
                d.accept(null);
            }
        }
    }

    @Override
    public void onUpsert(Versioned<Object> current, Versioned<Object> previous) {
        String volume;
        if (current.value() instanceof VolumeStatus s) {
            statuses.put(s.volume(), s);
            volume = s.volume();
        } else if (current.value() instanceof Placement p) {
            placements.put(p.volume(), p);
            volume = p.volume();
        } else if (current.value() instanceof VolumeScheduling s) {
            schedulings.put(s.volume(), s);
            volume = s.volume();
            if (s.phase() == SchedulingPhase.PLACED && creating.containsKey(volume)) {
                placedNanos.putIfAbsent(volume, System.nanoTime());
            }
        } else {
            return;
        }
        evaluate(volume);
    }

    @Override
    public void onDelete(String key, Versioned<Object> lastKnown) {
        if (lastKnown != null && lastKnown.value() instanceof VolumeStatus st) {
            statuses.remove(st.volume(), st);
        } else if (lastKnown != null && lastKnown.value() instanceof Placement p) {
            placements.remove(p.volume(), p);
        } else if (lastKnown != null && lastKnown.value() instanceof VolumeScheduling sc) {
            schedulings.remove(sc.volume(), sc);
        }
        // The controller removes a volume's scheduling record in the same transaction that
        // removes its intent: that is the end of a deletion.
        if (key.startsWith(keys.volumeSchedulings())) {
            keys.parse(key).ifPresent(ref -> {
                Done d = deleting.remove(ref.name());
                if (d != null) {
                    d.accept(null);
                }
            });
        }
    }
}
