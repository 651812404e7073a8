package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Map;

/**
 * The granularity at which the volumes of one spread group are kept apart.
 *
 * <p>A node's failure domain at level {@code node} is its name; at the other levels it is the
 * value of a label on the node's registration (or, failing that, on the pool): {@code rack},
 * {@code switch} or {@code zone}. For {@code zone} the Kubernetes well-known label
 * {@code topology.kubernetes.io/zone} is used when {@code zone} is absent.
 */
public enum FailureDomainLevel {
    NODE("node", null),
    RACK("rack", "rack"),
    SWITCH("switch", "switch"),
    ZONE("zone", "zone");

    /** Label consulted for {@link #ZONE} when the plain {@code zone} label is absent. */
    public static final String KUBERNETES_ZONE_LABEL = "topology.kubernetes.io/zone";

    private final String value;
    private final String labelKey;

    FailureDomainLevel(String value, String labelKey) {
        this.value = value;
        this.labelKey = labelKey;
    }

    @JsonValue
    public String value() {
        return value;
    }

    /** The label key that names the domain, or null for {@link #NODE} (the node name is the domain). */
    public String labelKey() {
        return labelKey;
    }

    /**
     * The failure domain of a node at this level, or null when the node does not carry the label
     * (the scheduler then treats the node as its own unknown domain and says so in reasons).
     */
    public String domainOf(String nodeName, Map<String, String> labels) {
        if (this == NODE) {
            return nodeName;
        }
        String v = labels == null ? null : labels.get(labelKey);
        if (v == null && this == ZONE && labels != null) {
            v = labels.get(KUBERNETES_ZONE_LABEL);
        }
        return v == null || v.isEmpty() ? null : v;
    }

    @JsonCreator
    public static FailureDomainLevel parse(String value) {
        return Wire.parse(FailureDomainLevel.class, FailureDomainLevel::value, value, "failure domain level");
    }

    @Override
    public String toString() {
        return value;
    }
}
