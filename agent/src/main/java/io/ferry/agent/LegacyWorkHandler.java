package io.ferry.agent;

import io.ferry.etcd.store.RawEntry;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.ValidationException;
import io.ferry.runtime.informer.InformerHandler;

/**
 * Work read from its layout-1 place. A delete there is not passed on: the controller's migration
 * deletes a key only after copying it to the layout-2 place, whose watch may deliver the copy
 * later, and reconciling in between would find no work at all. A key of the old layout deleted
 * for good (an older controller releasing a volume) is removed with the volume's status, whose
 * own event reconciles the volume.
 */
final class LegacyWorkHandler<T> implements InformerHandler<T> {

    private final InformerHandler<T> delegate;

    LegacyWorkHandler(InformerHandler<T> delegate) {
        this.delegate = delegate;
    }

    @Override
    public void onUpsert(Versioned<T> current, Versioned<T> previous) {
        delegate.onUpsert(current, previous);
    }

    @Override
    public void onDelete(String key, Versioned<T> lastKnown) {
    }

    @Override
    public void onBadValue(RawEntry raw, ValidationException error) {
        delegate.onBadValue(raw, error);
    }
}
