package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;

/** How the controller scores pools that fit a volume. */
public enum SchedulerPolicyName {
    /** Prefer the fullest pool that fits, keeping large free regions for large volumes. */
    BINPACK("binpack"),
    /** Prefer the emptiest pool, spreading load and blast radius. */
    SPREAD("spread");

    private final String value;

    SchedulerPolicyName(String value) {
        this.value = value;
    }

    /** The JSON value. */
    @JsonValue
    public String value() {
        return value;
    }

    /** Parses a JSON value case-insensitively; unknown values throw {@link ValidationException}. */
    @JsonCreator
    public static SchedulerPolicyName parse(String value) {
        return Wire.parse(SchedulerPolicyName.class, SchedulerPolicyName::value, value, "scheduler policy");
    }

    @Override
    public String toString() {
        return value;
    }
}
