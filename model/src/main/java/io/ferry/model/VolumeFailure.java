package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * Why the last attempt at a volume's work failed, in a volume status.
 *
 * @param reason     what went wrong, typed; the status's {@code message} says it in words
 * @param generation the work item generation the failure applies to: a terminal reason answers
 *                   every request up to this generation, and a newer work item starts afresh
 * @param attempts   consecutive failed attempts at this generation with this reason (>= 1)
 */
public record VolumeFailure(FailureReason reason, long generation, int attempts) {

    public VolumeFailure {
        Check.required(reason, "reason");
        Check.nonNegative(generation, "generation");
        if (attempts < 1) {
            throw new ValidationException("attempts", "attempts: must be at least 1, got " + attempts);
        }
    }

    @JsonCreator
    static VolumeFailure fromJson(
            @JsonProperty("reason") FailureReason reason,
            @JsonProperty("generation") Long generation,
            @JsonProperty("attempts") Integer attempts) {
        return new VolumeFailure(reason, Check.orDefault(generation, 0L), Check.orDefault(attempts, 1));
    }

    public static VolumeFailure of(FailureReason reason, long generation) {
        return new VolumeFailure(reason, generation, 1);
    }

    /** This failure once more: the attempts count on if it is the same reason at the same generation. */
    public VolumeFailure after(VolumeFailure previous) {
        if (previous != null && previous.reason == reason && previous.generation == generation) {
            return new VolumeFailure(reason, generation, previous.attempts + 1);
        }
        return this;
    }

    /** Whether this failure answers a request for {@code generation} for good. */
    @JsonIgnore
    public boolean terminalFor(long generation) {
        return reason.terminal() && this.generation >= generation;
    }
}
