package io.ferry.controller;

import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.FerryKeys.KeyRef;
import io.ferry.etcd.store.RawEntry;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.Attachment;
import io.ferry.model.GlobalConfig;
import io.ferry.model.Ledger;
import io.ferry.model.MirrorReport;
import io.ferry.model.NodeDrain;
import io.ferry.model.NodeRegistration;
import io.ferry.model.Placement;
import io.ferry.model.PoolConfig;
import io.ferry.model.SnapshotIntent;
import io.ferry.model.SnapshotScheduling;
import io.ferry.model.ValidationException;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeParts;
import io.ferry.model.VolumePhase;
import io.ferry.runtime.informer.InformerHandler;

import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * What each informer event means for the controller: the indexes it updates and the
 * {@link ClusterState.Listener} calls it makes, one handler per informer. Also remembers what an
 * event leaves behind that no key holds any more: the last registration seen of each node, and why
 * an intent did not decode.
 */
final class ClusterEvents {

    private final FerryKeys keys;
    private final ClusterState state;
    private final CandidateIndex candidates;
    private final VolumeIndex volumes;
    private final ClusterState.Listener listener;
    /** The last registration this process saw of each node, kept while the node is not registered. */
    private final Map<String, NodeRegistration> lastRegistrations = new HashMap<>();
    private final Map<String, String> badIntents = new HashMap<>();
    private final Map<String, String> badSnapshots = new HashMap<>();

    ClusterEvents(FerryKeys keys, ClusterState state, CandidateIndex candidates, VolumeIndex volumes,
                  ClusterState.Listener listener) {
        this.keys = keys;
        this.state = state;
        this.candidates = candidates;
        this.volumes = volumes;
        this.listener = listener;
    }

    Optional<NodeRegistration> lastRegistration(String node) {
        return Optional.ofNullable(lastRegistrations.get(node));
    }

    Optional<String> badIntent(String volume) {
        return Optional.ofNullable(badIntents.get(volume));
    }

    Optional<String> badSnapshot(String snapshot) {
        return Optional.ofNullable(badSnapshots.get(snapshot));
    }

    // ---- one handler per informer ----

    InformerHandler<GlobalConfig> globalConfig() {
        return handler(v -> rebuildAllCandidates(), (k, v) -> rebuildAllCandidates());
    }

    InformerHandler<PoolConfig> poolConfigs() {
        return handler(v -> poolConfigChanged(v.value().name()), (k, v) -> poolConfigChanged(name(k)));
    }

    InformerHandler<Object> nodeKeys() {
        return observed(handler(v -> nodeKeyChanged(v.key()), (k, v) -> nodeKeyChanged(k)));
    }

    InformerHandler<Object> workItems() {
        return handler(v -> nodeKeyChanged(v.key()), (k, v) -> nodeKeyChanged(k));
    }

    InformerHandler<Ledger> ledgers() {
        return handler(v -> ledgerChanged(v.value().pool()), (k, v) -> ledgerChanged(name(k)));
    }

    InformerHandler<VolumeIntent> volumeIntents() {
        return observed(new InformerHandler<>() {
            @Override
            public void onUpsert(Versioned<VolumeIntent> current, Versioned<VolumeIntent> previous) {
                badIntents.remove(current.value().name());
                volumes.spreadGroupChanged(current.value().name(), previous == null ? null : previous.value().spreadGroup(),
                        current.value().spreadGroup());
                intentChanged(current.value().name());
            }

            @Override
            public void onDelete(String key, Versioned<VolumeIntent> lastKnown) {
                String name = name(key);
                badIntents.remove(name);
                volumes.spreadGroupChanged(name, lastKnown == null ? null : lastKnown.value().spreadGroup(), null);
                intentChanged(name);
                if (lastKnown != null && lastKnown.value().sourceSnapshot() != null) {
                    // A snapshot waiting to be deleted was held back by this volume.
                    listener.snapshotChanged(lastKnown.value().sourceSnapshot());
                }
            }

            @Override
            public void onBadValue(RawEntry raw, ValidationException error) {
                String name = name(raw.key());
                if (name != null) {
                    badIntents.put(name, error.getMessage());
                    listener.volumeChanged(name);
                }
            }
        });
    }

