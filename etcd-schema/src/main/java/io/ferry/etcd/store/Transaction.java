package io.ferry.etcd.store;

import io.ferry.model.Json;
import io.vertx.core.Future;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * A multi-key transaction: every guard must hold for the writes to apply, all at once, at one
 * revision. Not thread-safe; build and commit it on one thread. Committing twice is not allowed.
 *
 * <p>The transaction only records guards and writes; its store sends them ({@link Sender}), so the
 * same rules (the commit hold, the description in errors) hold for every store.
 */
public final class Transaction {

    /** A condition on one key. */
    public sealed interface Guard permits CreateRevisionIs, ModRevisionIs {
        String key();
    }

    /** The key's create revision must be this one; 0 means the key must not exist. */
    public record CreateRevisionIs(String key, long revision) implements Guard {
    }

    /** The key's mod revision must be this one; 0 means the key must not exist. */
    public record ModRevisionIs(String key, long revision) implements Guard {
    }

    /** A write applied when every guard holds. */
    public sealed interface Write permits Put, Delete {
        String key();
    }

    /** Writes the encoded value, bound to a lease (0 for none). */
    public record Put(String key, byte[] value, long leaseId) implements Write {
    }

    public record Delete(String key) implements Write {
    }

    /** How a store sends a transaction; the description names it in errors. */
    @FunctionalInterface
    public interface Sender {
        Future<TxnOutcome> send(List<Guard> guards, List<Write> writes, String description);
    }

    private final Supplier<Optional<String>> hold;
    private final Sender sender;
    private final List<Guard> guards = new ArrayList<>();
    private final List<Write> writes = new ArrayList<>();
    private final List<String> description = new ArrayList<>();
    private boolean committed;

    /**
     * @param hold   why transactions are held back right now (empty: they are sent); asked at commit
     * @param sender sends guards and writes to the store
     */
    public Transaction(Supplier<Optional<String>> hold, Sender sender) {
        this.hold = hold;
        this.sender = sender;
    }

    /** The key must not exist. */
    public Transaction requireAbsent(String key) {
        guards.add(new CreateRevisionIs(key, 0));
        description.add("absent " + key);
        return this;
    }

    /** The key must still be at this mod revision; 0 means it must not exist. */
    public Transaction requireModRevision(String key, long modRevision) {
        guards.add(new ModRevisionIs(key, modRevision));
        description.add(key + "@" + modRevision);
        return this;
    }

    /** The caller must still hold the election it won: fails once its election key is gone or replaced. */
    public Transaction requireLeadership(Leadership leadership) {
        guards.add(new CreateRevisionIs(leadership.key(), leadership.revision()));
        description.add("leader " + leadership.key());
        return this;
    }

    public Transaction put(String key, Object value) {
        return put(key, value, 0);
    }

    public Transaction put(String key, Object value, long leaseId) {
        writes.add(new Put(key, Json.encode(value), leaseId));
        return this;
    }

    /** Puts bytes as they are: for moving a value, which must not be re-encoded (nor dropped if it does not decode). */
    public Transaction putRaw(String key, byte[] value) {
        writes.add(new Put(key, value.clone(), 0));
        return this;
    }

    public Transaction delete(String key) {
        writes.add(new Delete(key));
        return this;
    }

    /** Number of writes queued; callers use it to count etcd writes per operation. */
    public int writeCount() {
        return writes.size();
    }

    /**
     * Runs the transaction. The outcome says whether the guards held; a failed future means etcd
     * was not reached, in which case the writes may or may not have applied: callers re-read. The
     * exception is a {@link CommitHeldException} when the store held the transaction back (nothing
     * was sent).
     */
    public Future<TxnOutcome> commit() {
        if (committed) {
            throw new IllegalStateException("transaction already committed");
        }
        committed = true;
        String what = "txn [" + String.join(", ", description) + "]";
        Optional<String> held = hold.get();
        if (held.isPresent()) {
            return Future.failedFuture(new CommitHeldException(what + " not sent: " + held.get()));
        }
        return sender.send(List.copyOf(guards), List.copyOf(writes), what);
    }
}
