package io.ferry.etcd;

import io.ferry.model.LifecycleEvent;
import io.ferry.model.Names;
import io.ferry.model.ValidationException;

/**
 * The rules for the parts of a key that are not object names (those are {@link Names}'): the prefix
 * every key lives under, and the kind and id segments of an event's key. {@link FerryKeys} checks
 * them when it builds a key, {@link KeyClassifier} when it reads one back.
 */
final class KeySegments {

    /** An event id: milliseconds since the epoch, then a sequence number. */
    static final String EVENT_ID = "[0-9]{13}-[0-9]{6}";

    private KeySegments() {
    }

    /** @throws ValidationException when the prefix is not a clean absolute path without a trailing slash */
    static String prefix(String prefix) {
        if (prefix == null || !prefix.matches("(/[A-Za-z0-9][A-Za-z0-9._-]*)+")) {
            throw new ValidationException("prefix",
                    "key prefix \"" + prefix + "\" is invalid: it must be an absolute path such as /ferry "
                            + "(segments of letters, digits, '.', '_' or '-', no trailing slash)");
        }
        for (String segment : prefix.substring(1).split("/")) {
            if (segment.equals(".") || segment.equals("..")) {
                throw new ValidationException("prefix", "key prefix \"" + prefix + "\" must not contain '.' or '..' segments");
            }
        }
        return prefix;
    }

    static String eventId(String id) {
        if (id == null || !id.matches(EVENT_ID)) {
            throw new ValidationException("id", "event id \"" + id + "\" is not 13 digits, '-', 6 digits");
        }
        return id;
    }

    static String eventKind(String objectKind) {
        if (!LifecycleEvent.VOLUME.equals(objectKind) && !LifecycleEvent.SNAPSHOT.equals(objectKind)) {
            throw new ValidationException("objectKind", "an event's object kind is " + LifecycleEvent.VOLUME + " or "
                    + LifecycleEvent.SNAPSHOT + ", not " + objectKind);
        }
        return objectKind;
    }

    static String eventObject(String objectKind, String object) {
        return objectKind.equals(LifecycleEvent.VOLUME) ? Names.volumeName(object) : Names.snapshotName(object);
    }
}
