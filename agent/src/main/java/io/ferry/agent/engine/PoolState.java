package io.ferry.agent.engine;

import io.ferry.model.Condition;
import io.ferry.model.PoolReason;

import java.util.List;

/** What an engine measured about a pool; the agent turns it into a {@code PoolStatus}. */
public record PoolState(long capacityBytes, long freeBytes, Double thinDataPercent, Double thinMetadataPercent,
        List<Condition> conditions, boolean healthy) {

    public PoolState {
        conditions = List.copyOf(conditions);
        freeBytes = Math.max(0, Math.min(freeBytes, capacityBytes));
    }

    public static PoolState unavailable(PoolReason reason, String message) {
        return new PoolState(0, 0, null, null,
                List.of(Condition.of(Condition.AVAILABLE, false, reason, message)), false);
    }
}
