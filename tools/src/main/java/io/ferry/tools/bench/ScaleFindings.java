package io.ferry.tools.bench;

import io.ferry.model.Ledger;
import io.ferry.model.LedgerSums;
import io.ferry.model.Placement;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/** What a scale run measured and which invariants it found broken, and how they are printed. */
final class ScaleFindings {

    private final Map<String, Double> figures = new LinkedHashMap<>();
    private final List<String> violations = new ArrayList<>();

    void figure(String name, double value) {
        figures.put(name, value);
    }

    Double get(String name) {
        return figures.get(name);
    }

    Double getOrDefault(String name, double otherwise) {
        return figures.getOrDefault(name, otherwise);
    }

    void violation(String what) {
        violations.add(what);
    }

    /**
     * Every ledger against the sum of the placements on its pool (the one rule, {@link LedgerSums});
     * the number of ledgers that disagree is figure {@code figure}, the first ten are violations.
     */
    void checkLedgers(List<Ledger> ledgers, List<Placement> placements, String when, String figure) {
        Map<String, Ledger> expected = LedgerSums.expected(placements, List.of());
        Map<String, Ledger> actual = new LinkedHashMap<>();
        ledgers.forEach(l -> actual.put(l.pool(), l));
        Set<String> pools = new TreeSet<>(expected.keySet());
        pools.addAll(actual.keySet());
        int wrong = 0;
        for (String p : pools) {
            if (!LedgerSums.agrees(actual.get(p), expected.get(p))) {
                wrong++;
                if (wrong <= 10) {
                    violations.add("ledger of " + p + " " + when + " says " + actual.get(p) + ", its placements sum to "
                            + expected.get(p));
                }
            }
        }
        figure(figure, wrong);
    }

    void report(PrintWriter out) {
        out.println();
        figures.forEach((name, value) -> out.printf("%-45s %s%n", name, value == Math.rint(value) && Math.abs(value) < 1e15
                ? String.valueOf(value.longValue()) : String.format("%.3f", value)));
        out.println("violations: " + violations.size());
        violations.forEach(v -> out.println("  " + v));
        out.flush();
    }

    ScaleRun.Result result() {
        return new ScaleRun.Result(Map.copyOf(figures), List.copyOf(violations));
    }
}
