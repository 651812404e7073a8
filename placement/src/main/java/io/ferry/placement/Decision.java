package io.ferry.placement;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * The outcome of scheduling one request: the chosen pool, or the number of pools refused for each
 * reason. Verdicts for every pool are kept only when an explanation was asked for.
 */
public record Decision(Candidate chosen, double score, SortedMap<String, Integer> reasonCounts, List<PoolVerdict> verdicts) {

    public Decision {
        reasonCounts = new TreeMap<>(reasonCounts);
        verdicts = verdicts == null ? List.of() : List.copyOf(verdicts);
    }

    public Optional<Candidate> pool() {
        return Optional.ofNullable(chosen);
    }

    /** {@code no pool fits: free space 3, spread rack 2, node down 1}, largest counts first. */
    public String refusal() {
        return refusal(reasonCounts);
    }

    /** The refusal text for these counts; multi-part decisions word theirs the same way. */
    static String refusal(SortedMap<String, Integer> reasonCounts) {
        if (reasonCounts.isEmpty()) {
            return "no pool fits: no pools are configured";
        }
        return "no pool fits: " + reasonCounts.entrySet().stream()
                .sorted(Map.Entry.<String, Integer>comparingByValue().reversed().thenComparing(Map.Entry.comparingByKey()))
                .map(e -> e.getKey() + " " + e.getValue())
                .collect(Collectors.joining(", "));
    }
}
