package io.ferry.controller;

import io.ferry.etcd.store.CommitHeldException;
import io.ferry.etcd.store.EtcdUnavailableException;
import io.ferry.runtime.reconcile.ReconcileRuntime;
import io.ferry.model.Condition;
import io.ferry.model.FailureReason;
import io.ferry.model.Layout;

import java.util.ArrayList;
import java.util.List;
import java.util.SortedMap;
import java.util.Objects;

/**
 * The conditions of the controller's records (volume and snapshot scheduling), built in one place so
 * that both reconcilers say the same thing the same way. Each condition's {@code observedGeneration}
 * is the mod revision of the intent the record reflects.
 */
final class RecordConditions {

    private RecordConditions() {
    }

    /** {@code Scheduled}: true once placed; false with the typed reason it is not. */
    static Condition scheduled(boolean placed, FailureReason why, String message, long revision) {
        if (placed) {
            return Condition.of(Condition.SCHEDULED, true, Condition.REASON_PLACED, null, revision);
        }
        return Condition.failed(Condition.SCHEDULED, Objects.requireNonNull(why, "why"), message, revision, 0);
    }

    /** {@code Reachable} of a placed volume: whether its node is registered. */
    static Condition reachable(String node, boolean alive, long revision) {
        return alive ? Condition.of(Condition.REACHABLE, true, Condition.REASON_NODE_REGISTERED, null, revision)
                : Condition.failed(Condition.REACHABLE, FailureReason.NODE_UNREACHABLE,
                        "node " + node + " is down: the volume is unreachable until it returns", revision, 0);
    }

    /**
     * {@code Reachable} of a volume of several parts: whether every part's node is registered. A
     * mirror with a leg's node down goes on on its other legs (degraded); a linear volume needs every
     * segment, so it is unreachable until the node returns.
     *
     * @param parts     how many parts the volume has
     * @param downParts the parts whose node is down, each with its node, sorted by part
     */
    static Condition partsReachable(Layout layout, int parts, SortedMap<String, String> downParts, long revision) {
        return partsReachable(layout, parts, downParts, null, revision);
    }

    /**
     * As {@link #partsReachable(Layout, int, SortedMap, long)} for a mirror with a leg {@code joining}
     * it by a move (or null): that leg holds no data until rebuilt, so it neither counts among the
     * legs that serve the volume ({@code parts} excludes it) nor degrades it when its node is down.
     */
    static Condition partsReachable(Layout layout, int parts, SortedMap<String, String> downParts, String joining,
                                    long revision) {
        if (downParts.isEmpty()) {
            return Condition.of(Condition.REACHABLE, true, Condition.REASON_NODE_REGISTERED, null, revision);
        }
        List<String> down = new ArrayList<>();
        downParts.forEach((part, node) -> down.add(part + " on " + node));
        long downServing = downParts.keySet().stream().filter(part -> !part.equals(joining)).count();
        String effect = layout == Layout.MIRROR && downServing == 0
                ? "the leg joining the mirror by a move waits for its node; the mirror is served by its other legs"
                : layout == Layout.MIRROR && downServing < parts
                ? "the mirror is degraded: it is served by its other legs until the node returns"
                : "the volume is unreachable until the node returns: every segment is needed";
        return Condition.failed(Condition.REACHABLE, FailureReason.NODE_UNREACHABLE,
                "node down for " + String.join(", ", down) + ": " + effect, revision, 0);
    }

    /**
     * {@code Reconciled} after a pass that succeeded. The failed attempts before it are shown once
     * (a failure whose record could not be written, etcd being down, is counted here when etcd is back);
     * a success after a success keeps what the record says (at the revision it now reflects), so that it
     * is not rewritten for nothing.
     */
    static Condition reconciled(List<Condition> current, int failedBefore, long revision) {
        Condition previous = Condition.find(current, Condition.RECONCILED).orElse(null);
        if (failedBefore == 0 && previous != null && previous.status()) {
            return new Condition(Condition.RECONCILED, true, previous.reason(), previous.message(), revision,
                    previous.lastTransitionTime(), previous.attempts());
        }
        return new Condition(Condition.RECONCILED, true, Condition.REASON_RECONCILED, null, revision, null, failedBefore);
    }

    /**
     * {@code Reconciled} after a pass that failed: terminal failures (a key the intent depends on that
     * does not decode, by the runtime's own rule) stand until an input changes; others are being
     * retried with backoff, {@code attempt} counting them.
     */
    static Condition failed(Throwable error, int attempt, long revision) {
        return Condition.failed(Condition.RECONCILED, reasonOf(error), message(error), revision, attempt);
    }

    /**
     * Whether a failure says the record could not be written either: etcd is unreachable (writing
     * would only wait for another timeout before the retry), or commits are held after an etcd
     * restore. Such a failure is shown by the next pass that succeeds, with its count.
     */
    static boolean unwritable(Throwable error) {
        for (Throwable e = error; e != null; e = e.getCause() == e ? null : e.getCause()) {
            if (e instanceof EtcdUnavailableException || e instanceof CommitHeldException) {
                return true;
            }
        }
        return false;
    }

    static FailureReason reasonOf(Throwable error) {
        return ReconcileRuntime.isTerminal(error) ? FailureReason.INPUT_INVALID : FailureReason.RETRYING;
    }

    static String message(Throwable error) {
        String m = String.valueOf(error.getMessage() != null ? error.getMessage() : error.toString());
        return m.length() > 4000 ? m.substring(0, 4000) : m;
    }

    /** Non-null conditions, in order. */
    static List<Condition> of(Condition... conditions) {
        List<Condition> out = new ArrayList<>();
        for (Condition c : conditions) {
            if (c != null) {
                out.add(c);
            }
        }
        return List.copyOf(out);
    }
}
