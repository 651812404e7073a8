package io.ferry.controller;

import io.ferry.model.Attachment;
import io.ferry.model.Condition;
import io.ferry.model.EventReason;
import io.ferry.model.LifecycleEvent;
import io.ferry.model.Placement;
import io.ferry.model.SnapshotIntent;
import io.ferry.model.SnapshotScheduling;
import io.ferry.model.SnapshotStatus;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeScheduling;
import io.ferry.model.VolumeStatus;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Which lifecycle events a change of one key means: the one place for that rule. A change is a
 * key's value before and after (null when absent); the rule looks only at what a person would call a
 * step in the object's life (placed, ready, failed, ...), so rewrites that change nothing of that
 * (an attempt count, an export's address, a resync delivering the same value again) mean no event.
 */
final class LifecycleEventRules {

    /** An event before it has a time, an id and a reporter. */
    record Draft(String objectKind, String object, EventReason reason, String detail, String node, String message) {
    }

    private LifecycleEventRules() {
    }

    static List<Draft> derive(Object before, Object after) {
        Object any = after != null ? after : before;
        if (any instanceof Placement) {
            return placement((Placement) before, (Placement) after);
        }
        if (any instanceof VolumeStatus) {
            return volumeStatus((VolumeStatus) before, (VolumeStatus) after);
        }
        if (any instanceof VolumeScheduling) {
            return volumeScheduling((VolumeScheduling) before, (VolumeScheduling) after);
        }
        if (any instanceof Attachment) {
            return attachment((Attachment) before, (Attachment) after);
        }
        if (any instanceof VolumeIntent v) {
            return after == null ? List.of(volume(v.name(), EventReason.DELETED, null, null, "volume deleted")) : List.of();
        }
        if (any instanceof SnapshotIntent s) {
            return after == null ? List.of(snapshot(s.name(), EventReason.DELETED, null, null, "snapshot deleted")) : List.of();
        }
        if (any instanceof SnapshotStatus) {
            return snapshotStatus((SnapshotStatus) before, (SnapshotStatus) after);
        }
        if (any instanceof SnapshotScheduling) {
            return snapshotScheduling((SnapshotScheduling) before, (SnapshotScheduling) after);
        }
        return List.of();
    }

    private static List<Draft> placement(Placement before, Placement after) {
        if (before != null || after == null) {
            return List.of();
        }
        return List.of(volume(after.volume(), EventReason.PLACED, null, after.node(),
                "placed on pool " + after.pool() + " of node " + after.node() + " (" + after.engine().value() + ", "
                        + after.sizeBytes() + " bytes" + (after.thin() ? ", thin" : "") + ")"));
    }

    private static List<Draft> volumeStatus(VolumeStatus before, VolumeStatus after) {
        if (after == null) {
            // The agent removes a status once the volume is deleted; the intent's deletion says so.
            return List.of();
        }
        if (after.lost()) {
            return before != null && before.lost() ? List.of()
                    : List.of(volume(after.volume(), EventReason.LOST, reasonOf(after.ready()), after.node(),
                            messageOr(after.ready(), after.message(), "the volume is lost on its node")));
        }
        if (after.failing()) {
            Optional<Condition> ready = after.ready();
            boolean sameFailure = before != null && before.failing() && !before.lost()
                    && Objects.equals(reasonOf(before.ready()), reasonOf(ready));
            return sameFailure ? List.of()
                    : List.of(volume(after.volume(), EventReason.FAILED, reasonOf(ready), after.node(),
                            messageOr(ready, after.message(), "the agent failed")));
        }
        if (!after.settled()) {
            return List.of();
        }
        boolean wasSettled = before != null && before.settled();
        if (before != null && before.sizeBytes() > 0 && after.sizeBytes() > before.sizeBytes()) {
            return List.of(volume(after.volume(), EventReason.GROWN, null, after.node(),
                    "grown from " + before.sizeBytes() + " to " + after.sizeBytes() + " bytes"));
        }
        return wasSettled ? List.of()
                : List.of(volume(after.volume(), EventReason.READY, null, after.node(),
                        "ready on node " + after.node() + " (" + after.sizeBytes() + " bytes)"));
    }

    /** A placement or growth refused: the record's Scheduled or Resized condition turning false, or its reason changing. */
    private static List<Draft> volumeScheduling(VolumeScheduling before, VolumeScheduling after) {
        if (after == null) {
            return List.of();
        }
        Optional<Condition> now = refusal(after);
        if (now.isEmpty()) {
            return List.of();
        }
        Optional<Condition> was = before == null ? Optional.empty() : refusal(before);
        if (was.isPresent() && was.get().type().equals(now.get().type()) && was.get().reason().equals(now.get().reason())) {
            return List.of();
        }
        String what = now.get().type().equals(Condition.RESIZED) ? "growth refused" : "placement refused";
        return List.of(volume(after.volume(), EventReason.REFUSED, now.get().reason(), null,
                messageOr(now, null, what)));
    }

    private static Optional<Condition> refusal(VolumeScheduling s) {
        Optional<Condition> scheduled = s.condition(Condition.SCHEDULED).filter(Condition::isFailure);
        return scheduled.isPresent() ? scheduled : s.condition(Condition.RESIZED).filter(Condition::isFailure);
    }

    private static List<Draft> attachment(Attachment before, Attachment after) {
        if (before == null && after != null) {
            return List.of(volume(after.volume(), EventReason.ATTACHED, null, after.node(),
                    "attached to node " + after.node() + (after.readOnly() ? " (read-only)" : "")));
        }
        if (before != null && after == null) {
            return List.of(volume(before.volume(), EventReason.DETACHED, null, before.node(),
                    "detached from node " + before.node()));
        }
        return List.of();
    }

    private static List<Draft> snapshotStatus(SnapshotStatus before, SnapshotStatus after) {
        if (after == null) {
            return List.of();
        }
        Optional<Condition> ready = after.ready();
        boolean failing = ready.map(Condition::isFailure).orElse(after.phase().isFailure());
        boolean readyNow = ready.map(Condition::status).orElse(after.readyToUse());
        if (failing) {
            boolean same = before != null && Objects.equals(reasonOf(before.ready()), reasonOf(ready))
                    && before.ready().map(Condition::isFailure).orElse(before.phase().isFailure());
            return same ? List.of()
                    : List.of(snapshot(after.snapshot(), EventReason.FAILED, reasonOf(ready), after.node(),
                            messageOr(ready, after.message(), "the snapshot failed")));
        }
        boolean wasReady = before != null && before.ready().map(Condition::status).orElse(before.readyToUse());
        return !readyNow || wasReady ? List.of()
                : List.of(snapshot(after.snapshot(), EventReason.READY, null, after.node(),
                        "snapshot of " + after.sourceVolume() + " ready on node " + after.node()));
    }

    private static List<Draft> snapshotScheduling(SnapshotScheduling before, SnapshotScheduling after) {
        if (after == null) {
            return List.of();
        }
        Optional<Condition> now = after.problem().filter(c -> c.type().equals(Condition.SCHEDULED));
        if (now.isEmpty()) {
            return List.of();
        }
        Optional<Condition> was = before == null ? Optional.empty()
                : before.problem().filter(c -> c.type().equals(Condition.SCHEDULED));
        if (was.isPresent() && was.get().reason().equals(now.get().reason())) {
            return List.of();
        }
        return List.of(snapshot(after.snapshot(), EventReason.REFUSED, now.get().reason(), null,
                messageOr(now, null, "snapshot refused")));
    }

    private static String reasonOf(Optional<Condition> c) {
        return c.map(Condition::reason).orElse(null);
    }

    private static String messageOr(Optional<Condition> c, String fallback, String last) {
        String m = c.map(Condition::message).orElse(null);
        if (m == null || m.isBlank()) {
            m = fallback;
        }
        return m == null || m.isBlank() ? last : m;
    }

    private static Draft volume(String name, EventReason reason, String detail, String node, String message) {
        return new Draft(LifecycleEvent.VOLUME, name, reason, detail, node, message);
    }

    private static Draft snapshot(String name, EventReason reason, String detail, String node, String message) {
        return new Draft(LifecycleEvent.SNAPSHOT, name, reason, detail, node, message);
    }
}
