package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;

import java.time.Instant;

/**
 * A consumer host's report on its own pair ({@code <prefix>/nodes/<node>/host-key}): the generation
 * it connects with, the one it published and waits to switch to (0 when none), and what the last
 * switch of its live controllers did. Never the keys.
 *
 * @param liveControllers controllers whose secrets the last switch wrote
 * @param message         why the last step did not complete, or empty
 */
public record HostKeyStatus(int schemaVersion, String node, long generation, long pending, int liveControllers,
                            String message, Instant updatedAt) {

    public HostKeyStatus {
        Schema.check(schemaVersion);
        Check.field("node", Check.required(node, "node"), Names::nodeName);
        if (generation < 1 || pending < 0) {
            throw new ValidationException("generation", "generation " + generation + " / pending " + pending
                    + " are not generations");
        }
        message = message == null ? "" : message;
        Check.required(updatedAt, "updatedAt");
    }

    @JsonCreator
    static HostKeyStatus fromJson(
            @JsonProperty("schemaVersion") Integer schemaVersion,
            @JsonProperty("node") String node,
            @JsonProperty("generation") Long generation,
            @JsonProperty("pending") Long pending,
            @JsonProperty("liveControllers") Integer liveControllers,
            @JsonProperty("message") String message,
            @JsonProperty("updatedAt") Instant updatedAt) {
        return new HostKeyStatus(Schema.orDefault(schemaVersion), node, Check.orDefault(generation, 0L),
                Check.orDefault(pending, 0L), liveControllers == null ? 0 : liveControllers, message, updatedAt);
    }

    public static HostKeyStatus of(String node, long generation, long pending, int liveControllers, String message,
            Instant updatedAt) {
        return new HostKeyStatus(Schema.CURRENT_VERSION, node, generation, pending, liveControllers, message, updatedAt);
    }
}
