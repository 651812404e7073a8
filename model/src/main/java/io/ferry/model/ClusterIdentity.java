package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;

import java.time.Instant;
import java.util.Locale;
import java.util.UUID;

/**
 * Who this Ferry cluster is, key {@code <prefix>/config/cluster}: created exactly once, by the
 * first controller to start or by {@code ferry up}, and never replaced. Its id goes into every
 * ownership marker Ferry puts on storage (LVM tags, file pool markers, volume files' extended
 * attributes), so that two clusters sharing a host or a disk never take each other's volumes.
 *
 * @param id        lowercase letters, digits and {@code -}, 8-64 characters (a random UUID when Ferry
 *                  makes it); it becomes part of LVM tags and extended attributes, hence the narrow set
 * @param createdAt when it was made
 */
public record ClusterIdentity(int schemaVersion, String id, Instant createdAt) {

    /** Characters of the id used where space is short (NQNs); 8 hex digits of a random UUID. */
    public static final int SHORT_LENGTH = 8;

    public ClusterIdentity {
        Schema.check(schemaVersion);
        Check.field("id", Check.required(id, "id"), ClusterIdentity::validId);
        Check.required(createdAt, "createdAt");
    }

    @JsonCreator
    static ClusterIdentity fromJson(
            @JsonProperty("schemaVersion") Integer schemaVersion,
            @JsonProperty("id") String id,
            @JsonProperty("createdAt") Instant createdAt) {
        return new ClusterIdentity(Schema.orDefault(schemaVersion), id, createdAt);
    }

    public static ClusterIdentity of(String id, Instant createdAt) {
        return new ClusterIdentity(Schema.CURRENT_VERSION, id, createdAt);
    }

    /** A new identity with a random id; only the put-if-absent of the first writer ever stores one. */
    public static ClusterIdentity generate(Instant now) {
        return of(UUID.randomUUID().toString().toLowerCase(Locale.ROOT), now);
    }

    /** The first {@link #SHORT_LENGTH} characters of the id. */
    public String shortId() {
        return id.substring(0, SHORT_LENGTH);
    }

    static String validId(String id) {
        if (!id.matches("[a-z0-9][a-z0-9-]{6,62}[a-z0-9]")) {
            throw new ValidationException("id", "id: " + Names.quote(id) + " is not a cluster id: 8-64 lowercase"
                    + " letters, digits and '-', starting and ending with a letter or digit");
        }
        return id;
    }

    /** True when {@code id} has the form of a cluster id. */
    public static boolean isValidId(String id) {
        return id != null && id.matches("[a-z0-9][a-z0-9-]{6,62}[a-z0-9]");
    }
}
