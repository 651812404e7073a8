package io.ferry.placement;

/**
 * How one pool fared for one request: the filter it failed (null if it passed every one) and, if
 * it passed, its score. This is what {@code /api/v1/volumes/<id>/explain} shows per pool.
 */
public record PoolVerdict(String pool, String node, String failedReason, double score, long freeBytes) {
    public boolean passed() {
        return failedReason == null;
    }
}
