package io.ferry.model;

import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;

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
 * @param conditions         what readers decide on ({@link Condition}): {@code Scheduled} (true: placed;
 *                           false: why not, a {@link FailureReason}), {@code Resized} (only while a resize is
 *                           refused), {@code Reachable} (once placed), {@code Reconciled} (the controller's last
 *                           pass, with the attempt count while it fails); each {@code observedGeneration} is the
 *                           intent's mod revision it reflects. A record written before conditions existed gets
 *                           them derived from {@code phase} and {@code growRefusedBytes} ({@link #derived})
 */
public record VolumeScheduling(int schemaVersion, String volume, SchedulingPhase phase,
        Map<String, Integer> reasonCounts, String message, String node, String pool, boolean reachable,
        long observedRevision, Instant updatedAt,
        @JsonInclude(JsonInclude.Include.NON_DEFAULT) long growRefusedBytes, List<Condition> conditions)
        implements KeyNamed {

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
        conditions = conditions == null ? derived(phase, node, reachable, observedRevision, message, growRefusedBytes)
                : Condition.checkList(conditions);
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
            @JsonProperty("growRefusedBytes") @JsonDeserialize(using = SizeDeserializer.class) Long growRefusedBytes,
            @JsonProperty("conditions") List<Condition> conditions) {
        return new VolumeScheduling(Schema.orDefault(schemaVersion), volume, phase, reasonCounts, message, node, pool,
                Check.orDefault(reachable, true), Check.orDefault(observedRevision, 0L), updatedAt,
                Check.orDefault(growRefusedBytes, 0L), conditions);
    }

    public static VolumeScheduling of(String volume, SchedulingPhase phase, Map<String, Integer> reasonCounts,
            String message, String node, String pool, boolean reachable, long observedRevision, Instant updatedAt) {
        return new VolumeScheduling(Schema.CURRENT_VERSION, volume, phase, reasonCounts, message, node, pool,
                reachable, observedRevision, updatedAt, 0, null);
    }

    /** This record refusing (or, with 0, no longer refusing) a growth to {@code sizeBytes}, its conditions to match. */
    public VolumeScheduling withGrowRefused(long sizeBytes) {
        List<Condition> next = sizeBytes > 0
                ? Condition.put(conditions, growRefused(sizeBytes, message, observedRevision))
                : Condition.without(conditions, Condition.RESIZED);
        return new VolumeScheduling(schemaVersion, volume, phase, reasonCounts, message, node, pool, reachable,
                observedRevision, updatedAt, sizeBytes, next);
    }

    public VolumeScheduling withConditions(List<Condition> next) {
        return new VolumeScheduling(schemaVersion, volume, phase, reasonCounts, message, node, pool, reachable,
                observedRevision, updatedAt, growRefusedBytes, next);
    }

    /** The condition of {@code type}, if the record has one. */
    public Optional<Condition> condition(String type) {
        return Condition.find(conditions, type);
    }

    /**
     * Why the intent at {@code observedRevision} is not placed, when that holds for good (until an
     * input changes): the {@code Scheduled} condition false with a terminal reason.
     */
    @JsonIgnore
    public Optional<Condition> terminalRefusal() {
        return condition(Condition.SCHEDULED).filter(c -> !c.status() && c.failureReason().terminal());
    }

    /**
     * What is wrong with the volume as far as the controller knows, for people and listings: the
     * first false condition of {@code Scheduled}, {@code Reconciled}, {@code Resized},
     * {@code Reachable}; empty when none is. Its reason is the typed answer to "why".
     */
    @JsonIgnore
    public Optional<Condition> problem() {
        return firstFalse(conditions, Condition.SCHEDULED, Condition.RECONCILED, Condition.RESIZED, Condition.REACHABLE);
    }

    static Optional<Condition> firstFalse(List<Condition> conditions, String... types) {
        for (String type : types) {
            Optional<Condition> c = Condition.find(conditions, type).filter(x -> !x.status());
            if (c.isPresent()) {
                return c;
            }
        }
        return Optional.empty();
    }

    /** The {@code Resized} condition that refuses a growth, as the controller writes it. */
    public static Condition growRefused(long sizeBytes, String message, long revision) {
        return Condition.failed(Condition.RESIZED, FailureReason.NO_SPACE,
                message != null ? message : "no room to grow to " + sizeBytes + " bytes", revision, 0);
    }

    /**
     * The conditions of a record written before the controller wrote them, read from what it did
     * write: NoFit and Invalid are refusals, Placed a placement, a refused growth is {@code Resized}
     * false. A Pending record says nothing typed (an older controller held it for a reason it only
     * told in words), so it gets no {@code Scheduled} condition: readers keep waiting.
     */
    static List<Condition> derived(SchedulingPhase phase, String node, boolean reachable, long revision, String message,
            long growRefusedBytes) {
        List<Condition> out = new ArrayList<>();
        switch (phase) {
            case NO_FIT -> out.add(Condition.failed(Condition.SCHEDULED, FailureReason.NO_FIT, message, revision, 0));
            case INVALID -> out.add(Condition.failed(Condition.SCHEDULED, FailureReason.INVALID_INTENT, message, revision, 0));
            case PLACED, DELETING -> {
                if (node != null) {
                    out.add(Condition.of(Condition.SCHEDULED, true, Condition.REASON_PLACED, null, revision));
                }
            }
            default -> { }
        }
        if (node != null && !reachable) {
            out.add(Condition.failed(Condition.REACHABLE, FailureReason.NODE_UNREACHABLE, null, revision, 0));
        }
        if (growRefusedBytes > 0) {
            out.add(growRefused(growRefusedBytes, message, revision));
        }
        return List.copyOf(out);
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
