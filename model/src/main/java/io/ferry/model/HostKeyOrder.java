package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * The controller's order to a consumer host's agent in a key rotation
 * ({@code <prefix>/work/<node>/host-keys}): generate generation {@code generation} of the pair and
 * publish it, keeping the one in use; and once {@code switchNow} (every storage node exporting to the
 * host serves that generation), write it into the host's live controllers and drop the old one.
 */
public record HostKeyOrder(int schemaVersion, String node, long generation, boolean switchNow) {

    public HostKeyOrder {
        Schema.check(schemaVersion);
        Check.field("node", Check.required(node, "node"), Names::nodeName);
        if (generation < 2) {
            throw new ValidationException("generation", "generation: " + generation + " is not a rotation's (2 or more)");
        }
    }

    @JsonCreator
    static HostKeyOrder fromJson(
            @JsonProperty("schemaVersion") Integer schemaVersion,
            @JsonProperty("node") String node,
            @JsonProperty("generation") Long generation,
            @JsonProperty("switchNow") Boolean switchNow) {
        return new HostKeyOrder(Schema.orDefault(schemaVersion), node, Check.orDefault(generation, 0L),
                Boolean.TRUE.equals(switchNow));
    }

    public static HostKeyOrder of(String node, long generation, boolean switchNow) {
        return new HostKeyOrder(Schema.CURRENT_VERSION, node, generation, switchNow);
    }
}
