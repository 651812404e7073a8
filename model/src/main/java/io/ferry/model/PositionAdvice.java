package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;

/** Where a volume should live relative to the node that consumes it. */
public enum PositionAdvice {
    /** Only on the consumer node; no placement if it has no fitting pool. Requires a consumer node. */
    MUST_LOCAL("MustLocal"),
    /**
     * On the consumer node whenever one of its pools can take the volume (a tier above every other
     * pool, the policy choosing among them), elsewhere otherwise.
     */
    PREFER_LOCAL("PreferLocal"),
    /** Elsewhere if possible, on the consumer node otherwise. */
    PREFER_REMOTE("PreferRemote"),
    /** Never on the consumer node. Requires a consumer node. */
    MUST_REMOTE("MustRemote");

    private final String value;

    PositionAdvice(String value) {
        this.value = value;
    }

    /** The JSON value. */
    @JsonValue
    public String value() {
        return value;
    }

    /** Parses a JSON value case-insensitively; unknown values throw {@link ValidationException}. */
    @JsonCreator
    public static PositionAdvice parse(String value) {
        return Wire.parse(PositionAdvice.class, PositionAdvice::value, value, "position advice");
    }

    @Override
    public String toString() {
        return value;
    }
}
