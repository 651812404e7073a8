package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import java.time.Instant;
import java.util.List;

/**
 * A pool as its agent sees it, key {@code <prefix>/nodes/<node>/pools/<pool>}, written by the
 * agent of {@code node}. The controller places volumes only on pools whose status is
 * {@code healthy}.
 *
 * @param engine              engine in use; null when the pool's config could not be read
 * @param capacityBytes       usable size of the pool (>= 0)
 * @param freeBytes           unallocated physical space (0..capacityBytes)
 * @param thinDataPercent     data usage of a thin pool (0..100), null for thick pools
 * @param thinMetadataPercent metadata usage of an LVM thin pool (0..100), null otherwise
 * @param conditions          observations, such as {@code ConfigValid=false} with the decode error
 * @param healthy             the pool can take new volumes
 * @param observedAt          when the agent measured this
 */
public record PoolStatus(
        int schemaVersion,
        String node,
        String pool,
        Engine engine,
        long capacityBytes,
        long freeBytes,
        Double thinDataPercent,
        Double thinMetadataPercent,
        List<Condition> conditions,
        boolean healthy,
        Instant observedAt) implements KeyNamed {

    public PoolStatus {
        Schema.check(schemaVersion);
        Check.field("node", Check.required(node, "node"), Names::nodeName);
        Check.field("pool", Check.required(pool, "pool"), Names::poolName);
        Check.nonNegative(capacityBytes, "capacityBytes");
        Check.nonNegative(freeBytes, "freeBytes");
        if (freeBytes > capacityBytes) {
            throw new ValidationException("freeBytes", "freeBytes: " + freeBytes + " exceeds capacityBytes "
                    + capacityBytes);
        }
        Check.rangeOrNull(thinDataPercent, 0, 100, "thinDataPercent");
        Check.rangeOrNull(thinMetadataPercent, 0, 100, "thinMetadataPercent");
        conditions = Check.list(conditions, "conditions", 32, (c, f) -> c);
        Check.required(observedAt, "observedAt");
    }

    @JsonCreator
    static PoolStatus fromJson(
            @JsonProperty("schemaVersion") Integer schemaVersion,
            @JsonProperty("node") String node,
            @JsonProperty("pool") String pool,
            @JsonProperty("engine") Engine engine,
            @JsonProperty("capacityBytes") @JsonDeserialize(using = SizeDeserializer.class) Long capacityBytes,
            @JsonProperty("freeBytes") @JsonDeserialize(using = SizeDeserializer.class) Long freeBytes,
            @JsonProperty("thinDataPercent") Double thinDataPercent,
            @JsonProperty("thinMetadataPercent") Double thinMetadataPercent,
            @JsonProperty("conditions") List<Condition> conditions,
            @JsonProperty("healthy") Boolean healthy,
            @JsonProperty("observedAt") Instant observedAt) {
        return new PoolStatus(Schema.orDefault(schemaVersion), node, pool, engine,
                Check.orDefault(capacityBytes, 0L), Check.orDefault(freeBytes, 0L), thinDataPercent,
                thinMetadataPercent, conditions, Check.required(healthy, "healthy"), observedAt);
    }

    public static PoolStatus of(String node, String pool, Engine engine, long capacityBytes, long freeBytes,
            Double thinDataPercent, Double thinMetadataPercent, List<Condition> conditions, boolean healthy,
            Instant observedAt) {
        return new PoolStatus(Schema.CURRENT_VERSION, node, pool, engine, capacityBytes, freeBytes,
                thinDataPercent, thinMetadataPercent, conditions, healthy, observedAt);
    }

    @Override
    public List<String> keyNames() {
        return List.of(node, pool);
    }
}
