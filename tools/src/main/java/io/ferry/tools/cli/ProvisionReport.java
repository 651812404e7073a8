package io.ferry.tools.cli;

import java.util.Objects;
import java.util.stream.Stream;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** What {@code ferryctl bench provision} prints: its phases, side by side, and every volume's timings. */
final class ProvisionReport {

    private ProvisionReport() {
    }

    /**
     * Prints the phases as a table (with the run's {@code header} line and the provisioning split)
     * or as one structured summary.
     */
    static void report(Output out, String header, int volumes, int concurrency, ProvisionPhase create,
                       ProvisionPhase delete, ProvisionPhase baseline) {
        List<Map<String, Object>> rows = new ArrayList<>();
        List<List<String>> cells = new ArrayList<>();
        for (ProvisionPhase p : Stream.of(create, delete, baseline).filter(Objects::nonNull).toList()) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("phase", p.name());
            row.put("count", p.count());
            row.put("seconds", round(p.seconds()));
            row.put("perSecond", round(p.perSecond()));
            row.put("p50Ms", round(p.percentile(50)));
            row.put("p95Ms", round(p.percentile(95)));
            row.put("p99Ms", round(p.percentile(99)));
            row.put("etcdRevisionsPerItem", round((double) p.etcdRevisions() / p.count()));
            row.put("clientCpuMsPerItem", round(p.clientCpuMs() / p.count()));
            rows.add(row);
            cells.add(List.of(p.name(), String.valueOf(p.count()), fmt(p.perSecond()), fmt(p.percentile(50)),
                    fmt(p.percentile(95)), fmt(p.percentile(99)), fmt((double) p.etcdRevisions() / p.count()),
                    String.format("%.2f", p.clientCpuMs() / p.count())));
        }
        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("volumes", volumes);
        summary.put("concurrency", concurrency);
        summary.put("phases", rows);
        summary.put("provisionToEtcdPutThroughputRatio", round(create.perSecond() / baseline.perSecond()));
        double[] ready = new double[create.count()];
        for (int i = 0; i < ready.length; i++) {
            ready[i] = create.latenciesMs()[i] - create.placedMs()[i];
        }
        Map<String, Object> split = new LinkedHashMap<>();
        split.put("intentToPlacedP50Ms", round(ProvisionPhase.percentileOf(create.placedMs(), 50)));
        split.put("intentToPlacedP99Ms", round(ProvisionPhase.percentileOf(create.placedMs(), 99)));
        split.put("placedToReadyP50Ms", round(ProvisionPhase.percentileOf(ready, 50)));
        split.put("placedToReadyP99Ms", round(ProvisionPhase.percentileOf(ready, 99)));
        summary.put("provisionSplit", split);
        if (out.format() != Output.Format.table) {
            out.structured(summary);
            return;
        }
        out.line(header);
        out.rows(List.of("PHASE", "N", "PER-SECOND", "P50-MS", "P95-MS", "P99-MS", "ETCD-WRITES/ITEM", "CLIENT-CPU-MS/ITEM"), cells,
                summary);
        out.line(String.format("provision split: intent -> placed p50 %.1f ms, p99 %.1f ms; placed -> Ready p50 %.1f ms,"
                + " p99 %.1f ms", split.get("intentToPlacedP50Ms"), split.get("intentToPlacedP99Ms"),
                split.get("placedToReadyP50Ms"), split.get("placedToReadyP99Ms")));
        out.line(String.format("provisioning runs at %.1f%% of the throughput of plain etcd puts at the same concurrency",
                100 * create.perSecond() / baseline.perSecond()));
    }

    /** Every volume's timings as CSV: phase, index, started, placed and done, in ms after the phase began. */
    static String timingsCsv(ProvisionPhase... phases) {
        StringBuilder csv = new StringBuilder("phase,index,startedMs,placedMs,doneMs\n");
        for (ProvisionPhase p : phases) {
            if (p == null) {
                continue;
            }
            for (int i = 0; i < p.count(); i++) {
                csv.append(p.name()).append(',').append(i).append(',').append(fmt(p.startedMs()[i])).append(',')
                        .append(p.placedMs() == null ? "" : fmt(p.placedMs()[i])).append(',')
                        .append(fmt(p.latenciesMs()[i])).append('\n');
            }
        }
        return csv.toString();
    }

    static double round(double v) {
        return Math.round(v * 100) / 100.0;
    }

    static String fmt(double v) {
        return String.format("%.1f", v);
    }
}