    InformerHandler<SnapshotIntent> snapshotIntents() {
        return observed(new InformerHandler<>() {
            @Override
            public void onUpsert(Versioned<SnapshotIntent> current, Versioned<SnapshotIntent> previous) {
                badSnapshots.remove(current.value().name());
                listener.snapshotChanged(current.value().name());
            }

            @Override
            public void onDelete(String key, Versioned<SnapshotIntent> lastKnown) {
                badSnapshots.remove(name(key));
                listener.snapshotChanged(name(key));
                if (lastKnown != null) {
                    // Its origin may be waiting for its snapshots to go before it can be deleted.
                    listener.volumeChanged(lastKnown.value().sourceVolume());
                }
            }

            @Override
            public void onBadValue(RawEntry raw, ValidationException error) {
                String name = name(raw.key());
                if (name != null) {
                    badSnapshots.put(name, error.getMessage());
                    listener.snapshotChanged(name);
                }
            }
        });
    }

    InformerHandler<Attachment> attachments() {
        return observed(handler(v -> {
            volumes.attached(v.value());
            volumeAndPartsChanged(v.value().volume());
        }, (k, v) -> keys.parse(k).ifPresent(ref -> {
            String volume = ref.names().get(0);
            volumes.detached(volume, ref.names().get(1));
            volumeAndPartsChanged(volume);
        })));
    }

    InformerHandler<VolumeParts> volumeParts() {
        return handler(v -> {
            volumeAndPartsChanged(v.value().volume());
            drainsGoOn();
        }, (k, v) -> {
            listener.volumeChanged(name(k));
            if (v != null) {
                v.value().allPartNames().forEach(listener::volumeChanged);
            }
            drainsGoOn();
        });
    }

    /** A node's drain asked for or ended: every volume with a part on the node looks again at its legs. */
    InformerHandler<NodeDrain> nodeDrains() {
        return handler(v -> drainChanged(v.value().node()), (k, v) -> drainChanged(name(k)));
    }

    private void drainChanged(String node) {
        if (node != null) {
            volumes.volumesOn(node).forEach(this::volumeAndOwnerChanged);
        }
    }

    /**
     * A move that ended frees one of a drain's parallel moves: the mirrors still on a draining node are
     * looked at again, so the next leg starts without waiting for the periodic resync.
     */
    private void drainsGoOn() {
        state.drains().forEach(drain -> drainChanged(drain.node()));
    }

    /** A consumer's report of a mirror: a leg moving to another pool is let go of once it shows the new leg in sync. */
    InformerHandler<MirrorReport> mirrorReports() {
        return handler(v -> listener.volumeChanged(v.value().volume()),
                (k, v) -> keys.parse(k).ifPresent(ref -> listener.volumeChanged(ref.names().get(0))));
    }

    InformerHandler<Placement> placements() {
        return observed(new InformerHandler<>() {
            @Override
            public void onUpsert(Versioned<Placement> current, Versioned<Placement> previous) {
                placementChanged(previous == null ? null : previous.value(), current.value());
                listener.volumeChanged(current.value().volume());
                if (previous == null || !previous.value().pool().equals(current.value().pool())
                        || previous.value().sizeBytes() != current.value().sizeBytes()) {
                    // A placement rebuilt (or removed by hand) moves no ledger by itself: the audit
                    // counts its bytes once, now rather than at the next resync.
                    listener.ledgerChanged(current.value().pool());
                }
            }

            @Override
            public void onDelete(String key, Versioned<Placement> lastKnown) {
                if (lastKnown != null) {
                    placementChanged(lastKnown.value(), null);
                    listener.ledgerChanged(lastKnown.value().pool());
                }
                listener.volumeChanged(name(key));
            }
        });
    }

    InformerHandler<Object> records() {
        return observed(new InformerHandler<>() {
            @Override
            public void onUpsert(Versioned<Object> current, Versioned<Object> previous) {
                // A snapshot's record is its allocation record: a change to where it is (by hand, say)
                // is an input. What it merely says (message, conditions: a failed pass's attempt
                // count) is not, or every failure recorded would rerun the snapshot past its backoff.
                if (current.value() instanceof SnapshotScheduling s && !(previous != null
                        && previous.value() instanceof SnapshotScheduling p && sameAllocation(p, s))) {
                    listener.snapshotChanged(s.snapshot());
                    state.volumesFromSnapshot(s.snapshot()).forEach(listener::volumeChanged);
                }
            }

            @Override
            public void onDelete(String key, Versioned<Object> lastKnown) {
            }
        });
    }

    // ---- index maintenance, for events and the leader's own writes alike ----

    /** The volume moved from the node {@code before} was on to the one {@code after} is on (either may be null). */
    void placementChanged(Placement before, Placement after) {
        volumes.placementChanged(before, after);
        if (before != null && before.servedRemotely()) {
            candidates.adjustRemote(before.node(), -1);
        }
        if (after != null && after.servedRemotely()) {
            candidates.adjustRemote(after.node(), +1);
        }
    }

