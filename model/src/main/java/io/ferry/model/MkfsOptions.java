package io.ferry.model;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * The mkfs options a volume intent may carry: an allow-list per filesystem (docs/csi.md lists it).
 *
 * <p>The options reach {@code mkfs.<fs>} on a consumer node as root, so "no shell" is not enough:
 * mke2fs alone can be told to skip its safety checks ({@code -F}), copy a host directory into the
 * new filesystem ({@code -d}), hand the root directory to another user ({@code -E root_owner}) or
 * write a journal to another device ({@code -J device=}), and a bare path anywhere in the list is
 * taken by getopt as the device to format. So every option is a known flag followed by its value
 * as the next element, and the value is checked against what that flag means; anything else is
 * refused when the intent is validated, long before a node runs mkfs. Flags glued to their value
 * ({@code -b4096}) and bundled flags ({@code -qF}) are refused for the same reason: the check
 * reads the list exactly as getopt will.
 */
public final class MkfsOptions {

    private MkfsOptions() {
    }

    /** Checks one option's value; returns why it is refused, or null when it is fine. */
    @FunctionalInterface
    private interface Rule {
        String refuse(String value);
    }

    private static final Pattern INTEGER = Pattern.compile("[0-9]{1,10}");
    private static final Pattern PERCENT = Pattern.compile("[0-9]{1,2}(\\.[0-9]{1,3})?");
    private static final Pattern ELEMENT = Pattern.compile("[A-Za-z0-9=,._:/+^-]{1,128}");

    private static final Set<String> EXT4_FEATURES = Set.of("64bit", "bigalloc", "casefold", "dir_index",
            "dir_nlink", "ea_inode", "encrypt", "extent", "extra_isize", "filetype", "flex_bg", "has_journal",
            "huge_file", "inline_data", "large_dir", "large_file", "metadata_csum", "metadata_csum_seed", "mmp",
            "orphan_file", "project", "quota", "resize_inode", "sparse_super", "sparse_super2", "stable_inodes",
            "uninit_bg", "verity");

    /** Extended options (-E) that take a value, and the values each takes (empty: a whole number). */
    private static final Map<String, Set<String>> EXT4_EXTENDED = Map.of(
            "stride", Set.of(), "stripe_width", Set.of(), "stripe-width", Set.of(), "resize", Set.of(),
            "lazy_itable_init", Set.of("0", "1"), "lazy_journal_init", Set.of("0", "1"),
            "packed_meta_blocks", Set.of("0", "1"), "num_backup_sb", Set.of("0", "1", "2"));
    private static final Set<String> EXT4_EXTENDED_FLAGS = Set.of("discard", "nodiscard");

    private static final Set<String> XFS_SIZES = Set.of("512", "1024", "2048", "4096", "8192", "16384", "32768",
            "65536", "1k", "2k", "4k", "8k", "16k", "32k", "64k");
    private static final Set<String> BOOL = Set.of("0", "1");

    private static final Map<String, Map<String, Rule>> ALLOWED = Map.of(
            "ext4", ordered(
                    "-b", oneOf("block size", "1024", "2048", "4096"),
                    "-i", integer("bytes per inode", 1024, 67_108_864),
                    "-I", oneOf("inode size", "128", "256", "512", "1024"),
                    "-m", (Rule) MkfsOptions::reservedPercent,
                    "-N", integer("number of inodes", 1, 4_294_967_295L),
                    "-O", (Rule) MkfsOptions::ext4Features,
                    "-E", (Rule) MkfsOptions::ext4Extended,
                    "-L", label(16),
                    "-T", oneOf("usage type", "default", "small", "floppy", "news", "largefile", "largefile4",
                            "big", "huge")),
            "xfs", ordered(
                    "-b", subOptions("-b", Map.of("size", XFS_SIZES)),
                    "-m", subOptions("-m", Map.of("crc", BOOL, "reflink", BOOL, "finobt", BOOL, "rmapbt", BOOL,
                            "bigtime", BOOL, "inobtcount", BOOL)),
                    "-i", subOptions("-i", Map.of("size", Set.of("256", "512", "1024", "2048"), "sparse", BOOL,
                            "maxpct", Set.of())),
                    "-s", subOptions("-s", Map.of("size", XFS_SIZES)),
                    "-L", label(12)));

