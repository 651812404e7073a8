package io.ferry.agent;

import io.ferry.runtime.informer.Informer;
import io.ferry.etcd.store.Versioned;
import io.vertx.core.Future;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * One node's work items of one kind, as the reconcilers see them: from their place under
 * {@code work/<node>/}, and, while the cluster has not finished moving to key layout 2, from their
 * layout-1 place under {@code nodes/<node>/} too, the new place first. A cluster half-way through the
 * controller's migration therefore looks like the whole of its work (an item is in one place or the
 * other, or in both with the same value between the migration's copy and its delete).
 *
 * <p>Once the layout key says the migration is done, the layout-1 informer is closed for good: the
 * agent may write its own {@code nodes/<node>/} prefix, so a key there must never be taken as work.
 */
final class WorkItems<T> implements AutoCloseable {

    private final String kind;
    private final Informer<T> current;
    private final Function<String, String> currentKey;
    private volatile Informer<T> legacy;
    private final Function<String, String> legacyKey;
    private final Function<T, String> nameOf;

    /**
     * @param currentKey the layout-2 key of a name
     * @param legacy     the layout-1 informer, or null when the cluster is already migrated
     * @param legacyKey  the layout-1 key of a name
     */
    WorkItems(String kind, Informer<T> current, Function<String, String> currentKey,
            Informer<T> legacy, Function<String, String> legacyKey,
            Function<T, String> nameOf) {
        this.kind = kind;
        this.current = current;
        this.currentKey = currentKey;
        this.legacy = legacy;
        this.legacyKey = legacyKey;
        this.nameOf = nameOf;
    }

    Future<Void> start() {
        Informer<T> old = legacy;
        return old == null ? current.start() : Future.all(current.start(), old.start()).mapEmpty();
    }

    boolean synced() {
        Informer<T> old = legacy;
        return current.synced() && (old == null || old.synced());
    }

    /** True while work is also read from the layout-1 place. */
    boolean readingLegacy() {
        return legacy != null;
    }

    Optional<Versioned<T>> get(String name) {
        String key = currentKey.apply(name);
        Optional<Versioned<T>> found = current.get(key);
        if (found.isPresent() || current.badKeys().contains(key)) {
            return found;
        }
        Informer<T> old = legacy;
        return old == null ? Optional.empty() : old.get(legacyKey.apply(name));
    }

    boolean isBad(String name) {
        String key = currentKey.apply(name);
        if (current.badKeys().contains(key)) {
            return true;
        }
        if (current.get(key).isPresent()) {
            return false;
        }
        Informer<T> old = legacy;
        return old != null && old.badKeys().contains(legacyKey.apply(name));
    }

    /** Every work item, each name once (its layout-2 value when it has both). */
    Collection<Versioned<T>> values() {
        Informer<T> old = legacy;
        if (old == null) {
            return current.values();
        }
        List<Versioned<T>> all = new ArrayList<>(current.values());
        Set<String> names = new HashSet<>();
        all.forEach(v -> names.add(nameOf.apply(v.value())));
        for (Versioned<T> v : old.values()) {
            String name = nameOf.apply(v.value());
            if (!names.contains(name) && !current.badKeys().contains(currentKey.apply(name))) {
                all.add(v);
            }
        }
        return all;
    }

    /**
     * The cluster is migrated: stop reading the layout-1 place. Every name it held is handed to
     * {@code requeue}, to be reconciled from the layout-2 place alone.
     */
    void legacyRetired(Consumer<String> requeue) {
        Informer<T> old = legacy;
        if (old == null) {
            return;
        }
        legacy = null;
        Set<String> names = new HashSet<>();
        old.values().forEach(v -> names.add(nameOf.apply(v.value())));
        old.badKeys().forEach(k -> names.add(NodeContext.lastSegment(k)));
        old.close();
        names.forEach(requeue);
    }

    @Override
    public void close() {
        current.close();
        Informer<T> old = legacy;
        if (old != null) {
            old.close();
        }
    }

    @Override
    public String toString() {
        return "WorkItems[" + kind + ", " + current.prefix() + (legacy != null ? " + " + legacy.prefix() : "") + "]";
    }
}
