package io.ferry.agent;

import io.ferry.etcd.store.Versioned;
import io.ferry.model.VolumePhase;
import io.ferry.model.VolumeStatus;
import io.ferry.runtime.informer.InformerHandler;

import java.util.Optional;
import java.util.function.Consumer;

/**
 * Someone else changing or deleting one of this node's status keys: reconcile, which rewrites it
 * if needed. The agent's own writes come back through the same watch and are recognised by the
 * {@link StatusWriter}, so they enqueue nothing.
 */
final class StatusHandler<T> implements InformerHandler<T> {

    private final StatusWriter statuses;
    private final Consumer<String> enqueue;
    private final Consumer<VolumeStatus> acknowledgementTaken;

    /**
     * @param acknowledgementTaken told when the controller removes a volume's Deleted
     *                             acknowledgement (the delete is answered)
     */
    StatusHandler(StatusWriter statuses, Consumer<String> enqueue, Consumer<VolumeStatus> acknowledgementTaken) {
        this.statuses = statuses;
        this.enqueue = enqueue;
        this.acknowledgementTaken = acknowledgementTaken;
    }

    @Override
    public void onUpsert(Versioned<T> current, Versioned<T> previous) {
        Optional<Object> mine = statuses.last(current.key());
        if (mine.isPresent() && !statuses.isMine(current.key(), current.value(), current.modRevision())) {
            statuses.forget(current.key());
            enqueue.accept(NodeContext.lastSegment(current.key()));
        }
    }

    @Override
    public void onDelete(String key, Versioned<T> lastKnown) {
        Optional<Object> mine = statuses.last(key);
        if (mine.isPresent()) {
            statuses.forget(key);
            if (mine.get() instanceof VolumeStatus acknowledgement && acknowledgement.phase() == VolumePhase.DELETED) {
                acknowledgementTaken.accept(acknowledgement);
            }
            enqueue.accept(NodeContext.lastSegment(key));
        }
    }
}
