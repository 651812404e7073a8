package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;

import java.util.Locale;

/**
 * Why a request on a volume did not succeed, as one process tells another. Writers (agent,
 * controller) choose the reason; readers (CSI, ferryctl) act on the reason and its category, never
 * on the message, which is for people.
 *
 * <p>A <em>terminal</em> reason holds for the generation it was written with: retrying the same
 * request cannot help until an input changes (the work item, the pool config, the storage coming
 * back), so a caller waiting for that generation is answered at once. A retryable one is being
 * retried by its writer with backoff; a caller keeps waiting and can show the attempt count.
 */
public enum FailureReason {
    /** The controller refused the intent (it does not decode or validate). */
    INVALID_INTENT("InvalidIntent", true, Category.INVALID),
    /** No pool fits the intent (space, labels, spread); the scheduling record counts the reasons. */
    NO_FIT("NoFit", true, Category.NO_CAPACITY),
    /** The work item does not decode or does not fit its pool (engine, size, source). */
    INVALID_WORK_ITEM("InvalidWorkItem", true, Category.INVALID),
    /** The pool named by the work item has no valid config for this node. */
    POOL_NOT_CONFIGURED("PoolNotConfigured", true, Category.PRECONDITION),
    /** The pool's engine is not available on its node (SPDK not running, a tool missing). */
    ENGINE_UNAVAILABLE("EngineUnavailable", true, Category.PRECONDITION),
    /** The volume must be exported to another node, and its node cannot export NVMe-oF. */
    EXPORT_UNAVAILABLE("ExportUnavailable", true, Category.PRECONDITION),
    /** The volume existed and its node no longer finds it; it is never re-created empty. */
    VOLUME_LOST("VolumeLost", true, Category.PRECONDITION),
    /** There is no room: the pool cannot hold the volume, or the growth asked for. */
    NO_SPACE("NoSpace", true, Category.NO_CAPACITY),
    /**
     * The source of a snapshot or clone was created on its node and is no longer there (a lost
     * volume, a snapshot whose file or lvol is gone); retried when the source comes back.
     */
    SOURCE_LOST("SourceLost", true, Category.PRECONDITION),
    /** The engine refused the request for good (e.g. an object of another cluster in the way). */
    ENGINE_REFUSED("EngineRefused", true, Category.INTERNAL),
    /**
     * A clone or a volume made from a snapshot waits for its source to be placed (it must go to the
     * source's pool); the controller places it as soon as the source is.
     */
    SOURCE_NOT_PLACED("SourceNotPlaced", false, Category.PRECONDITION),
    /**
     * The volume's placement is gone while nodes still hold it in a way it cannot be rebuilt from
     * (several claimants, a status that names no pool): the controller holds it rather than place a
     * second, empty copy, until an operator restores the placement or the records change.
     */
    PLACEMENT_LOST("PlacementLost", true, Category.PRECONDITION),
    /** An adopted volume ({@code adoptFromNode}) waits for its node's status to rebuild its placement from. */
    ADOPTION_PENDING("AdoptionPending", false, Category.PRECONDITION),
    /** The volume's node has no registration (its agent's lease expired): nothing reaches it until it returns. */
    NODE_UNREACHABLE("NodeUnreachable", false, Category.PRECONDITION),
    /**
     * An attachment names a host NQN other than the one its node registered: nothing is exported to it
     * (whoever can write an attachment must not be able to pick the host a volume is exported to).
     * Stands until the attachment or the registration changes.
     */
    ATTACHMENT_REFUSED("AttachmentRefused", true, Category.PRECONDITION),
    /**
     * A work item asks a node to create or grow a volume that no placement accounts for (none, or one
     * for another node, pool, engine, source or a smaller size): only the controller gives work, and
     * it writes both in one transaction, so this one was written by someone else. Nothing is created
     * or grown; stands until the work item changes.
     */
    UNPLACED_WORK("UnplacedWork", true, Category.PRECONDITION),
    /**
     * The cluster requires NVMe in-band authentication ({@code nvmeAuth}) and the serving node does
     * not have the consumer's DH-HMAC-CHAP pair yet (the consumer has not published it, or the
     * controller has not copied it to this node): nothing is exported until it arrives, and the
     * export follows by itself when it does.
     */
    NVME_AUTH_PENDING("NvmeAuthPending", false, Category.PRECONDITION),
    /**
     * The cluster requires NVMe in-band authentication and this node's kernel target cannot do it
     * (built without {@code CONFIG_NVME_TARGET_AUTH}): nothing is exported without it. Stands until
     * the node's kernel or the setting changes.
     */
    NVME_AUTH_UNSUPPORTED("NvmeAuthUnsupported", true, Category.PRECONDITION),
    /** The intent asks for less than the volume has; volumes never shrink. */
    SHRINK_REFUSED("ShrinkRefused", true, Category.INVALID),
    /** The snapshot's source volume is on a pool the controller has no config for, so it cannot take it. */
    POOL_CANNOT_SNAPSHOT("PoolCannotSnapshot", true, Category.PRECONDITION),
    /**
     * The request is not supported for the volume's layout yet: resizing, snapshotting or cloning a
     * volume of several parts (linear, mirror), or a part of one (docs/layouts.md).
     */
    LAYOUT_UNSUPPORTED("LayoutUnsupported", true, Category.INVALID),
    /**
     * Another key the request depends on (a ledger, a pool's config or status, a placement) does not
     * decode or validate; the message names the key. Retried when that key changes.
     */
    INPUT_INVALID("InputInvalid", true, Category.INTERNAL),
    /** A command or a call failed (etcd unavailable, a busy volume group, a timeout) and is retried with backoff. */
    RETRYING("Retrying", false, Category.INTERNAL),
    /** A reason this reader does not know (written by a newer Ferry); treated as retryable. */
    UNKNOWN("Unknown", false, Category.INTERNAL);

    /** How a caller should answer: each maps to one gRPC code and one ferryctl exit code. */
    public enum Category {
        /** The request itself is wrong (gRPC INVALID_ARGUMENT). */
        INVALID,
        /** Something the request depends on is not the way it must be (gRPC FAILED_PRECONDITION). */
        PRECONDITION,
        /** Not enough space (gRPC RESOURCE_EXHAUSTED). */
        NO_CAPACITY,
        /** Anything else (gRPC INTERNAL), with the writer's message. */
        INTERNAL
    }

    private final String value;
    private final boolean terminal;
    private final Category category;

    FailureReason(String value, boolean terminal, Category category) {
        this.value = value;
        this.terminal = terminal;
        this.category = category;
    }

    @JsonValue
    public String value() {
        return value;
    }

    public boolean terminal() {
        return terminal;
    }

    public Category category() {
        return category;
    }

    /** Case-insensitive; a value this version does not know is {@link #UNKNOWN}, so newer writers never break readers. */
    @JsonCreator
    public static FailureReason parse(String value) {
        if (value == null) {
            throw new ValidationException("failure reason is missing");
        }
        String v = value.strip().toLowerCase(Locale.ROOT);
        for (FailureReason r : values()) {
            if (r.value.toLowerCase(Locale.ROOT).equals(v)) {
                return r;
            }
        }
        return UNKNOWN;
    }
}
