package io.ferry.runtime.informer;

import io.ferry.etcd.store.BadValueException;
import io.ferry.etcd.store.RawEntry;
import io.ferry.etcd.store.Store;
import io.ferry.etcd.store.Versioned;
import io.micrometer.core.instrument.Counter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * An informer's decoded copy of its keys and the rules by which listings and watch events change
 * it, each change told to the handler. Changes are made on the informer's context only; the maps
 * can be read from any thread.
 */
final class InformerCache<T> {

    private static final Logger log = LoggerFactory.getLogger(InformerCache.class);

    private final Store store;
    private final String path;
    private final Function<String, Class<? extends T>> typeOfKey;
    private final InformerHandler<T> handler;
    private final Counter decodeFailures;

    final Map<String, Versioned<T>> entries = new ConcurrentHashMap<>();
    final Set<String> badKeys = ConcurrentHashMap.newKeySet();

    InformerCache(Store store, String path, Function<String, Class<? extends T>> typeOfKey, InformerHandler<T> handler,
            Counter decodeFailures) {
        this.store = store;
        this.path = path;
        this.typeOfKey = typeOfKey;
        this.handler = handler;
        this.decodeFailures = decodeFailures;
    }

    /**
     * Makes the cache equal to a listing and tells the handler what differed.
     *
     * @param authoritative true when no watch ran while the listing was taken; false for a resync
     *                      beside a live watch, where only keys the watch has not moved past are touched
     */
    void applyListing(Store.RawListing listing, boolean authoritative) {
        long listed = listing.revision();
        Set<String> seen = new HashSet<>();
        for (RawEntry entry : listing.entries()) {
            seen.add(entry.key());
            Versioned<T> cached = entries.get(entry.key());
            if (cached != null && cached.modRevision() >= entry.modRevision()) {
                continue;
            }
            if (!authoritative && badKeys.contains(entry.key())) {
                continue;
            }
            applyPut(entry, false);
        }
        for (String key : List.copyOf(entries.keySet())) {
            Versioned<T> cached = entries.get(key);
            if (!seen.contains(key) && (authoritative || cached.modRevision() <= listed)) {
                applyDelete(key);
            }
        }
        if (authoritative) {
            badKeys.retainAll(seen);
        }
    }

    /**
     * Makes the cache equal to a listing of an etcd whose history went back. Revisions cannot be
     * compared with the cache's (they were reused by the restored etcd for other changes), so every
     * key whose value or revisions differ is delivered and every cached key not listed is deleted.
     */
    void applyRewoundListing(Store.RawListing listing) {
        Set<String> seen = new HashSet<>();
        for (RawEntry entry : listing.entries()) {
            seen.add(entry.key());
            applyPut(entry, true);
        }
        for (String key : List.copyOf(entries.keySet())) {
            if (!seen.contains(key)) {
                applyDelete(key);
            }
        }
        badKeys.retainAll(seen);
    }

    void synced(long revision) {
        safely(() -> handler.onSynced(revision));
    }

    /** @param unlessSame deliver nothing when the cache already holds this very value at these revisions */
    void applyPut(RawEntry entry, boolean unlessSame) {
        Class<? extends T> type = typeOfKey.apply(entry.key());
        if (type == null) {
            return;
        }
        Versioned<T> decoded;
        try {
            @SuppressWarnings("unchecked")
            Versioned<T> value = (Versioned<T>) store.decode(entry, type);
            decoded = value;
        } catch (BadValueException e) {
            decodeFailures.increment();
            badKeys.add(entry.key());
            log.warn("skipping {} (revision {}): {}", entry.key(), entry.modRevision(), e.getCause().getMessage());
            safely(() -> handler.onBadValue(entry, e.getCause()));
            return;
        }
        badKeys.remove(entry.key());
        if (unlessSame && decoded.equals(entries.get(entry.key()))) {
            return;
        }
        Versioned<T> previous = entries.put(entry.key(), decoded);
        safely(() -> handler.onUpsert(decoded, previous));
    }

    void applyDelete(String key) {
        if (typeOfKey.apply(key) == null) {
            return;
        }
        badKeys.remove(key);
        Versioned<T> previous = entries.remove(key);
        safely(() -> handler.onDelete(key, previous));
    }

    /** Runs a handler or listener call; one that throws is logged and the informer carries on. */
    void safely(Runnable call) {
        try {
            call.run();
        } catch (RuntimeException e) {
            log.error("informer handler for {} threw; the informer carries on", path, e);
        }
    }
}
