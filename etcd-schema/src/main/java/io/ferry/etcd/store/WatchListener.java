package io.ferry.etcd.store;

import java.util.List;

/** What a {@link Store#watch} tells its owner. Called from the store's threads, one call at a time. */
public interface WatchListener {

    /**
     * Changes in revision order. {@code revision} is the store's revision when it answered; with no
     * changes, the call only proves the watch alive (an answer to {@link Store#requestWatchProgress}).
     */
    void onChanges(long revision, List<KeyChange> changes);

    /** The watch failed and delivers nothing more; a {@link CompactedRevisionException} when its start was compacted. */
    void onError(Throwable error);

    /** The watch ended without an error and delivers nothing more. */
    void onCompleted();
}
