package io.ferry.agent;

import io.ferry.etcd.store.Versioned;
import io.ferry.model.KeyLayout;
import io.ferry.runtime.informer.InformerHandler;

/** The cluster's key layout: once it says the migration to layout 2 is done, legacy work is retired. */
final class KeyLayoutHandler implements InformerHandler<KeyLayout> {

    private final Runnable retireLegacyWork;

    KeyLayoutHandler(Runnable retireLegacyWork) {
        this.retireLegacyWork = retireLegacyWork;
    }

    @Override
    public void onUpsert(Versioned<KeyLayout> current, Versioned<KeyLayout> previous) {
        if (current.value().migrated()) {
            retireLegacyWork.run();
        }
    }

    @Override
    public void onDelete(String key, Versioned<KeyLayout> lastKnown) {
        // Once retired, the layout-1 places stay unread: a deleted layout key does not make this
        // node's own prefix a source of work again.
    }
}
