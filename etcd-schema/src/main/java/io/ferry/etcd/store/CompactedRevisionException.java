package io.ferry.etcd.store;

/**
 * A watch asked to start at a revision whose history was compacted away: the changes in between
 * are lost, so the watcher must list again and watch from the listing's revision.
 */
public final class CompactedRevisionException extends RuntimeException {
    private final long compactRevision;

    public CompactedRevisionException(long requested, long compactRevision, Throwable cause) {
        super("watch from revision " + requested + " asked for history compacted up to revision " + compactRevision, cause);
        this.compactRevision = compactRevision;
    }

    /** The oldest revision still available, or 0 when the store did not say. */
    public long compactRevision() {
        return compactRevision;
    }
}
