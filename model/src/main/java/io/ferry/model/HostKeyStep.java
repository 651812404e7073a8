package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;

/**
 * How far a key rotation has come ({@link HostKeyOrder#step()}), in the order the controller gives
 * the steps. The live switch goes one key at a time because the kernel re-authenticates a live
 * controller each time one of its keys is written, and a target that fails a re-authentication
 * fails the controller: each write must therefore meet a target that already holds exactly the
 * pair the host holds after it.
 */
public enum HostKeyStep {
    /** Keep the next pair beside the one in use and publish its controller key with the old host key. */
    PREPARE("prepare"),
    /** Every target serves the new controller key: write it into the live controllers. */
    SWITCH_CTRL_KEY("switchCtrlKey"),
    /** Every target serves the whole new pair: write the host key into the live controllers, drop the old pair. */
    SWITCH_HOST_KEY("switchHostKey");

    private final String value;

    HostKeyStep(String value) {
        this.value = value;
    }

    @JsonValue
    public String value() {
        return value;
    }

    @JsonCreator
    public static HostKeyStep parse(String value) {
        return Wire.parse(HostKeyStep.class, HostKeyStep::value, value, "key rotation step");
    }

    @Override
    public String toString() {
        return value;
    }
}
