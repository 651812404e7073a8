package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;

import java.time.Instant;

/**
 * An operator's durable request to replace a consumer host's DH-HMAC-CHAP pair
 * ({@code <prefix>/key-rotations/<node>}, written by {@code ferryctl security rotate-keys}): the host
 * is to use generation {@code generation} of its pair. It stays as the record of the last request;
 * a request for a generation the host already uses asks for nothing.
 */
public record HostKeyRotation(int schemaVersion, String node, long generation, Instant requestedAt) {

    public HostKeyRotation {
        Schema.check(schemaVersion);
        Check.field("node", Check.required(node, "node"), Names::nodeName);
        if (generation < 2) {
            throw new ValidationException("generation", "generation: " + generation
                    + " is not a generation a rotation can ask for (2 or more: generation 1 is the first pair)");
        }
        Check.required(requestedAt, "requestedAt");
    }

    @JsonCreator
    static HostKeyRotation fromJson(
            @JsonProperty("schemaVersion") Integer schemaVersion,
            @JsonProperty("node") String node,
            @JsonProperty("generation") Long generation,
            @JsonProperty("requestedAt") Instant requestedAt) {
        return new HostKeyRotation(Schema.orDefault(schemaVersion), node, Check.orDefault(generation, 0L), requestedAt);
    }

    public static HostKeyRotation of(String node, long generation, Instant requestedAt) {
        return new HostKeyRotation(Schema.CURRENT_VERSION, node, generation, requestedAt);
    }
}
