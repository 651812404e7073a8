package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;

/** Phase of an intent as seen by the controller. */
public enum SchedulingPhase {
    /** Not yet considered. */
    PENDING("Pending"),
    /** A placement exists. */
    PLACED("Placed"),
    /** No pool fits; reasonCounts says why. Retried when pools change. */
    NO_FIT("NoFit"),
    /** Deletion requested and in progress. */
    DELETING("Deleting"),
    /** The intent could not be decoded or validated; message says why. */
    INVALID("Invalid");

    private final String value;

    SchedulingPhase(String value) {
        this.value = value;
    }

    /** The JSON value. */
    @JsonValue
    public String value() {
        return value;
    }

    /** Parses a JSON value case-insensitively; unknown values throw {@link ValidationException}. */
    @JsonCreator
    public static SchedulingPhase parse(String value) {
        return Wire.parse(SchedulingPhase.class, SchedulingPhase::value, value, "scheduling phase");
    }

    @Override
    public String toString() {
        return value;
    }
}
