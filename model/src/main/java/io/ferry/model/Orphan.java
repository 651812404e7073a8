package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;

import java.time.Instant;

/**
 * One object an agent found that no work item accounts for.
 *
 * @param name      the object's own name (LV path, file path, NQN, bdev name); what
 *                  {@code ferryctl orphan rm} names
 * @param volumeTag the Ferry volume name it is tagged with, null if untagged; reported verbatim,
 *                  so it is not held to volume-name rules
 * @param reason    why the agent did not adopt or delete it
 * @param pool      the pool it was found in; null for objects outside pools (exports) and in reports
 *                  written before this field existed
 * @param sizeBytes its size as the engine reports it; 0 when unknown
 * @param firstSeen when this node's agent first found it (kept from scan to scan and across
 *                  restarts); null in reports written before this field existed
 * @param owner     whose ownership marker it carries; {@link OrphanOwner#UNMARKED} when a report
 *                  written before this field existed does not say
 */
public record Orphan(OrphanKind kind, String name, String volumeTag, String reason, String pool, long sizeBytes,
        Instant firstSeen, OrphanOwner owner) {

    public Orphan {
        Check.required(kind, "kind");
        Check.text(Check.required(name, "name"), "name", 1024);
        Check.text(volumeTag, "volumeTag", 253);
        Check.text(Check.required(reason, "reason"), "reason", 1024);
        Check.nullable("pool", pool, Names::poolName);
        Check.nonNegative(sizeBytes, "sizeBytes");
        Check.required(owner, "owner");
    }

    @JsonCreator
    static Orphan fromJson(
            @JsonProperty("kind") OrphanKind kind,
            @JsonProperty("name") String name,
            @JsonProperty("volumeTag") String volumeTag,
            @JsonProperty("reason") String reason,
            @JsonProperty("pool") String pool,
            @JsonProperty("sizeBytes") @JsonDeserialize(using = SizeDeserializer.class) Long sizeBytes,
            @JsonProperty("firstSeen") Instant firstSeen,
            @JsonProperty("owner") OrphanOwner owner) {
        return new Orphan(kind, name, volumeTag, reason, pool, sizeBytes == null ? 0 : sizeBytes, firstSeen,
                owner == null ? OrphanOwner.UNMARKED : owner);
    }

    /** An orphan whose pool, size, first sighting and owner are not known. */
    public static Orphan of(OrphanKind kind, String name, String volumeTag, String reason) {
        return new Orphan(kind, name, volumeTag, reason, null, 0, null, OrphanOwner.UNMARKED);
    }

    public static Orphan of(OrphanKind kind, String name, String volumeTag, String reason, String pool,
            long sizeBytes, Instant firstSeen, OrphanOwner owner) {
        return new Orphan(kind, name, volumeTag, reason, pool, sizeBytes, firstSeen, owner);
    }

    /** The same orphan with an earlier first sighting, kept from a previous report. */
    public Orphan withFirstSeen(Instant value) {
        return new Orphan(kind, name, volumeTag, reason, pool, sizeBytes, value, owner);
    }
}
