package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;

/** An NVMe-oF target a node can export volumes with; which one a pool needs depends on its engine. */
public enum ExportTarget {
    /** The kernel's nvmet (configfs): every engine with a local block device. */
    NVMET("nvmet"),
    /** The SPDK target's own subsystems: {@code spdk} pools. */
    SPDK("spdk");

    private final String value;

    ExportTarget(String value) {
        this.value = value;
    }

    @JsonValue
    public String value() {
        return value;
    }

    @JsonCreator
    public static ExportTarget parse(String value) {
        return Wire.parse(ExportTarget.class, ExportTarget::value, value, "export target");
    }

    /** The target that exports volumes of {@code engine}. */
    public static ExportTarget forEngine(Engine engine) {
        return engine == Engine.SPDK ? SPDK : NVMET;
    }
}
