package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonValue;

import java.util.Arrays;
import java.util.Optional;

/**
 * The reasons of a {@code Ready} condition (volume, snapshot) that are not failures: the request is
 * carried out, being worked on, or the object is being or has been deleted on order. A {@code Ready}
 * condition whose reason is none of these is a failure, its reason a {@link FailureReason}.
 */
public enum ProgressReason {
    /** The request at the condition's generation is carried out ({@code Ready} true). */
    CARRIED_OUT("CarriedOut"),
    /** The agent is working on it (creating, growing, exporting). */
    PROGRESSING("Progressing"),
    /** A deletion order is being carried out. */
    DELETING("Deleting"),
    /** Removed on the deletion order of the condition's generation. */
    DELETED("Deleted");

    private final String value;

    ProgressReason(String value) {
        this.value = value;
    }

    @JsonValue
    public String value() {
        return value;
    }

    /** The progress reason {@code value} names (exactly, as writers write it), if it is one. */
    public static Optional<ProgressReason> of(String value) {
        return Arrays.stream(values()).filter(r -> r.value.equals(value)).findFirst();
    }
}
