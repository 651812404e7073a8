package io.ferry.model;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.BiFunction;
import java.util.function.Function;

/** Shared validation helpers for the records' constructors. Messages start with the field name. */
final class Check {
    static final int MAX_LABELS = 64;
    static final int MAX_MESSAGE = 4096;

    private Check() {
    }

    static <T> T required(T value, String field) {
        if (value == null) {
            throw new ValidationException(field, "missing required field \"" + field + "\"");
        }
        return value;
    }

    static <T> T orDefault(T value, T dflt) {
        return value == null ? dflt : value;
    }

    static long positive(long value, String field) {
        if (value <= 0) {
            throw new ValidationException(field, field + ": " + value + " is not positive");
        }
        return value;
    }

    static long nonNegative(long value, String field) {
        if (value < 0) {
            throw new ValidationException(field, field + ": " + value + " is negative");
        }
        return value;
    }

    static int range(int value, int min, int max, String field) {
        if (value < min || value > max) {
            throw new ValidationException(field, field + ": " + value + " is out of range (allowed " + min + ".."
                    + max + ")");
        }
        return value;
    }

    static double range(double value, double min, double max, String field) {
        if (!Double.isFinite(value) || value < min || value > max) {
            throw new ValidationException(field, field + ": " + value + " is out of range (allowed " + min + ".."
                    + max + ")");
        }
        return value;
    }

    static Double rangeOrNull(Double value, double min, double max, String field) {
        return value == null ? null : range(value, min, max, field);
    }

    /** Runs a validator that throws without a field, attaching the field path. */
    static <T> T field(String field, T value, Function<T, T> validator) {
        try {
            return validator.apply(value);
        } catch (ValidationException e) {
            throw e.field() == null ? e.withField(field) : e;
        }
    }

    static <T> T nullable(String field, T value, Function<T, T> validator) {
        return value == null ? null : field(field, value, validator);
    }

    /**
     * Free text (messages, descriptions): bounded and free of control characters other than
     * newline and tab, so that logs and terminals that print it cannot be spoofed.
     */
    static String text(String value, String field, int max) {
        if (value == null) {
            return null;
        }
        if (value.length() > max) {
            throw new ValidationException(field, field + ": is " + value.length() + " characters long; the limit is "
                    + max);
        }
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c != '\n' && c != '\t' && (Character.isISOControl(c) || c == '\u2028' || c == '\u2029')) {
                throw new ValidationException(field, field + ": contains the control character U+"
                        + String.format("%04X", (int) c) + " at index " + i);
            }
        }
        return value;
    }

    /**
     * A single token such as a version string or an identity: printable ASCII without spaces,
     * quotes or shell metacharacters.
     */
    static String token(String value, String field, int max) {
        if (value == null) {
            return null;
        }
        if (value.isEmpty() || value.length() > max) {
            throw new ValidationException(field, field + ": must be 1.." + max + " characters, got "
                    + value.length());
        }
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || "._:@+=,/-".indexOf(c) >= 0;
            if (!ok) {
                throw new ValidationException(field, field + ": " + Names.quote(value) + " contains "
                        + Names.describe(c) + "; allowed are letters, digits and . _ : @ + = , / -");
            }
        }
        return value;
    }

    /** Absolute, normalized path without '..' segments or characters a shell or log would mangle. */
    static String absolutePath(String value, String field) {
        if (value == null) {
            return null;
        }
        if (value.isEmpty() || value.charAt(0) != '/') {
            throw new ValidationException(field, field + ": " + Names.quote(value) + " is not an absolute path");
        }
        if (value.length() > 4096) {
            throw new ValidationException(field, field + ": path is longer than 4096 characters");
        }
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || "/._:@+=,-".indexOf(c) >= 0;
            if (!ok) {
                throw new ValidationException(field, field + ": " + Names.quote(value) + " contains "
                        + Names.describe(c) + "; paths may contain letters, digits and / . _ : @ + = , -");
            }
        }
        for (String segment : value.split("/", -1)) {
            if (segment.equals("..") || segment.equals(".")) {
                throw new ValidationException(field, field + ": " + Names.quote(value)
                        + " contains a '" + segment + "' segment; write the normalized path");
            }
        }
        if (value.contains("//")) {
            throw new ValidationException(field, field + ": " + Names.quote(value)
                    + " contains '//'; write the normalized path");
        }
        return value;
    }

    static <T> List<T> list(List<T> in, String field, int max, BiFunction<T, String, T> element) {
        if (in == null || in.isEmpty()) {
            return List.of();
        }
        sizeLimit(in, field, max);
        List<T> out = new ArrayList<>(in.size());
        int i = 0;
        for (T t : in) {
            String path = field + "[" + i++ + "]";
            out.add(element.apply(required(t, path), path));
        }
        return Collections.unmodifiableList(out);
    }

    /** Sorted so that the JSON form, and therefore the stored bytes, do not depend on insertion order. */
    static <T extends Comparable<T>> SortedSet<T> sortedSet(Collection<T> in, String field, int max,
            BiFunction<T, String, T> element) {
        if (in == null || in.isEmpty()) {
            return Collections.emptySortedSet();
        }
        sizeLimit(in, field, max);
        TreeSet<T> out = new TreeSet<>();
        int i = 0;
        for (T t : in) {
            String path = field + "[" + i++ + "]";
            out.add(element.apply(required(t, path), path));
        }
        return Collections.unmodifiableSortedSet(out);
    }

    static <V> SortedMap<String, V> sortedMap(Map<String, V> in, String field, int max,
            BiFunction<String, String, String> key, BiFunction<V, String, V> value) {
        if (in == null || in.isEmpty()) {
            return Collections.emptySortedMap();
        }
        if (in.size() > max) {
            throw new ValidationException(field, field + ": has " + in.size() + " entries; the limit is " + max);
        }
        TreeMap<String, V> out = new TreeMap<>();
        for (Map.Entry<String, V> e : in.entrySet()) {
            String k = key.apply(required(e.getKey(), field), field);
            String path = field + "." + k;
            out.put(k, value.apply(required(e.getValue(), path), path));
        }
        return Collections.unmodifiableSortedMap(out);
    }

    static SortedMap<String, String> labels(Map<String, String> in, String field) {
        return sortedMap(in, field, MAX_LABELS,
                (k, f) -> field(f, k, Names::labelKey),
                (v, f) -> field(f, v, Names::labelValue));
    }

    static <T> void sizeLimit(Collection<T> in, String field, int max) {
        if (in.size() > max) {
            throw new ValidationException(field, field + ": has " + in.size() + " elements; the limit is " + max);
        }
    }

}
