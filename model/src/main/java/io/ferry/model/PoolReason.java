package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonValue;

import java.util.Arrays;

/**
 * The reasons of a pool status's conditions: the agent's pool writer and the engines write them,
 * readers (the controller, ferryctl, people) share this one vocabulary. The controller places
 * volumes on {@code healthy}; these say why a pool is or is not.
 */
public enum PoolReason {
    // ConfigValid
    VALID("Valid"),
    INVALID_CONFIG("InvalidConfig"),
    // Available: unavailable
    ENGINE_UNAVAILABLE("EngineUnavailable"),
    ENGINE_ERROR("EngineError"),
    OVERLAPS_POOL("OverlapsPool"),
    DIRECTORY_NOT_FOUND("DirectoryNotFound"),
    DIRECTORY_NOT_WRITABLE("DirectoryNotWritable"),
    MARKER_MISSING("MarkerMissing"),
    MARKER_MISMATCH("MarkerMismatch"),
    MARKER_OF_ANOTHER_CLUSTER("MarkerOfAnotherCluster"),
    MARKER_OF_ANOTHER_POOL("MarkerOfAnotherPool"),
    FOREIGN_FILES("ForeignFiles"),
    NO_EXTENDED_ATTRIBUTES("NoExtendedAttributes"),
    FILE_SYSTEM_ERROR("FileSystemError"),
    VOLUME_GROUP_NOT_FOUND("VolumeGroupNotFound"),
    MISSING_PHYSICAL_VOLUME("MissingPhysicalVolume"),
    THIN_POOL_NOT_FOUND("ThinPoolNotFound"),
    THIN_POOL_INACTIVE("ThinPoolInactive"),
    SPDK_UNREACHABLE("SpdkUnreachable"),
    LVSTORE_MISSING("LvstoreMissing"),
    // Available: available
    DIRECTORY_READY("DirectoryReady"),
    VOLUME_GROUP_ACTIVE("VolumeGroupActive"),
    THIN_POOL_ACTIVE("ThinPoolActive"),
    LVSTORE_ONLINE("LvstoreOnline"),
    // SpaceOk
    SPACE_AVAILABLE("SpaceAvailable"),
    LOW_SPACE("LowSpace"),
    FULL("Full"),
    BELOW_WATERMARK("BelowWatermark"),
    ABOVE_WATERMARK("AboveWatermark"),
    // ZeroesNewBlocks
    THIN_POOL_ZEROES("ThinPoolZeroes"),
    THIN_POOL_ZEROING_OFF("ThinPoolZeroingOff"),
    // CapacityClamped, SharedFileSystem
    LARGER_THAN_FILE_SYSTEM("LargerThanFileSystem"),
    SHARED("Shared"),
    /** A reason this reader does not know (written by a newer Ferry). */
    UNKNOWN("Unknown");

    private final String value;

    PoolReason(String value) {
        this.value = value;
    }

    @JsonValue
    public String value() {
        return value;
    }

    /** The reason {@code value} names; {@link #UNKNOWN} for one this version does not know. */
    public static PoolReason parse(String value) {
        return Arrays.stream(values()).filter(r -> r.value.equalsIgnoreCase(value == null ? "" : value.strip()))
                .findFirst().orElse(UNKNOWN);
    }
}
