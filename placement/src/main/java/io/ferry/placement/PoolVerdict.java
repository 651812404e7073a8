package io.ferry.placement;

/**
 * How one pool fared for one request: the filter it failed (null if it passed every one) and, if
 * it passed, its position tier (0 preferred; see {@link Scheduler#tier}) and its score within the
 * tier. This is what {@code /api/v1/volumes/<id>/explain} shows per pool.
 */
public record PoolVerdict(String pool, String node, String failedReason, double score, long freeBytes, int tier) {

    public PoolVerdict(String pool, String node, String failedReason, double score, long freeBytes) {
        this(pool, node, failedReason, score, freeBytes, 0);
    }

    public boolean passed() {
        return failedReason == null;
    }
}
