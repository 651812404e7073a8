package io.ferry.model;

import java.util.List;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import java.time.Instant;
import java.util.Map;

/**
 * The controller's view of a volume intent, key {@code <prefix>/controller/volumes/<vol>}, written
 * only by the controller leader. This is where users look when a volume does not appear.
 *
 * @param reasonCounts       for {@code NoFit}: how many pools each reason ruled out, sorted by reason,
 *                           e.g. {@code {"free space":3,"spread rack":2}}
 * @param message            human-readable summary; for {@code Invalid} the decode/validation error
 * @param node               serving node once placed
 * @param pool               serving pool once placed
 * @param reachable          false when the serving node's registration has expired (default true)
 * @param observedRevision   etcd mod revision of the intent this reflects (>= 0)
 * @param growRefusedBytes   the size the intent asks for and the placement's pool has no room to grow
 *                           to (the placement keeps its size); 0 when no growth is refused. Typed so
 *                           that a resize caller is answered at once without reading the message
 */
public record VolumeScheduling(int schemaVersion, String volume, SchedulingPhase phase,
        Map<String, Integer> reasonCounts, String message, String node, String pool, boolean reachable,
        long observedRevision, Instant updatedAt,
        @JsonInclude(JsonInclude.Include.NON_DEFAULT) long growRefusedBytes) implements KeyNamed {

    public VolumeScheduling {
        Schema.check(schemaVersion);
        Check.field("volume", Check.required(volume, "volume"), Names::volumeName);
        Check.required(phase, "phase");
        reasonCounts = reasonCounts(reasonCounts);
        Check.text(message, "message", Check.MAX_MESSAGE);
        Check.nullable("node", node, Names::nodeName);
        Check.nullable("pool", pool, Names::poolName);
        if (phase == SchedulingPhase.PLACED && (node == null || pool == null)) {
            throw new ValidationException("node", "node: phase Placed requires node and pool");
        }
        Check.nonNegative(observedRevision, "observedRevision");
        Check.required(updatedAt, "updatedAt");
        Check.nonNegative(growRefusedBytes, "growRefusedBytes");
    }

    @JsonCreator
    static VolumeScheduling fromJson(
            @JsonProperty("schemaVersion") Integer schemaVersion,
            @JsonProperty("volume") String volume,
            @JsonProperty("phase") SchedulingPhase phase,
            @JsonProperty("reasonCounts") Map<String, Integer> reasonCounts,
            @JsonProperty("message") String message,
            @JsonProperty("node") String node,
            @JsonProperty("pool") String pool,
            @JsonProperty("reachable") Boolean reachable,
            @JsonProperty("observedRevision") Long observedRevision,
            @JsonProperty("updatedAt") Instant updatedAt,
            @JsonProperty("growRefusedBytes") @JsonDeserialize(using = SizeDeserializer.class) Long growRefusedBytes) {
        return new VolumeScheduling(Schema.orDefault(schemaVersion), volume, phase, reasonCounts, message, node, pool,
                Check.orDefault(reachable, true), Check.orDefault(observedRevision, 0L), updatedAt,
                Check.orDefault(growRefusedBytes, 0L));
    }

    public static VolumeScheduling of(String volume, SchedulingPhase phase, Map<String, Integer> reasonCounts,
            String message, String node, String pool, boolean reachable, long observedRevision, Instant updatedAt) {
        return new VolumeScheduling(Schema.CURRENT_VERSION, volume, phase, reasonCounts, message, node, pool,
                reachable, observedRevision, updatedAt, 0);
    }

    public VolumeScheduling withGrowRefused(long sizeBytes) {
        return new VolumeScheduling(schemaVersion, volume, phase, reasonCounts, message, node, pool, reachable,
                observedRevision, updatedAt, sizeBytes);
    }

    static Map<String, Integer> reasonCounts(Map<String, Integer> in) {
        return Check.sortedMap(in, "reasonCounts", 64,
                (k, f) -> {
                    if (k.isBlank()) {
                        throw new ValidationException(f, f + ": a reason is empty");
                    }
                    return Check.text(k, f, 128);
                },
                (v, f) -> {
                    Check.nonNegative(v, f);
                    return v;
                });
    }

    @Override
    public List<String> keyNames() {
        return List.of(volume);
    }
}
