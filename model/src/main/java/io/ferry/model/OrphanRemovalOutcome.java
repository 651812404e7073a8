package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;

/** How an agent answered an {@link OrphanRemoval} or an {@link OrphanAdoption}. */
public enum OrphanRemovalOutcome {
    /** The object was removed (or adopted). */
    DONE("Done"),
    /** Nothing was changed; the message says why. */
    REFUSED("Refused");

    private final String value;

    OrphanRemovalOutcome(String value) {
        this.value = value;
    }

    @JsonValue
    public String value() {
        return value;
    }

    @JsonCreator
    public static OrphanRemovalOutcome parse(String value) {
        return Wire.parse(OrphanRemovalOutcome.class, OrphanRemovalOutcome::value, value, "orphan removal outcome");
    }

    @Override
    public String toString() {
        return value;
    }
}
