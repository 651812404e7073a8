package io.ferry.agent;

import io.ferry.etcd.store.RawEntry;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.ValidationException;
import io.ferry.runtime.informer.InformerHandler;

import java.util.function.Consumer;
import java.util.function.Function;

/**
 * This node's work items of one kind (volumes or snapshots): every change, delete or broken value
 * enqueues the item's name; a broken value's error is kept for the Failed status and dropped as
 * soon as the key is readable again or gone. Quick and on the agent's context: it only enqueues.
 */
final class WorkHandler<T> implements InformerHandler<T> {

    private final BadValues bad;
    private final Function<T, String> nameOf;
    private final Consumer<String> enqueue;

    WorkHandler(BadValues bad, Function<T, String> nameOf, Consumer<String> enqueue) {
        this.bad = bad;
        this.nameOf = nameOf;
        this.enqueue = enqueue;
    }

    @Override
    public void onUpsert(Versioned<T> current, Versioned<T> previous) {
        String name = nameOf.apply(current.value());
        bad.clear(name);
        enqueue.accept(name);
    }

    @Override
    public void onDelete(String key, Versioned<T> lastKnown) {
        String name = NodeContext.lastSegment(key);
        bad.clear(name);
        enqueue.accept(name);
    }

    @Override
    public void onBadValue(RawEntry raw, ValidationException error) {
        String name = NodeContext.lastSegment(raw.key());
        bad.record(name, error.getMessage());
        enqueue.accept(name);
    }
}
