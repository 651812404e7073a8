package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;

/** Why an agent refused an order about an orphan; nothing was changed. Read by programs (ferryctl). */
public enum OrphanRefusal {
    /** No volume of the node's pools has that name (any more). */
    NOT_FOUND("NotFound"),
    /** It carries another Ferry cluster's ownership marker. */
    OTHER_CLUSTER("OtherCluster"),
    /** It carries no cluster ownership marker at all. */
    UNMARKED("Unmarked"),
    /** A work item of this node names it: it is not an orphan. */
    NAMED_BY_WORK_ITEM("NamedByWorkItem"),
    /** A placement names it: the controller still knows the volume. */
    NAMED_BY_PLACEMENT("NamedByPlacement"),
    /** The volume's intent asks for its deletion. */
    DELETION_REQUESTED("DeletionRequested"),
    /** The node's own status of the volume says something else (a deletion under way, another pool). */
    STATUS_CONFLICT("StatusConflict"),
    /** The engine cannot say how large the volume is. */
    SIZE_UNKNOWN("SizeUnknown"),
    /**
     * Its size is not a whole number of {@link Sizes#ALIGNMENT}s (or exceeds the largest volume), as
     * every volume Ferry makes is: an intent could only name it by growing it.
     */
    NOT_A_VOLUME_SIZE("NotAVolumeSize"),
    /** The storage or etcd could not be asked; the order may succeed when given again. */
    CHECK_FAILED("CheckFailed");

    private final String value;

    OrphanRefusal(String value) {
        this.value = value;
    }

    @JsonValue
    public String value() {
        return value;
    }

    @JsonCreator
    public static OrphanRefusal parse(String value) {
        return Wire.parse(OrphanRefusal.class, OrphanRefusal::value, value, "orphan refusal reason");
    }

    @Override
    public String toString() {
        return value;
    }
}
