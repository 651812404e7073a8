package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;

/** Kind of object an agent found that no work item accounts for. */
public enum OrphanKind {
    /** An LVM logical volume tagged as Ferry's. */
    LV("lv"),
    /** A volume file in a file pool's directory. */
    FILE("file"),
    /** A kernel nvmet subsystem with Ferry's NQN prefix. */
    NVMET_SUBSYSTEM("nvmet-subsystem"),
    /** An SPDK bdev or lvol. */
    SPDK_BDEV("spdk-bdev"),
    /** An SPDK NVMe-oF subsystem with Ferry's NQN prefix. */
    SPDK_SUBSYSTEM("spdk-subsystem");

    private final String value;

    OrphanKind(String value) {
        this.value = value;
    }

    /** The JSON value. */
    @JsonValue
    public String value() {
        return value;
    }

    /** Parses a JSON value case-insensitively; unknown values throw {@link ValidationException}. */
    @JsonCreator
    public static OrphanKind parse(String value) {
        return Wire.parse(OrphanKind.class, OrphanKind::value, value, "orphan kind");
    }

    @Override
    public String toString() {
        return value;
    }
}
