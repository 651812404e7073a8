package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * One object an agent found that no work item accounts for.
 *
 * @param name      the object's own name (LV path, file path, NQN, bdev name)
 * @param volumeTag the Ferry volume name it is tagged with, null if untagged; reported verbatim,
 *                  so it is not held to volume-name rules
 * @param reason    why the agent did not adopt or delete it
 */
public record Orphan(OrphanKind kind, String name, String volumeTag, String reason) {

    public Orphan {
        Check.required(kind, "kind");
        Check.text(Check.required(name, "name"), "name", 1024);
        Check.text(volumeTag, "volumeTag", 253);
        Check.text(Check.required(reason, "reason"), "reason", 1024);
    }

    @JsonCreator
    static Orphan fromJson(
            @JsonProperty("kind") OrphanKind kind,
            @JsonProperty("name") String name,
            @JsonProperty("volumeTag") String volumeTag,
            @JsonProperty("reason") String reason) {
        return new Orphan(kind, name, volumeTag, reason);
    }

    public static Orphan of(OrphanKind kind, String name, String volumeTag, String reason) {
        return new Orphan(kind, name, volumeTag, reason);
    }
}
