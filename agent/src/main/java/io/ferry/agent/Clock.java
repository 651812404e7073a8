package io.ferry.agent;

import java.time.Instant;
import java.time.temporal.ChronoUnit;

/** Timestamps for status values, in milliseconds: finer precision only makes values look changed. */
final class Clock {
    private Clock() {
    }

    static Instant now() {
        return Instant.now().truncatedTo(ChronoUnit.MILLIS);
    }
}
