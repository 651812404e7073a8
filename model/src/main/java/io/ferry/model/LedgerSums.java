package io.ferry.model;

import java.util.Map;
import java.util.TreeMap;

/**
 * What each pool's ledger must say: the sizes of the placements on it and of the snapshots charged
 * to it. The one statement of that rule, used by the controller's ledger audit (which corrects a
 * ledger that disagrees) and by the chaos run (which reports one as a violation).
 */
public final class LedgerSums {

    private LedgerSums() {
    }

    /** The expected ledger of every pool something is charged to; a pool absent here should hold nothing. */
    public static Map<String, Ledger> expected(Iterable<Placement> placements, Iterable<SnapshotScheduling> snapshots) {
        Map<String, Ledger> sums = new TreeMap<>();
        for (Placement p : placements) {
            sums.put(p.pool(), sums.getOrDefault(p.pool(), Ledger.empty(p.pool())).add(p.sizeBytes()));
        }
        for (SnapshotScheduling s : snapshots) {
            if (charged(s)) {
                sums.put(s.pool(), sums.getOrDefault(s.pool(), Ledger.empty(s.pool())).add(s.sizeBytes()));
            }
        }
        return sums;
    }

    /** A snapshot is charged from its placement until the release that removes its record. */
    public static boolean charged(SnapshotScheduling s) {
        return (s.phase() == SchedulingPhase.PLACED || s.phase() == SchedulingPhase.DELETING) && s.pool() != null
                && s.sizeBytes() > 0;
    }

    /** Whether a ledger (null: absent) says what the placements add up to (null: nothing). */
    public static boolean agrees(Ledger actual, Ledger expected) {
        long bytes = expected == null ? 0 : expected.allocatedBytes();
        int count = expected == null ? 0 : expected.volumeCount();
        if (actual == null) {
            // An absent ledger is an empty one: nothing to write for a pool nothing is charged to.
            return bytes == 0 && count == 0;
        }
        return actual.allocatedBytes() == bytes && actual.volumeCount() == count;
    }
}
