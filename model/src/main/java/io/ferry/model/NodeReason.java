package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonValue;

import java.util.Arrays;

/** The reasons of a node registration's conditions ({@link Condition#CAN_EXPORT}, {@link Condition#ENGINES_AVAILABLE}). */
public enum NodeReason {
    /** CanExport true: the kernel's nvmet is loaded (volumes with a local block device can be exported). */
    NVMET_LOADED("NvmetLoaded"),
    /** CanExport true: the SPDK target answers (spdk volumes can be exported). */
    SPDK_RUNNING("SpdkRunning"),
    /** CanExport false: nvmet is not loaded (modprobe nvmet nvmet-tcp) and no SPDK target answers. */
    NVMET_NOT_LOADED("NvmetNotLoaded"),
    /** CanExport false: this node's only exporter would be SPDK, and its target does not answer. */
    SPDK_NOT_RUNNING("SpdkNotRunning"),
    /** EnginesAvailable true: the message lists them. */
    ENGINES_PROBED("EnginesProbed"),
    /** EnginesAvailable false: no engine's tools or socket were found on this node. */
    NO_ENGINE("NoEngine"),
    /** A reason this reader does not know (written by a newer Ferry). */
    UNKNOWN("Unknown");

    private final String value;

    NodeReason(String value) {
        this.value = value;
    }

    @JsonValue
    public String value() {
        return value;
    }

    /** The reason {@code value} names; {@link #UNKNOWN} for one this version does not know. */
    public static NodeReason parse(String value) {
        return Arrays.stream(values()).filter(r -> r.value.equalsIgnoreCase(value == null ? "" : value.strip()))
                .findFirst().orElse(UNKNOWN);
    }
}
