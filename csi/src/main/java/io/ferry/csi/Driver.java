package io.ferry.csi;

import io.ferry.csi.v1.VolumeCapability;
import io.ferry.csi.v1.VolumeCapability.AccessMode.Mode;

import java.util.Set;

/** Names and capabilities shared by the plugin's services, the manifests and the docs. */
public final class Driver {

    /** The CSI driver name: the CSIDriver object, StorageClass provisioner and kubelet plugin directory use it. */
    public static final String NAME = "ferry.csi.io";
    public static final String VERSION = Driver.class.getPackage().getImplementationVersion() != null
            ? Driver.class.getPackage().getImplementationVersion() : "0.1.0";

    /** Topology segment keys reported by NodeGetInfo and understood by CreateVolume and GetCapacity. */
    public static final String TOPOLOGY_NODE = "topology.ferry.csi.io/node";
    public static final String TOPOLOGY_RACK = "topology.ferry.csi.io/rack";
    public static final String TOPOLOGY_ZONE = "topology.ferry.csi.io/zone";

    /** Volume context keys written by CreateVolume. */
    public static final String CONTEXT_CSI_NAME = "ferry.csi.io/csi-name";
    public static final String CONTEXT_FS_TYPE = "ferry.csi.io/fs-type";

    /** Publish context keys written by ControllerPublishVolume. */
    public static final String PUBLISH_NODE = "ferry.csi.io/serving-node";
    public static final String PUBLISH_NQN = "ferry.csi.io/nqn";
    public static final String PUBLISH_ADDRESS = "ferry.csi.io/address";
    public static final String PUBLISH_PORT = "ferry.csi.io/port";
    public static final String PUBLISH_SERIAL = "ferry.csi.io/serial";
    /**
     * Set, alone, for a multi-part volume: its layout ({@code linear}, {@code striped} or {@code mirror}). The node
     * plugin assembles the volume from {@code parts/<vol>}, which it reads itself: the parts' serving
     * nodes and exports are per part and change when a leg is replaced, so a publish context, fixed
     * for the publication's life, is the wrong place for them.
     */
    public static final String PUBLISH_LAYOUT = "ferry.csi.io/layout";

    public static final String DEFAULT_FS_TYPE = "ext4";
    public static final Set<String> FS_TYPES = Set.of("ext4", "xfs");

    /** A single-copy block volume is attached to one node at a time. */
    static final Set<Mode> ACCESS_MODES = Set.of(Mode.SINGLE_NODE_WRITER, Mode.SINGLE_NODE_READER_ONLY,
            Mode.SINGLE_NODE_SINGLE_WRITER, Mode.SINGLE_NODE_MULTI_WRITER);

    private Driver() {
    }

    /** Fails the call with INVALID_ARGUMENT, saying why, when the plugin cannot serve this capability. */
    static void requireSupported(VolumeCapability cap) {
        String why = unsupported(cap);
        if (why != null) {
            throw Calls.invalid(why);
        }
    }

    /** Why the plugin cannot serve this capability, or null when it can. Missing parts are the caller's error. */
    static String unsupported(VolumeCapability cap) {
        if (!cap.hasAccessMode() || cap.getAccessMode().getMode() == Mode.UNKNOWN) {
            throw Calls.invalid("volume capability without an access mode");
        }
        if (cap.getAccessTypeCase() == VolumeCapability.AccessTypeCase.ACCESSTYPE_NOT_SET) {
            throw Calls.invalid("volume capability without an access type (block or mount)");
        }
        return unsupportedPart(cap);
    }

    /**
     * Why the plugin cannot serve the parts of this capability that are given, or null. For
     * GetCapacity, where the CO may leave the access mode (external-provisioner's capacity tracking
     * always sends UNKNOWN) or the access type unspecified: that means "any", not an error.
     */
    static String unsupportedPart(VolumeCapability cap) {
        Mode mode = cap.hasAccessMode() ? cap.getAccessMode().getMode() : Mode.UNKNOWN;
        if (mode != Mode.UNKNOWN && !ACCESS_MODES.contains(mode)) {
            return "access mode " + mode + " is not supported: a Ferry volume is attached to one node";
        }
        if (cap.hasMount() && !cap.getMount().getFsType().isEmpty() && !FS_TYPES.contains(cap.getMount().getFsType())) {
            return "filesystem " + cap.getMount().getFsType() + " is not supported (ext4, xfs)";
        }
        return null;
    }

    /**
     * How a publication serves the volume, as stored in its attachment and compared when the same
     * node asks again: {@code block} or {@code mount:<fs>} (the volume's filesystem when the
     * capability names none), then the access mode. Mount flags are left out: they are the node's
     * business, and a publish does not depend on them.
     */
    static String publishedAs(VolumeCapability cap, String volumeFsType) {
        String type = cap.hasBlock() ? "block" : "mount:" + (!cap.getMount().getFsType().isEmpty()
                ? cap.getMount().getFsType() : volumeFsType != null ? volumeFsType : DEFAULT_FS_TYPE);
        return type + "/" + cap.getAccessMode().getMode().name();
    }

    static boolean readOnlyMode(VolumeCapability cap) {
        return cap.hasAccessMode() && cap.getAccessMode().getMode() == Mode.SINGLE_NODE_READER_ONLY;
    }
}
