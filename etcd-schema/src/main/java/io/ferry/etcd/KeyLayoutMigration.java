package io.ferry.etcd;

import io.ferry.etcd.FerryKeys.Kind;
import io.ferry.etcd.FerryKeys.KeyRef;
import io.ferry.etcd.store.Store;
import io.ferry.etcd.store.RawEntry;
import io.ferry.etcd.store.Transaction;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.KeyLayout;
import io.vertx.core.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Moves the work items of key layout 1 ({@code nodes/<node>/work/}, {@code nodes/<node>/snapshot-work/})
 * to their layout-2 places ({@code work/<node>/volumes/}, {@code work/<node>/snapshots/}), then records
 * {@link KeyLayout} at {@link FerryKeys#keyLayout()}. Every controller runs it at start, before it
 * reads the cluster; running it again, or concurrently, or after a crash at any point, changes
 * nothing that is already moved.
 *
 * <p>A work item is never lost: each one is first copied (guarded on the old key's revision and the
 * new key's absence or revision) and only then deleted (guarded on both revisions, so the old key is
 * removed only while the new one still holds what was copied). Values are moved as bytes, so one that
 * does not decode moves too, and the agent reports it where it now is. When both places hold a value
 * (a controller of the old version led after a migration, or a crash came between copy and delete),
 * the one written last is the current decision and wins.
 *
 * <p>The layout key is written only once no old key is left, and it is what agents go by: until they
 * read it they take work from both places, the new one first, so that a half-migrated cluster looks to
 * them like the whole of its work; after it, only the new places, which they cannot write.
 */
public final class KeyLayoutMigration {

    private static final Logger log = LoggerFactory.getLogger(KeyLayoutMigration.class);
    /** Rounds of listing and moving before giving up while something keeps writing old keys. */
    private static final int MAX_ROUNDS = 5;
    /** Attempts on one key whose guards keep failing (someone keeps rewriting it). */
    private static final int MAX_ATTEMPTS_PER_KEY = 10;

    /** What one run did. */
    public record Outcome(int copied, int removed, boolean layoutWritten) {
    }

    /** The migration could not finish; the message says which key and why. The next start resumes it. */
    public static final class Incomplete extends RuntimeException {
        Incomplete(String message) {
            super(message);
        }
    }

    private final Store store;
    private final FerryKeys keys;
    private int copied;
    private int removed;

    private KeyLayoutMigration(Store store) {
        this.store = store;
        this.keys = store.keys();
    }

    /** Migrates whatever is left in layout 1 and records layout 2; see the class comment. */
    public static Future<Outcome> run(Store store, Instant now) {
        KeyLayoutMigration m = new KeyLayoutMigration(store);
        return m.round(1).compose(v -> m.recordLayout(now))
                .map(written -> new Outcome(m.copied, m.removed, written))
                .onSuccess(o -> {
                    if (o.copied() > 0 || o.removed() > 0 || o.layoutWritten()) {
                        log.info("key layout {}: {} work items copied, {} old keys removed, {} written", KeyLayout.CURRENT,
                                o.copied(), o.removed(), store.keys().keyLayout());
                    }
                });
    }

    /** The cluster's recorded key layout, or empty when the key is absent (layout 1). */
    public static Future<Optional<KeyLayout>> read(Store store) {
        return store.get(store.keys().keyLayout(), KeyLayout.class).map(v -> v.map(Versioned::value));
    }

    /** The layout-2 key of a layout-1 work item key, or null when the key is not one. */
    static String target(FerryKeys keys, String legacyKey) {
        KeyRef ref = keys.parse(legacyKey).orElse(null);
        if (ref == null) {
            return null;
        }
        if (ref.kind() == Kind.LEGACY_NODE_WORK) {
            return keys.workItem(ref.names().get(0), ref.name());
        }
        return ref.kind() == Kind.LEGACY_NODE_SNAPSHOT_WORK ? keys.snapshotWorkItem(ref.names().get(0), ref.name()) : null;
    }

    private Future<Void> round(int round) {
        return store.listRaw(keys.nodes()).compose(listing -> {
            List<RawEntry> legacy = new ArrayList<>();
            for (RawEntry e : listing.entries()) {
                if (target(keys, e.key()) != null) {
                    legacy.add(e);
                }
            }
            if (legacy.isEmpty()) {
                return Future.succeededFuture();
            }
            if (round > MAX_ROUNDS) {
                return Future.failedFuture(new Incomplete(legacy.size() + " work items are still written under "
                        + keys.nodes() + "<node>/work/ after " + MAX_ROUNDS + " rounds (first: " + legacy.get(0).key()
                        + "): is a controller of an older version still leading? Stop it; the next start resumes"));
            }
            return store.listRaw(keys.work()).compose(targets -> {
                Map<String, RawEntry> current = new HashMap<>();
                targets.entries().forEach(e -> current.put(e.key(), e));
                return moveAll(legacy, 0, current);
            }).compose(v -> round(round + 1));
        });
    }

    private Future<Void> moveAll(List<RawEntry> legacy, int index, Map<String, RawEntry> targets) {
        if (index >= legacy.size()) {
            return Future.succeededFuture();
        }
        RawEntry old = legacy.get(index);
        String to = target(keys, old.key());
        return move(old, targets.get(to), to, 1).compose(v -> moveAll(legacy, index + 1, targets));
    }

    /**
     * One step for one key, from what was last read of both places: copy when the new place is empty
     * or older, else remove the old key. Either step's guards failing means someone wrote meanwhile:
     * both places are read again and the step is decided anew.
     */
    private Future<Void> move(RawEntry old, RawEntry current, String to, int attempt) {
        if (old == null) {
            return Future.succeededFuture();
        }
        if (attempt > MAX_ATTEMPTS_PER_KEY) {
            return Future.failedFuture(new Incomplete(old.key() + " kept changing while it was moved to " + to
                    + " (" + MAX_ATTEMPTS_PER_KEY + " attempts); the next start resumes"));
        }
        Transaction txn = store.txn().requireModRevision(old.key(), old.modRevision())
                .requireModRevision(to, current == null ? 0 : current.modRevision());
        boolean copy = current == null || current.modRevision() < old.modRevision();
        if (copy) {
            txn.putRaw(to, old.value());
        } else {
            txn.delete(old.key());
        }
        return txn.commit().compose(outcome -> {
            if (outcome.succeeded()) {
                if (copy) {
                    copied++;
                } else {
                    removed++;
                    return Future.succeededFuture();
                }
            }
            return Future.all(store.getRaw(old.key()), store.getRaw(to)).compose(both -> {
                Optional<RawEntry> o = both.resultAt(0);
                Optional<RawEntry> c = both.resultAt(1);
                return move(o.orElse(null), c.orElse(null), to, outcome.succeeded() ? attempt : attempt + 1);
            });
        });
    }

    private Future<Boolean> recordLayout(Instant now) {
        String key = keys.keyLayout();
        return store.getRaw(key).compose(found -> {
            if (found.isPresent()) {
                try {
                    if (store.decode(found.get(), KeyLayout.class).value().migrated()) {
                        return Future.succeededFuture(false);
                    }
                } catch (RuntimeException badValue) {
                    log.warn("{} holds a value that is not a key layout ({}); replacing it with layout {}", key,
                            badValue.getMessage(), KeyLayout.CURRENT);
                }
            }
            return store.txn().requireModRevision(key, found.map(RawEntry::modRevision).orElse(0L))
                    .put(key, KeyLayout.current(now)).commit()
                    .compose(outcome -> outcome.succeeded() ? Future.succeededFuture(true) : recordLayout(now));
        });
    }
}
