package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;

import java.time.Instant;
import java.util.List;

/**
 * The agent's answer to an {@link OrphanAdoption}, key
 * {@code <prefix>/nodes/<node>/orphan-adoptions/<id>}, written once by the agent of {@code node}
 * and removed by it after the order is withdrawn.
 *
 * <p>{@code Done} names what was adopted ({@code volume}, {@code pool}, {@code engine},
 * {@code sizeBytes}): the node's status of the volume now says so, and an intent of that size lets
 * the controller rebuild the placement there. {@code Refused} gives the {@code reason}; nothing was
 * changed.
 */
public record OrphanAdoptionResult(int schemaVersion, String id, String node, String object,
        OrphanRemovalOutcome outcome, OrphanRefusal reason, String message, String volume, String pool,
        Engine engine, long sizeBytes, Instant finishedAt) implements KeyNamed {

    public OrphanAdoptionResult {
        Schema.check(schemaVersion);
        OrphanOrders.checkAnswer(id, node, object, outcome, message);
        Check.nullable("volume", volume, Names::volumeName);
        Check.nullable("pool", pool, Names::poolName);
        Check.nonNegative(sizeBytes, "sizeBytes");
        if (outcome == OrphanRemovalOutcome.REFUSED && reason == null) {
            throw new ValidationException("reason", "reason: a refusal says why (NotFound, OtherCluster, ...)");
        }
        if (outcome == OrphanRemovalOutcome.DONE
                && (reason != null || volume == null || pool == null || engine == null || sizeBytes <= 0)) {
            throw new ValidationException("outcome", "outcome: Done names the adopted volume, pool, engine and"
                    + " sizeBytes, and gives no reason");
        }
        Check.required(finishedAt, "finishedAt");
    }

    @JsonCreator
    static OrphanAdoptionResult fromJson(
            @JsonProperty("schemaVersion") Integer schemaVersion,
            @JsonProperty("id") String id,
            @JsonProperty("node") String node,
            @JsonProperty("object") String object,
            @JsonProperty("outcome") OrphanRemovalOutcome outcome,
            @JsonProperty("reason") OrphanRefusal reason,
            @JsonProperty("message") String message,
            @JsonProperty("volume") String volume,
            @JsonProperty("pool") String pool,
            @JsonProperty("engine") Engine engine,
            @JsonProperty("sizeBytes") @JsonDeserialize(using = SizeDeserializer.class) Long sizeBytes,
            @JsonProperty("finishedAt") Instant finishedAt) {
        return new OrphanAdoptionResult(Schema.orDefault(schemaVersion), id, node, object, outcome, reason, message,
                volume, pool, engine, Check.orDefault(sizeBytes, 0L), finishedAt);
    }

    public static OrphanAdoptionResult done(String id, String node, String object, String message, String volume,
            String pool, Engine engine, long sizeBytes, Instant finishedAt) {
        return new OrphanAdoptionResult(Schema.CURRENT_VERSION, id, node, object, OrphanRemovalOutcome.DONE, null,
                message, volume, pool, engine, sizeBytes, finishedAt);
    }

    public static OrphanAdoptionResult refused(String id, String node, String object, OrphanRefusal reason,
            String message, Instant finishedAt) {
        return new OrphanAdoptionResult(Schema.CURRENT_VERSION, id, node, object, OrphanRemovalOutcome.REFUSED, reason,
                message, null, null, null, 0, finishedAt);
    }

    @Override
    public List<String> keyNames() {
        return List.of(node, id);
    }
}
