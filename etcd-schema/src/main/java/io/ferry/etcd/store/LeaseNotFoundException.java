package io.ferry.etcd.store;

/** A request named a lease the store does not know (expired or revoked). */
public final class LeaseNotFoundException extends RuntimeException {
    private final long leaseId;

    public LeaseNotFoundException(long leaseId) {
        super("requested lease not found: " + Long.toHexString(leaseId));
        this.leaseId = leaseId;
    }

    public long leaseId() {
        return leaseId;
    }
}