    /** Whether the node still holds the volume, after its work item or status changed. */
    void holdingChanged(String node, String volume) {
        // An acknowledged deletion (status Deleted) holds nothing any more.
        volumes.holding(node, volume, state.workItem(node, volume).isPresent()
                || state.volumeStatus(node, volume).filter(st -> st.phase() != VolumePhase.DELETED).isPresent());
    }

    void rebuildAllCandidates() {
        candidates.rebuildAll();
        listener.capacityChanged();
    }

    private void nodeKeyChanged(String key) {
        KeyRef ref = keys.parse(key).orElse(null);
        if (ref == null) {
            return;
        }
        String node = ref.names().get(0);
        switch (ref.kind()) {
            case NODE_REGISTRATION -> {
                state.registration(node).ifPresent(r -> lastRegistrations.put(node, r));
                candidates.nodeChanged(node);
                volumes.volumesOn(node).forEach(this::volumeAndOwnerChanged);
                volumes.attachedTo(node).forEach(this::volumeAndPartsChanged);
                listener.capacityChanged();
            }
            case NODE_POOL_STATUS -> {
                candidates.refresh(ref.name());
                listener.capacityChanged();
            }
            case NODE_WORK, NODE_VOLUME_STATUS -> {
                holdingChanged(node, ref.name());
                listener.volumeChanged(ref.name());
            }
            case NODE_SNAPSHOT_WORK, NODE_SNAPSHOT_STATUS -> {
                listener.snapshotChanged(ref.name());
                state.volumesFromSnapshot(ref.name()).forEach(listener::volumeChanged);
            }
            default -> { }
        }
    }

    private void poolConfigChanged(String pool) {
        if (pool == null) {
            return;
        }
        candidates.poolConfigChanged(pool);
        listener.capacityChanged();
    }

    private void ledgerChanged(String pool) {
        if (pool != null) {
            candidates.refresh(pool);
            listener.capacityChanged();
            listener.ledgerChanged(pool);
        }
    }

    /**
     * A volume and, for a multi-part one, each of its parts: a part is served wherever its volume is
     * attached, so its work item changes with the volume's attachments.
     */
    private void volumeAndPartsChanged(String volume) {
        listener.volumeChanged(volume);
        state.volumeParts(volume).ifPresent(parts -> parts.value().allPartNames().forEach(listener::volumeChanged));
    }

    /**
     * A volume and, for a part, the volume it is a part of: the volume's record tells of its parts'
     * nodes, and its deletion waits for its parts' intents to go.
     */
    private void volumeAndOwnerChanged(String volume) {
        listener.volumeChanged(volume);
        ClusterState.partOf(volume).ifPresent(listener::volumeChanged);
    }

    /**
     * An intent changed: its volume, the volume it is a part of, and its own parts are reconciled, since
     * a part's deletion goes on only while its volume asks for it.
     */
    private void intentChanged(String volume) {
        volumeAndOwnerChanged(volume);
        state.volumeParts(volume).ifPresent(parts -> parts.value().allPartNames().forEach(listener::volumeChanged));
    }

    private static boolean sameAllocation(SnapshotScheduling a, SnapshotScheduling b) {
        return a.phase() == b.phase() && Objects.equals(a.node(), b.node())
                && Objects.equals(a.pool(), b.pool()) && a.sizeBytes() == b.sizeBytes();
    }

    private String name(String key) {
        return keys.parse(key).map(KeyRef::name).orElse(null);
    }

    /** Tells the listener every value's before and after, once {@code inner} has updated the indexes. */
    private <T> InformerHandler<T> observed(InformerHandler<T> inner) {
        return new InformerHandler<>() {
            @Override
            public void onUpsert(Versioned<T> current, Versioned<T> previous) {
                inner.onUpsert(current, previous);
                listener.valueChanged(previous == null ? null : previous.value(), current.value());
            }

            @Override
            public void onDelete(String key, Versioned<T> lastKnown) {
                inner.onDelete(key, lastKnown);
                if (lastKnown != null) {
                    listener.valueChanged(lastKnown.value(), null);
                }
            }

            @Override
            public void onBadValue(RawEntry raw, ValidationException error) {
                inner.onBadValue(raw, error);
            }

            @Override
            public void onSynced(long revision) {
                inner.onSynced(revision);
            }
        };
    }

    private static <T> InformerHandler<T> handler(Consumer<Versioned<T>> upsert, BiConsumer<String, Versioned<T>> delete) {
        return new InformerHandler<>() {
            @Override
            public void onUpsert(Versioned<T> current, Versioned<T> previous) {
                upsert.accept(current);
            }

            @Override
            public void onDelete(String key, Versioned<T> lastKnown) {
                delete.accept(key, lastKnown);
            }
        };
    }
}
