package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * One observation in a status, in the style of Kubernetes conditions. Every status one Ferry
 * process writes for another (volume, snapshot, pool, node, the controller's records) carries its
 * observations this way, so that a reader decides on {@code type}, {@code status} and
 * {@code reason} and never on {@code message}, which is for people.
 *
 * @param type               CamelCase name of the aspect, e.g. {@link #READY}
 * @param status             whether the aspect holds
 * @param reason             CamelCase machine-readable cause. Ferry writes reasons from enums in this
 *                           package ({@link FailureReason} for a failed request), so that writers and
 *                           readers share one vocabulary; {@link #failureReason()} reads it back typed
 * @param message            human-readable detail, may be null
 * @param observedGeneration the generation of the request (work item, intent) this observation is
 *                           about; 0 when it is not about a generation (a pool's space, say)
 * @param lastTransitionTime when {@code status} last changed; null in conditions written before Ferry
 *                           recorded it. {@link #carryTransitions} keeps it across rewrites
 * @param attempts           for a failure being retried: consecutive failed attempts (0 when not counted)
 */
public record Condition(String type, boolean status, String reason, String message,
        @JsonInclude(JsonInclude.Include.NON_DEFAULT) long observedGeneration,
        @JsonInclude(JsonInclude.Include.NON_NULL) Instant lastTransitionTime,
        @JsonInclude(JsonInclude.Include.NON_DEFAULT) int attempts) {

    /** Volume or snapshot: the request at {@code observedGeneration} is carried out. */
    public static final String READY = "Ready";
    /** The controller's record: the intent is placed (false: why not, typed). */
    public static final String SCHEDULED = "Scheduled";
    /**
     * The controller's record: the intent's size is the placement's (false while a growth is refused:
     * {@link FailureReason#NO_SPACE}, or a shrink: {@link FailureReason#SHRINK_REFUSED}). Present only
     * while a resize is refused.
     */
    public static final String RESIZED = "Resized";
    /** The controller's record: the serving node is registered (false: {@link FailureReason#NODE_UNREACHABLE}). */
    public static final String REACHABLE = "Reachable";
    /**
     * The controller's record: an attachment is refused ({@link FailureReason#ATTACHMENT_REFUSED}: its
     * host NQN is not the one its node registered). Present only while one is.
     */
    public static final String ATTACHED = "Attached";
    /**
     * The controller's record of a mirror: true ({@link #REASON_REPLACED}) once every leg its intent
     * declares lost has a replacement placed; false with {@link FailureReason#NO_FIT} while a lost leg
     * waits for a pool to hold its replacement. Present only once a leg was declared lost.
     */
    public static final String LEG_REPLACED = "LegReplaced";
    /** Reason of a true {@link #LEG_REPLACED}. */
    public static final String REASON_REPLACED = "Replaced";
    /**
     * The controller's record of a mirror one of whose legs its intent asks to move ({@code moveParts}):
     * false with {@link #REASON_MOVING} while the new leg is placed and the consumer rebuilds it; true
     * ({@link #REASON_MOVED}) once the old leg is retired; false with {@link FailureReason#NO_FIT} while
     * no pool can take the new leg, or {@link FailureReason#INPUT_INVALID} for a move that cannot be
     * (to the pool the leg is on). Present only while the intent asks for a move, or one is under way.
     */
    public static final String LEG_MOVED = "LegMoved";
    /** Reason of a false {@link #LEG_MOVED} that is no failure: the new leg is placed and being rebuilt. */
    public static final String REASON_MOVING = "Moving";
    /** Reason of a true {@link #LEG_MOVED}. */
    public static final String REASON_MOVED = "Moved";
    /**
     * The controller's record: its last pass over the intent succeeded. False while it fails:
     * {@link FailureReason#RETRYING} with the attempt count, or a terminal reason (e.g.
     * {@link FailureReason#INPUT_INVALID}) that stands until an input changes.
     */
    public static final String RECONCILED = "Reconciled";
    /** Reason of a true {@link #SCHEDULED}: a placement exists. */
    public static final String REASON_PLACED = "Placed";
    /** Reason of a true {@link #REACHABLE}: the serving node's registration is in etcd. */
    public static final String REASON_NODE_REGISTERED = "NodeRegistered";
    /** Reason of a true {@link #RECONCILED}; its attempts count the failures before this success. */
    public static final String REASON_RECONCILED = "Reconciled";
    /** A node: its agent's registration is in etcd under its current lease. */
    public static final String REGISTERED = "Registered";
    /** The pool's config key decoded and validated. False: the message holds the decode error. */
    public static final String CONFIG_VALID = "ConfigValid";
    /** The pool's backing storage exists and answers. */
    public static final String AVAILABLE = "Available";
    /** Thin data or metadata usage is below the high watermark. */
    public static final String SPACE_OK = "SpaceOk";
    /** A thin pool zeroes the chunks it provisions, so a new volume never shows an earlier one's bytes. */
    public static final String ZEROES_NEW_BLOCKS = "ZeroesNewBlocks";

    /** A pool's capacity was cut to what its file system can hold. */
    public static final String CAPACITY_CLAMPED = "CapacityClamped";
    /** A file pool shares its file system with other pools of the node. */
    public static final String SHARED_FILE_SYSTEM = "SharedFileSystem";
    /** A node: it can export volumes to other nodes over NVMe/TCP (reason: {@link NodeReason}). */
    public static final String CAN_EXPORT = "CanExport";
    /** A node: which engines this agent found usable (message), {@link NodeReason}. */
    public static final String ENGINES_AVAILABLE = "EnginesAvailable";

    private static final Pattern CAMEL = Pattern.compile("[A-Z][A-Za-z0-9]{0,63}");

    public Condition {
        camel(Check.required(type, "type"), "type");
        camel(Check.required(reason, "reason"), "reason");
        Check.text(message, "message", Check.MAX_MESSAGE);
        Check.nonNegative(observedGeneration, "observedGeneration");
        Check.nonNegative(attempts, "attempts");
    }

    @JsonCreator
    static Condition fromJson(
            @JsonProperty("type") String type,
            @JsonProperty("status") Boolean status,
            @JsonProperty("reason") String reason,
            @JsonProperty("message") String message,
            @JsonProperty("observedGeneration") Long observedGeneration,
            @JsonProperty("lastTransitionTime") Instant lastTransitionTime,
            @JsonProperty("attempts") Integer attempts) {
        return new Condition(type, Check.required(status, "status"), reason, message,
                Check.orDefault(observedGeneration, 0L), lastTransitionTime, Check.orDefault(attempts, 0));
    }

    /** An observation not tied to a generation; its transition time is filled in by {@link #carryTransitions}. */
    public static Condition of(String type, boolean status, String reason, String message) {
        return new Condition(type, status, reason, message, 0, null, 0);
    }

    /** An observation about the request at {@code generation}. */
    public static Condition of(String type, boolean status, String reason, String message, long generation) {
        return new Condition(type, status, reason, message, generation, null, 0);
    }

    /** {@code type} is false because of {@code reason} for the request at {@code generation}, after {@code attempts} tries. */
    public static Condition failed(String type, FailureReason reason, String message, long generation, int attempts) {
        return new Condition(type, false, reason.value(), message, generation, null, attempts);
    }

    /** A pool condition: its reason is one of {@link PoolReason}. */
    public static Condition of(String type, boolean status, PoolReason reason, String message) {
        return new Condition(type, status, reason.value(), message, 0, null, 0);
    }

    /** A node condition: its reason is one of {@link NodeReason}. */
    public static Condition of(String type, boolean status, NodeReason reason, String message) {
        return new Condition(type, status, reason.value(), message, 0, null, 0);
    }

    /** A {@code Ready}-style condition that is not a failure: carried out (true), or on its way (false). */
    public static Condition progress(String type, ProgressReason reason, String message, long generation) {
        return new Condition(type, reason == ProgressReason.CARRIED_OUT, reason.value(), message, generation, null, 0);
    }

    /**
     * {@code type} failed once more for {@code reason} at {@code generation}: the attempts count on
     * from {@code previous} when it holds the same failure at the same generation, and start at 1
     * otherwise. The one place for counting attempts.
     */
    public static Condition failedAgain(String type, FailureReason reason, String message, long generation,
            List<Condition> previous) {
        int before = find(previous, type)
                .filter(c -> c.isFailure() && c.failureReason() == reason && c.observedGeneration == generation)
                .map(Condition::attempts).orElse(0);
        return failed(type, reason, message, generation, Math.max(before, 0) + 1);
    }

    /**
     * Whether this is a failure: false, with a reason that is not a {@link ProgressReason}. Its
     * reason is then read with {@link #failureReason()}.
     */
    @JsonIgnore
    public boolean isFailure() {
        return !status && ProgressReason.of(reason).isEmpty();
    }

    /**
     * Whether this failure answers a request for {@code generation} for good: terminal, and written
     * for that generation or a later one (a newer request starts afresh).
     */
    public boolean terminalFor(long generation) {
        return isFailure() && failureReason().terminal() && observedGeneration >= generation;
    }

    /** Whether the request at {@code generation} (or a later one) is carried out. */
    public boolean carriedOut(long generation) {
        return status && observedGeneration >= generation;
    }

    /** The reason read as a failure reason; {@link FailureReason#UNKNOWN} for one this version does not know. */
    @JsonIgnore
    public FailureReason failureReason() {
        return FailureReason.parse(reason);
    }

    public Condition withTransitionTime(Instant at) {
        return new Condition(type, status, reason, message, observedGeneration, at, attempts);
    }

    /** The condition of {@code type} in {@code conditions}, if there is one. */
    public static Optional<Condition> find(List<Condition> conditions, String type) {
        if (conditions == null) {
            return Optional.empty();
        }
        return conditions.stream().filter(c -> c.type.equals(type)).findFirst();
    }

    /** {@code conditions} with {@code c} in place of the condition of its type (added when there is none). */
    public static List<Condition> put(List<Condition> conditions, Condition c) {
        List<Condition> out = new ArrayList<>(without(conditions, c.type));
        out.add(c);
        return List.copyOf(out);
    }

    /** {@code conditions} without the one of {@code type}. */
    public static List<Condition> without(List<Condition> conditions, String type) {
        if (conditions == null) {
            return List.of();
        }
        return conditions.stream().filter(c -> !c.type.equals(type)).toList();
    }

    /** Validates a list of conditions: at most one per type. */
    static List<Condition> checkList(List<Condition> conditions) {
        if (conditions == null) {
            return List.of();
        }
        Set<String> types = new HashSet<>();
        for (Condition c : conditions) {
            Check.required(c, "conditions");
            if (!types.add(c.type)) {
                throw new ValidationException("conditions", "conditions: type " + c.type + " appears twice");
            }
        }
        return List.copyOf(conditions);
    }

    /**
     * {@code next} with each condition's transition time kept from {@code previous} when its status
     * did not change, and set to {@code now} when it did (or is new): the one place for the rule, so
     * that rewriting a status on every pass does not make every condition look freshly changed.
     */
    public static List<Condition> carryTransitions(List<Condition> previous, List<Condition> next, Instant now) {
        if (next == null) {
            return List.of();
        }
        List<Condition> out = new ArrayList<>(next.size());
        for (Condition c : next) {
            Optional<Condition> before = find(previous, c.type);
            Instant at = before.filter(b -> b.status == c.status && b.lastTransitionTime != null)
                    .map(Condition::lastTransitionTime).orElse(now);
            out.add(c.withTransitionTime(at));
        }
        return List.copyOf(out);
    }

    private static void camel(String v, String field) {
        if (!CAMEL.matcher(v).matches()) {
            throw new ValidationException(field, field + ": " + Names.quote(v) + " must be a CamelCase word"
                    + " (a capital letter, then letters and digits, at most 64), e.g. VolumeGroupNotFound");
        }
    }
}
