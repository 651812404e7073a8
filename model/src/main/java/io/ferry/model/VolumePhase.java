package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;

/** Phase of a volume or snapshot as reported by the agent that serves it. */
public enum VolumePhase {
    /** Work received, nothing done yet. */
    PENDING("Pending"),
    /** Being created or exported. */
    CREATING("Creating"),
    /** Exists at the requested size and, if needed, exported. */
    READY("Ready"),
    /** Being grown to a new size. */
    EXPANDING("Expanding"),
    /** Being removed. */
    DELETING("Deleting"),
    /**
     * Removed on the controller's deletion order of {@code observedGeneration}: the agent's
     * acknowledgement, deleted by the agent itself once the controller has withdrawn the order.
     */
    DELETED("Deleted"),
    /** A terminal error; see the message. Retried when the work item changes. */
    FAILED("Failed"),
    /**
     * The volume was created on this node before and is no longer there (its pool's storage is
     * missing, not mounted or replaced). It is never re-created empty; it becomes {@code Ready} again
     * when the storage returns, or is deleted on request.
     */
    LOST("Lost");

    private final String value;

    VolumePhase(String value) {
        this.value = value;
    }

    /** A phase in which the volume cannot be used and waiting will not change that by itself. */
    public boolean isFailure() {
        return this == FAILED || this == LOST;
    }

    /** The JSON value. */
    @JsonValue
    public String value() {
        return value;
    }

    /** Parses a JSON value case-insensitively; unknown values throw {@link ValidationException}. */
    @JsonCreator
    public static VolumePhase parse(String value) {
        return Wire.parse(VolumePhase.class, VolumePhase::value, value, "volume phase");
    }

    @Override
    public String toString() {
        return value;
    }
}
