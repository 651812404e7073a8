package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;

/**
 * Whether exports require NVMe in-band authentication (DH-HMAC-CHAP), the cluster setting
 * {@code nvmeAuth} of {@link GlobalConfig}.
 */
public enum NvmeAuth {
    /** The host proves its key to the target and the target its controller key to the host (the default). */
    BIDIRECTIONAL("bidirectional"),
    /** Only the host proves its key; the host does not check the target. */
    UNIDIRECTIONAL("unidirectional"),
    /** No authentication: any host sending an allowed host NQN connects. */
    OFF("off");

    private final String value;

    NvmeAuth(String value) {
        this.value = value;
    }

    @JsonValue
    public String value() {
        return value;
    }

    public boolean on() {
        return this != OFF;
    }

    @JsonCreator
    public static NvmeAuth parse(String value) {
        return Wire.parse(NvmeAuth.class, NvmeAuth::value, value, "nvmeAuth setting");
    }

    @Override
    public String toString() {
        return value;
    }
}
