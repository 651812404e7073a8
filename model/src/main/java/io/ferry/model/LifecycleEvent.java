package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;

import java.time.Instant;
import java.util.List;

/**
 * Something that happened to a volume or a snapshot, key
 * {@code <prefix>/events/<objectKind>/<object>/<id>}, written only by the leading controller. Events
 * are a record for people, never an input: nothing in Ferry acts on one. They sit on a lease, so
 * they expire by themselves, and the controller keeps only the newest few per object.
 *
 * @param objectKind {@code volume} or {@code snapshot}
 * @param object     the volume's or snapshot's name
 * @param id         the key's last segment: the time in milliseconds, zero-padded, then a sequence
 *                   number, so that keys sort in the order the events were recorded
 * @param reason     what happened (its {@link EventReason#warning()} gives the event's type)
 * @param detail     the typed cause when there is one (a {@link FailureReason} value), else null
 * @param node       the node concerned (serving node, consumer), else null
 * @param message    for people
 * @param time       when the controller saw it happen
 * @param reporter   the controller that recorded it
 */
public record LifecycleEvent(int schemaVersion, String objectKind, String object, String id, EventReason reason,
        @JsonInclude(JsonInclude.Include.NON_NULL) String detail,
        @JsonInclude(JsonInclude.Include.NON_NULL) String node,
        String message, Instant time, String reporter) implements KeyNamed {

    public static final String VOLUME = "volume";
    public static final String SNAPSHOT = "snapshot";
    public static final int MAX_MESSAGE = 1024;

    public LifecycleEvent {
        Schema.check(schemaVersion);
        Check.required(objectKind, "objectKind");
        if (!objectKind.equals(VOLUME) && !objectKind.equals(SNAPSHOT)) {
            throw new ValidationException("objectKind", "objectKind: must be volume or snapshot, got "
                    + Names.quote(objectKind));
        }
        Check.field("object", Check.required(object, "object"),
                objectKind.equals(VOLUME) ? Names::volumeName : Names::snapshotName);
        Check.field("id", Check.required(id, "id"), LifecycleEvent::validId);
        Check.required(reason, "reason");
        Check.token(detail, "detail", 64);
        Check.nullable("node", node, Names::nodeName);
        message = message == null ? null : Check.text(truncate(message), "message", MAX_MESSAGE);
        Check.required(time, "time");
        Check.token(reporter, "reporter", 253);
    }

    @JsonCreator
    static LifecycleEvent fromJson(
            @JsonProperty("schemaVersion") Integer schemaVersion,
            @JsonProperty("objectKind") String objectKind,
            @JsonProperty("object") String object,
            @JsonProperty("id") String id,
            @JsonProperty("reason") String reason,
            @JsonProperty("detail") String detail,
            @JsonProperty("node") String node,
            @JsonProperty("message") String message,
            @JsonProperty("time") Instant time,
            @JsonProperty("reporter") String reporter) {
        return new LifecycleEvent(Schema.orDefault(schemaVersion), objectKind, object, id,
                EventReason.parse(Check.required(reason, "reason")), detail, node, message, time, reporter);
    }

    public static LifecycleEvent of(String objectKind, String object, String id, EventReason reason, String detail,
                                    String node, String message, Instant time, String reporter) {
        return new LifecycleEvent(Schema.CURRENT_VERSION, objectKind, object, id, reason, detail, node, message, time,
                reporter);
    }

    /** {@code Warning} or {@code Normal}, as Kubernetes events say it. */
    @JsonIgnore
    public String type() {
        return reason.warning() ? "Warning" : "Normal";
    }

    /** An id for an event recorded at {@code time}, the {@code sequence}-th of its recorder. */
    public static String idFor(Instant time, long sequence) {
        return String.format("%013d-%06d", time.toEpochMilli(), Math.floorMod(sequence, 1_000_000L));
    }

    private static String validId(String id) {
        if (!id.matches("[0-9]{13}-[0-9]{6}")) {
            throw new ValidationException("id", "id: " + Names.quote(id)
                    + " is not an event id (13 digits of milliseconds, '-', 6 digits of sequence)");
        }
        return id;
    }

    private static String truncate(String message) {
        return message.length() <= MAX_MESSAGE ? message : message.substring(0, MAX_MESSAGE - 1) + "…";
    }

    @Override
    public List<String> keyNames() {
        return List.of(objectKind, object, id);
    }
}