    /**
     * Splits a space-separated option string (a StorageClass parameter, a command-line flag) into
     * the list an intent stores. The one tokeniser for mkfs options: whitespace separates, nothing
     * is quoted or escaped, so what the operator sees is what mkfs gets.
     */
    public static List<String> split(String text) {
        if (text == null || text.isBlank()) {
            return List.of();
        }
        return Arrays.asList(text.strip().split("\\s+"));
    }

    /**
     * The options to format a thick volume with: {@code options} plus whatever keeps mkfs from
     * discarding the device first. A discard through a file pool's loop device punches holes in the
     * volume's file, so a "thick" volume would end up sparse and its space go to whoever writes next;
     * on an LVM or SPDK volume it only costs time. An explicit {@code -E discard} is the operator's
     * choice and is kept; any other {@code -E} value gets {@code nodiscard} added, since mke2fs
     * honours only the last {@code -E}.
     */
    public static List<String> keepingAllocation(String fsType, List<String> options) {
        List<String> out = new ArrayList<>(options);
        switch (fsType) {
            case "ext4" -> {
                int e = out.indexOf("-E");
                if (e < 0 || e + 1 >= out.size()) {
                    out.addAll(List.of("-E", "nodiscard"));
                } else if (!Arrays.asList(out.get(e + 1).split(",")).stream()
                        .anyMatch(o -> o.equals("discard") || o.equals("nodiscard"))) {
                    out.set(e + 1, out.get(e + 1) + ",nodiscard");
                }
            }
            case "xfs" -> out.add("-K");
            default -> {
                // Other filesystems are not formatted by Ferry (the fsType rule refuses them).
            }
        }
        return List.copyOf(out);
    }

    /**
     * Refuses, whatever the filesystem, an element that could be more than one argument or reach a
     * shell; returns it unchanged otherwise.
     */
    static String element(String option, String field) {
        if (!ELEMENT.matcher(option).matches()) {
            throw new ValidationException(field, field + ": " + Names.quote(option) + " is not accepted: an"
                    + " option is 1-128 letters, digits and = , . _ : / + ^ - (no spaces, quotes or shell"
                    + " metacharacters; give a flag and its value as two elements)");
        }
        return option;
    }

