package io.ferry.controller;

import io.ferry.runtime.informer.Informer;
import io.ferry.etcd.store.Versioned;

import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * An informer's view of keys that only the leader writes, overlaid with the leader's own writes
 * that the watch has not delivered yet (and of agents' volume statuses, of which the leader only
 * ever removes a deletion's acknowledgement: a newer status the agent writes is newer than that removal). Without it the next decision, made a millisecond after a
 * commit, would read the old ledger and lose its compare-and-swap for nothing.
 *
 * <p>An own write at revision R is dropped as soon as the informer has delivered everything up to
 * R, because from then on the informer's value is at least as new. All of them are dropped when the
 * informer's revision goes back (etcd restored from a backup): they belong to a history etcd no
 * longer has, and their revisions, higher than anything etcd holds now, would mask its values until
 * etcd's revision caught up again, failing every compare-and-swap made from them meanwhile.
 * Confined to the controller's context (not thread-safe).
 */
final class Latest<T> {

    private final Informer<T> informer;
    private final Map<String, Versioned<T>> written = new HashMap<>();
    private final Map<String, Long> deleted = new HashMap<>();
    private long lastSeenUpTo;

    Latest(Informer<T> informer) {
        this.informer = informer;
    }

    Optional<Versioned<T>> get(String key) {
        long seenUpTo = informer.revision();
        if (seenUpTo < lastSeenUpTo) {
            reset();
        }
        lastSeenUpTo = seenUpTo;
        Versioned<T> mine = written.get(key);
        if (mine != null && mine.modRevision() <= seenUpTo) {
            written.remove(key);
            mine = null;
        }
        Long deletedAt = deleted.get(key);
        if (deletedAt != null && deletedAt <= seenUpTo) {
            deleted.remove(key);
            deletedAt = null;
        }
        Versioned<T> seen = informer.get(key).orElse(null);
        Versioned<T> newest = seen == null || mine != null && mine.modRevision() > seen.modRevision() ? mine : seen;
        if (deletedAt != null && (newest == null || newest.modRevision() < deletedAt)) {
            return Optional.empty();
        }
        return Optional.ofNullable(newest);
    }

    void wrote(String key, T value, long revision) {
        Versioned<T> previous = get(key).orElse(null);
        long created = previous == null ? revision : previous.createRevision();
        long version = previous == null ? 1 : previous.version() + 1;
        written.put(key, new Versioned<>(key, value, created, revision, version, 0));
        deleted.remove(key);
    }

    void removed(String key, long revision) {
        written.remove(key);
        deleted.put(key, revision);
    }

    /** Forgets own writes, e.g. after losing leadership, so only what etcd says counts. */
    void reset() {
        written.clear();
        deleted.clear();
    }
}
