package io.ferry.agent.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Parses {@code lvs}/{@code vgs --reportformat json --units b --nosuffix}. lvm2 prints every value
 * as a string ("1073741824", "12.50", "" for not applicable); newer releases can print numbers
 * ({@code json_std}), so both are accepted.
 */
public final class LvmReport {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** One logical volume. {@code dataPercent}/{@code metadataPercent} are null where lvm prints "". */
    public record Lv(String name, String vg, long sizeBytes, Set<String> tags, String path, Double dataPercent,
            Double metadataPercent, String poolLv, String attr) {

        /** The value of tag {@code key=value}, or null. */
        public String tag(String key) {
            for (String t : tags) {
                if (t.startsWith(key + "=")) {
                    return t.substring(key.length() + 1);
                }
            }
            return null;
        }

        /** lv_attr's fifth character is the activation state: 'a' means active. */
        public boolean active() {
            return attr != null && attr.length() > 4 && attr.charAt(4) == 'a';
        }

        /** lv_attr's eighth character of a thin pool is 'z' when it zeroes the chunks it provisions. */
        public boolean zeroesNewBlocks() {
            return attr != null && attr.length() > 7 && attr.charAt(7) == 'z';
        }
    }

    public record Vg(String name, long sizeBytes, long freeBytes, long extentBytes, int missingPvs) {
    }

    private LvmReport() {
    }

    public static List<Lv> lvs(String json) {
        List<Lv> out = new ArrayList<>();
        for (JsonNode lv : rows(json, "lv")) {
            Set<String> tags = new LinkedHashSet<>();
            for (String t : text(lv, "lv_tags").split(",")) {
                if (!t.isBlank()) {
                    tags.add(t.strip());
                }
            }
            out.add(new Lv(text(lv, "lv_name"), text(lv, "vg_name"), number(lv, "lv_size"), tags,
                    emptyToNull(text(lv, "lv_path")), percent(lv, "data_percent"), percent(lv, "metadata_percent"),
                    emptyToNull(text(lv, "pool_lv")), emptyToNull(text(lv, "lv_attr"))));
        }
        return out;
    }

    public static List<Vg> vgs(String json) {
        List<Vg> out = new ArrayList<>();
        for (JsonNode vg : rows(json, "vg")) {
            out.add(new Vg(text(vg, "vg_name"), number(vg, "vg_size"), number(vg, "vg_free"),
                    number(vg, "vg_extent_size"), (int) number(vg, "vg_missing_pv_count")));
        }
        return out;
    }

    private static List<JsonNode> rows(String json, String kind) {
        List<JsonNode> rows = new ArrayList<>();
        try {
            JsonNode root = JSON.readTree(json);
            for (JsonNode report : root.path("report")) {
                for (JsonNode row : report.path(kind)) {
                    rows.add(row);
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot parse the lvm JSON report: " + e.getMessage(), e);
        }
        return rows;
    }

    private static String text(JsonNode row, String field) {
        JsonNode v = row.get(field);
        return v == null || v.isNull() ? "" : v.asText().strip();
    }

    private static long number(JsonNode row, String field) {
        String t = text(row, field);
        if (t.isEmpty()) {
            return 0;
        }
        try {
            // Some lvm2 versions print "1073741824B" even with --nosuffix when units are forced.
            return Long.parseLong(t.endsWith("B") ? t.substring(0, t.length() - 1) : t);
        } catch (NumberFormatException e) {
            throw new IllegalStateException("lvm reported " + field + " = '" + t + "', not a number of bytes");
        }
    }

    private static Double percent(JsonNode row, String field) {
        String t = text(row, field);
        if (t.isEmpty()) {
            return null;
        }
        try {
            return Math.max(0, Math.min(100, Double.parseDouble(t)));
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private static String emptyToNull(String s) {
        return s == null || s.isEmpty() ? null : s;
    }
}