    /**
     * Refuses options outside {@code fsType}'s allow-list with a {@link ValidationException} on
     * {@code field} naming the offending element. Pure; thread-safe.
     *
     * @param fsType  {@code ext4} or {@code xfs}; with null, only an empty list passes
     * @param options flags and values as separate elements
     */
    public static void check(String fsType, List<String> options, String field) {
        if (options.isEmpty()) {
            return;
        }
        Map<String, Rule> rules = fsType == null ? null : ALLOWED.get(fsType);
        if (rules == null) {
            throw new ValidationException(field, field + ": no options are allowed for fsType "
                    + (fsType == null ? "(none)" : Names.quote(fsType)));
        }
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < options.size(); i += 2) {
            String flag = options.get(i);
            Rule rule = rules.get(flag);
            if (rule == null) {
                throw new ValidationException(field, field + ": " + Names.quote(flag) + " is not an allowed " + fsType
                        + " option" + (flag.startsWith("-") ? "" : " (every option is a flag followed by its value)")
                        + "; allowed: " + String.join(" ", rules.keySet()) + ", each followed by its value as the"
                        + " next element (see docs/csi.md)");
            }
            if (!seen.add(flag)) {
                throw new ValidationException(field, field + ": " + flag + " is given twice; give it once");
            }
            if (i + 1 >= options.size()) {
                throw new ValidationException(field, field + ": " + flag + " needs a value as the next element");
            }
            String value = options.get(i + 1);
            String why = rule.refuse(value);
            if (why != null) {
                throw new ValidationException(field, field + ": " + flag + " " + Names.quote(value)
                        + " is not allowed for " + fsType + ": " + why);
            }
        }
    }

    private static Map<String, Rule> ordered(Object... flagsAndRules) {
        Map<String, Rule> m = new LinkedHashMap<>();
        for (int i = 0; i < flagsAndRules.length; i += 2) {
            m.put((String) flagsAndRules[i], (Rule) flagsAndRules[i + 1]);
        }
        return Collections.unmodifiableMap(m);
    }

    private static Rule oneOf(String what, String... values) {
        Set<String> allowed = Set.of(values);
        return v -> allowed.contains(v) ? null : what + " must be one of " + String.join(", ", values);
    }

    private static Rule integer(String what, long min, long max) {
        return v -> {
            if (INTEGER.matcher(v).matches()) {
                long n = Long.parseLong(v);
                if (n >= min && n <= max) {
                    return null;
                }
            }
            return what + " must be a whole number from " + min + " to " + max;
        };
    }

    private static Rule label(int maxLength) {
        Pattern p = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0," + (maxLength - 1) + "}");
        return v -> p.matcher(v).matches() ? null
                : "a label is 1-" + maxLength + " letters, digits and . _ -, starting with a letter or digit";
    }

    private static String reservedPercent(String v) {
        return PERCENT.matcher(v).matches() && Double.parseDouble(v) <= 50 ? null
                : "the reserved-blocks percentage must be a number from 0 to 50";
    }

    private static String ext4Features(String v) {
        for (String item : v.split(",", -1)) {
            String feature = item.startsWith("^") ? item.substring(1) : item;
            if (!EXT4_FEATURES.contains(feature)) {
                return "feature " + Names.quote(item) + " is not on the list (allowed, each optionally prefixed"
                        + " with ^ to turn it off: " + String.join(", ", new TreeSet<>(EXT4_FEATURES)) + ")";
            }
        }
        return null;
    }

    private static String ext4Extended(String v) {
        for (String item : v.split(",", -1)) {
            int eq = item.indexOf('=');
            String key = eq < 0 ? item : item.substring(0, eq);
            String why;
            if (EXT4_EXTENDED_FLAGS.contains(key)) {
                why = eq < 0 ? null : key + " takes no value";
            } else if (EXT4_EXTENDED.containsKey(key)) {
                why = eq < 0 ? key + " needs =value" : value(EXT4_EXTENDED.get(key), item.substring(eq + 1));
            } else {
                TreeSet<String> all = new TreeSet<>(EXT4_EXTENDED.keySet());
                all.addAll(EXT4_EXTENDED_FLAGS);
                why = "extended option " + Names.quote(key) + " is not on the list (allowed: " + String.join(", ", all)
                        + ")";
            }
            if (why != null) {
                return why;
            }
        }
        return null;
    }

    /** mkfs.xfs's {@code -x key=value,...}: every key from {@code allowed}, each at most once. */
    private static Rule subOptions(String flag, Map<String, Set<String>> allowed) {
        return v -> {
            Set<String> seen = new HashSet<>();
            for (String item : v.split(",", -1)) {
                int eq = item.indexOf('=');
                String key = eq < 0 ? item : item.substring(0, eq);
                if (!allowed.containsKey(key)) {
                    return flag + " suboption " + Names.quote(key) + " is not on the list (allowed: "
                            + String.join(", ", new TreeSet<>(allowed.keySet())) + ")";
                }
                if (eq < 0) {
                    return key + " needs =value";
                }
                if (!seen.add(key)) {
                    return key + " is given twice";
                }
                String why = value(allowed.get(key), item.substring(eq + 1));
                if (why != null) {
                    return key + ": " + why;
                }
            }
            return null;
        };
    }

    /** An empty set of values means a whole number. */
    private static String value(Set<String> allowed, String v) {
        if (allowed.isEmpty()) {
            return INTEGER.matcher(v).matches() ? null : Names.quote(v) + " is not a whole number";
        }
        return allowed.contains(v) ? null : Names.quote(v) + " is not one of " + String.join(", ", new TreeSet<>(allowed));
    }
}
