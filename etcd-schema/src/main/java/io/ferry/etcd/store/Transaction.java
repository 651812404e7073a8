package io.ferry.etcd.store;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.DeleteOption;
import io.etcd.jetcd.options.PutOption;
import io.ferry.model.Json;
import io.vertx.core.Future;

import java.util.ArrayList;
import java.util.List;

/**
 * A multi-key etcd transaction: every guard must hold for the writes to apply, all at once.
 * Not thread-safe; build and commit it on one thread. Committing twice is not allowed.
 */
public final class Transaction {

    private final EtcdStore store;
    private final List<Cmp> guards = new ArrayList<>();
    private final List<Op> writes = new ArrayList<>();
    private final List<String> description = new ArrayList<>();
    private boolean committed;

    Transaction(EtcdStore store) {
        this.store = store;
    }

    /** The key must not exist. */
    public Transaction requireAbsent(String key) {
        guards.add(new Cmp(EtcdStore.bytes(key), Cmp.Op.EQUAL, CmpTarget.createRevision(0)));
        description.add("absent " + key);
        return this;
    }

    /** The key must still be at this mod revision; 0 means it must not exist. */
    public Transaction requireModRevision(String key, long modRevision) {
        guards.add(new Cmp(EtcdStore.bytes(key), Cmp.Op.EQUAL, CmpTarget.modRevision(modRevision)));
        description.add(key + "@" + modRevision);
        return this;
    }

    /** The caller must still hold the election it won: fails once its election key is gone or replaced. */
    public Transaction requireLeadership(Leadership leadership) {
        guards.add(new Cmp(EtcdStore.bytes(leadership.key()), Cmp.Op.EQUAL, CmpTarget.createRevision(leadership.revision())));
        description.add("leader " + leadership.key());
        return this;
    }

    public Transaction put(String key, Object value) {
        return put(key, value, 0);
    }

    public Transaction put(String key, Object value, long leaseId) {
        PutOption opt = leaseId == 0 ? PutOption.DEFAULT : PutOption.builder().withLeaseId(leaseId).build();
        writes.add(Op.put(EtcdStore.bytes(key), ByteSequence.from(Json.encode(value)), opt));
        return this;
    }

    /** Puts bytes as they are: for moving a value, which must not be re-encoded (nor dropped if it does not decode). */
    public Transaction putRaw(String key, byte[] value) {
        writes.add(Op.put(EtcdStore.bytes(key), ByteSequence.from(value), PutOption.DEFAULT));
        return this;
    }

    public Transaction delete(String key) {
        writes.add(Op.delete(EtcdStore.bytes(key), DeleteOption.DEFAULT));
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
        java.util.Optional<String> held = store.commitHeld();
        if (held.isPresent()) {
            return Future.failedFuture(new CommitHeldException("txn [" + String.join(", ", description) + "] not sent: "
                    + held.get()));
        }
        var txn = store.client().getKVClient().txn()
                .If(guards.toArray(Cmp[]::new))
                .Then(writes.toArray(Op[]::new));
        return store.call(txn.commit(), "txn [" + String.join(", ", description) + "]")
                .map(resp -> new TxnOutcome(resp.isSucceeded(), resp.getHeader().getRevision()));
    }
}
