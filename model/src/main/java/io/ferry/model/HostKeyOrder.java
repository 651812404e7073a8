package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * The controller's order to a consumer host's agent in a key rotation
 * ({@code <prefix>/work/<node>/host-keys}): take generation {@code generation} of the pair as far as
 * {@code step} says (see {@link HostKeyStep}). The controller moves the step forward only when every
 * storage node exporting to the host serves what the next step's writes will authenticate with, and
 * never back.
 *
 * <p>An order written before the steps existed carries {@code switchNow} instead: true reads as
 * {@link HostKeyStep#SWITCH_HOST_KEY}, false as {@link HostKeyStep#PREPARE}.
 */
public record HostKeyOrder(int schemaVersion, String node, long generation, HostKeyStep step) {

    public HostKeyOrder {
        Schema.check(schemaVersion);
        Check.field("node", Check.required(node, "node"), Names::nodeName);
        if (generation < 2) {
            throw new ValidationException("generation", "generation: " + generation + " is not a rotation's (2 or more)");
        }
        Check.required(step, "step");
    }

    @JsonCreator
    static HostKeyOrder fromJson(
            @JsonProperty("schemaVersion") Integer schemaVersion,
            @JsonProperty("node") String node,
            @JsonProperty("generation") Long generation,
            @JsonProperty("step") HostKeyStep step,
            @JsonProperty("switchNow") Boolean switchNow) {
        HostKeyStep read = step != null ? step
                : Boolean.TRUE.equals(switchNow) ? HostKeyStep.SWITCH_HOST_KEY : HostKeyStep.PREPARE;
        return new HostKeyOrder(Schema.orDefault(schemaVersion), node, Check.orDefault(generation, 0L), read);
    }

    public static HostKeyOrder of(String node, long generation, HostKeyStep step) {
        return new HostKeyOrder(Schema.CURRENT_VERSION, node, generation, step);
    }

    /** Whether this order has come at least as far as {@code other}. */
    public boolean atLeast(HostKeyStep other) {
        return step.compareTo(other) >= 0;
    }
}
