package io.ferry.tools.cli;

import java.util.Arrays;

/** One measured phase of {@code ferryctl bench provision}. {@code placedMs}: for provisioning, intent to the controller's placement (NaN when not seen). */
record ProvisionPhase(String name, int count, double seconds, double[] startedMs, double[] latenciesMs, double[] placedMs,
        long etcdRevisions, double clientCpuMs) {
    double perSecond() {
        return count / seconds;
    }

    double percentile(double p) {
        return percentileOf(latenciesMs, p);
    }

    static double percentileOf(double[] values, double p) {
        double[] sorted = Arrays.stream(values).filter(v -> !Double.isNaN(v)).toArray();
        if (sorted.length == 0) {
            return Double.NaN;
        }
        Arrays.sort(sorted);
        int index = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, index))];
    }
}
