package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;

/** The data engine that implements a pool on a node. */
public enum Engine {
    /** Thick logical volumes in an LVM volume group. */
    LVM("lvm", false, true),
    /** Thin logical volumes in an LVM thin pool; overprovisioning possible, thick volumes not. */
    LVM_THIN("lvm-thin", true, false),
    /** SPDK logical volumes in an lvstore; lvols can be thin or thick. */
    SPDK("spdk", true, true),
    /** Files in a directory: sparse (thin) or fully allocated (thick). For development and demos. */
    FILE("file", true, true);

    private final String value;
    private final boolean thin;
    private final boolean thick;

    Engine(String value, boolean thin, boolean thick) {
        this.value = value;
        this.thin = thin;
        this.thick = thick;
    }

    /** The JSON value, e.g. {@code lvm-thin}. */
    @JsonValue
    public String value() {
        return value;
    }

    /**
     * True if pools of this engine can hold thin volumes (space allocated on write) and may
     * therefore be overprovisioned. False only for {@code lvm}.
     */
    public boolean thin() {
        return thin;
    }

    /** True if pools of this engine can hold fully allocated volumes. False only for {@code lvm-thin}. */
    public boolean thick() {
        return thick;
    }

    /**
     * True if the engine's volumes are kernel block devices on their node (loop device, LV): such a
     * device can be used as it is by any process of that machine. False only for {@code spdk}, whose
     * lvols live in the SPDK target and are reached over NVMe-oF even from the same host.
     */
    public boolean hasBlockDevice() {
        return this != SPDK;
    }

    /** Parses a JSON value case-insensitively; unknown values throw {@link ValidationException}. */
    @JsonCreator
    public static Engine parse(String value) {
        return Wire.parse(Engine.class, Engine::value, value, "engine");
    }

    @Override
    public String toString() {
        return value;
    }
}
