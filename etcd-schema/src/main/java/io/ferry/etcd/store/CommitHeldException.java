package io.ferry.etcd.store;

/**
 * A transaction its store held back (see {@link EtcdStore#holdingCommitsWhile}): nothing was sent to
 * etcd, so, unlike an {@link EtcdUnavailableException}, the writes certainly did not apply. Worth
 * retrying once the hold ends.
 */
public final class CommitHeldException extends RuntimeException {
    public CommitHeldException(String message) {
        super(message);
    }
}
