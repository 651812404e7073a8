package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;

import java.time.Instant;

/**
 * Which key layout a cluster's keys are in, key {@code <prefix>/config/key-layout}, written by the
 * controller once it has moved every key of an older layout. Agents read the places of the older
 * layout only while this says it is not finished, so that a key an agent can write itself (its own
 * {@code nodes/<node>/} prefix) is never taken as work once the cluster is migrated.
 *
 * @param layout     {@link #CURRENT}, or a higher number written by a newer Ferry
 * @param migratedAt when the migration to {@code layout} finished
 */
public record KeyLayout(int schemaVersion, int layout, Instant migratedAt) {

    /**
     * Layout 1: work items under {@code nodes/<node>/work/} and {@code nodes/<node>/snapshot-work/}
     * (the absence of this key means 1). Layout 2: under {@code work/<node>/volumes/} and
     * {@code work/<node>/snapshots/}, outside every prefix an agent may write.
     */
    public static final int CURRENT = 2;

    public KeyLayout {
        Schema.check(schemaVersion);
        if (layout < 1) {
            throw new ValidationException("layout", "layout: " + layout + " is not a key layout (they start at 1)");
        }
        Check.required(migratedAt, "migratedAt");
    }

    @JsonCreator
    static KeyLayout fromJson(
            @JsonProperty("schemaVersion") Integer schemaVersion,
            @JsonProperty("layout") Integer layout,
            @JsonProperty("migratedAt") Instant migratedAt) {
        return new KeyLayout(Schema.orDefault(schemaVersion), Check.required(layout, "layout"), migratedAt);
    }

    public static KeyLayout current(Instant migratedAt) {
        return new KeyLayout(Schema.CURRENT_VERSION, CURRENT, migratedAt);
    }

    /** True once work items are read only from their layout-2 places. */
    public boolean migrated() {
        return layout >= CURRENT;
    }
}
