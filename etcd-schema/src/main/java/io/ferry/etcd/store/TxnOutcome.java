package io.ferry.etcd.store;

/** Whether a transaction's guards held (and its writes were applied), and the revision it ran at. */
public record TxnOutcome(boolean succeeded, long revision) {
}
