package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;

import java.time.Instant;
import java.util.List;

/**
 * The agent's answer to an {@link OrphanRemoval}, key
 * {@code <prefix>/nodes/<node>/orphan-removals/<id>}, written once by the agent of {@code node}.
 * The agent removes it after the order itself is withdrawn.
 *
 * @param object  the object the order named
 * @param message what was removed, or why nothing was
 */
public record OrphanRemovalResult(int schemaVersion, String id, String node, String object,
        OrphanRemovalOutcome outcome, String message, Instant finishedAt) implements KeyNamed {

    public OrphanRemovalResult {
        Schema.check(schemaVersion);
        OrphanOrders.checkAnswer(id, node, object, outcome, message);
        Check.required(finishedAt, "finishedAt");
    }

    @JsonCreator
    static OrphanRemovalResult fromJson(
            @JsonProperty("schemaVersion") Integer schemaVersion,
            @JsonProperty("id") String id,
            @JsonProperty("node") String node,
            @JsonProperty("object") String object,
            @JsonProperty("outcome") OrphanRemovalOutcome outcome,
            @JsonProperty("message") String message,
            @JsonProperty("finishedAt") Instant finishedAt) {
        return new OrphanRemovalResult(Schema.orDefault(schemaVersion), id, node, object, outcome, message, finishedAt);
    }

    public static OrphanRemovalResult of(String id, String node, String object, OrphanRemovalOutcome outcome,
            String message, Instant finishedAt) {
        return new OrphanRemovalResult(Schema.CURRENT_VERSION, id, node, object, outcome, message, finishedAt);
    }

    @Override
    public List<String> keyNames() {
        return List.of(node, id);
    }
}
