package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonValue;

import java.util.Arrays;

/**
 * What happened to a volume or a snapshot, as the controller's lifecycle events name it. Readers
 * (ferryctl, people, alerting) decide on this, never on an event's message.
 */
public enum EventReason {
    PLACED("Placed", false),
    REFUSED("Refused", true),
    READY("Ready", false),
    FAILED("Failed", true),
    GROWN("Grown", false),
    ATTACHED("Attached", false),
    DETACHED("Detached", false),
    DELETED("Deleted", false),
    LOST("Lost", true),
    /** A reason this reader does not know (written by a newer Ferry). */
    UNKNOWN("Unknown", false);

    private final String value;
    private final boolean warning;

    EventReason(String value, boolean warning) {
        this.value = value;
        this.warning = warning;
    }

    @JsonValue
    public String value() {
        return value;
    }

    /** Whether an operator should look: the event's type is {@code Warning} rather than {@code Normal}. */
    public boolean warning() {
        return warning;
    }

    /** The reason {@code value} names; {@link #UNKNOWN} for one this version does not know. */
    public static EventReason parse(String value) {
        return Arrays.stream(values()).filter(r -> r.value.equalsIgnoreCase(value == null ? "" : value.strip()))
                .findFirst().orElse(UNKNOWN);
    }
}
