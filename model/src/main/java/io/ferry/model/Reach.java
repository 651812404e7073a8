package io.ferry.model;

/**
 * How a consumer node gets at a volume another node (or itself) serves. The one rule for it: the
 * scheduler's {@code cannot export} filter, the controller's work items (whether to ask for an
 * export), {@link VolumeProgress#servedTo}, the CSI plugin and ferryctl all ask {@link #of}.
 */
public enum Reach {
    /** The consumer is the serving node: the volume's own device. */
    LOCAL("local"),
    /**
     * The consumer is another node on the same machine (one kernel): the serving node's device is
     * handed over as it is, with no export. The consumer verifies it exactly as a local device.
     */
    HANDOFF("same machine"),
    /** The consumer is elsewhere, or nobody can tell: an NVMe/TCP export the serving node must make. */
    EXPORT("NVMe/TCP");

    private final String description;

    Reach(String description) {
        this.description = description;
    }

    public String description() {
        return description;
    }

    /** Whether the serving node must export the volume to the consumer. */
    public boolean needsExport() {
        return this == EXPORT;
    }

    /**
     * The rule. A registration that is missing (node down) or names no machine (an agent that predates
     * {@link NodeRegistration#machineId()}) never counts as "same machine": an export is asked for, as
     * before. A volume whose engine makes no kernel block device (SPDK) cannot be handed over.
     *
     * @param serving      the serving node's registration, or null when it is not registered
     * @param consumer     the consumer node's registration, or null when it is not registered
     */
    public static Reach of(String servingNode, NodeRegistration serving, Engine engine, String consumerNode,
            NodeRegistration consumer) {
        if (servingNode.equals(consumerNode)) {
            return LOCAL;
        }
        if (engine.hasBlockDevice() && serving != null && serving.sameMachineAs(consumer)) {
            return HANDOFF;
        }
        return EXPORT;
    }
}
