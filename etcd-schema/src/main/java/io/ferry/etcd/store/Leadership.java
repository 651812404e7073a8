package io.ferry.etcd.store;

/**
 * Proof of having won an election: the election key this campaigner owns and the revision it was
 * created at. A transaction guarded by {@link Transaction#requireLeadership(Leadership)} fails once
 * this key is gone (lease expired, resigned), so a deposed leader's writes fail by construction.
 */
public record Leadership(String election, String key, long revision, long leaseId) {
}
