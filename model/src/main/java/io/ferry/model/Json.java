package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.cfg.CoercionAction;
import com.fasterxml.jackson.databind.cfg.CoercionInputShape;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.type.LogicalType;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.temporal.Temporal;
import java.util.Collection;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;

/**
 * The one JSON codec for every value Ferry stores in etcd.
 *
 * <p>Decoding is strict because operators type these values by hand with {@code etcdctl}: an
 * unknown field (usually a typo) is an error, not silently ignored; duplicate fields, trailing
 * garbage, strings where numbers belong (other than sizes), fractions where integers belong and
 * numbers where enum names belong are errors too. Enum values are matched case-insensitively;
 * size fields accept strings such as {@code "10Gi"}; timestamps are ISO-8601 strings.
 *
 * <p>Encoding is canonical: fields in declaration order, map entries and sets sorted, nulls
 * omitted, no whitespace. Equal values therefore encode to equal bytes, which lets writers skip
 * writes that would change nothing.
 *
 * <p>All methods are thread-safe.
 */
public final class Json {
    /** Largest value accepted, in bytes. etcd's default request limit is 1.5 MiB; our values are tiny. */
    public static final int MAX_VALUE_BYTES = 1 << 20;
    /** Deepest nesting accepted; real values nest three levels at most. */
    public static final int MAX_NESTING_DEPTH = 32;

    private static final JsonMapper MAPPER = JsonMapper.builder(JsonFactory.builder()
                    .streamReadConstraints(StreamReadConstraints.builder()
                            .maxNestingDepth(MAX_NESTING_DEPTH)
                            .maxNumberLength(64)
                            .maxStringLength(MAX_VALUE_BYTES)
                            .build())
                    .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                    .build())
            .addModule(new JavaTimeModule())
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .enable(DeserializationFeature.FAIL_ON_NUMBERS_FOR_ENUMS)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY)
            .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
            .disable(DeserializationFeature.ADJUST_DATES_TO_CONTEXT_TIME_ZONE)
            .enable(MapperFeature.ACCEPT_CASE_INSENSITIVE_ENUMS)
            .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
            .disable(SerializationFeature.FAIL_ON_EMPTY_BEANS)
            .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS)
            .defaultPropertyInclusion(JsonInclude.Value.construct(JsonInclude.Include.NON_NULL,
                    JsonInclude.Include.NON_NULL))
            .withCoercionConfig(LogicalType.Textual, c -> c
                    .setCoercion(CoercionInputShape.Integer, CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.Float, CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.Boolean, CoercionAction.Fail))
            .withCoercionConfig(LogicalType.Integer, c -> c
                    .setCoercion(CoercionInputShape.String, CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.Float, CoercionAction.Fail))
            .withCoercionConfig(LogicalType.Float, c -> c
                    .setCoercion(CoercionInputShape.String, CoercionAction.Fail))
            .withCoercionConfig(LogicalType.Boolean, c -> c
                    .setCoercion(CoercionInputShape.String, CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.Integer, CoercionAction.Fail))
            .withCoercionConfig(LogicalType.DateTime, c -> c
                    .setCoercion(CoercionInputShape.Integer, CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.Float, CoercionAction.Fail))
            .build();

    private Json() {
    }

    /**
     * Decodes and validates a value.
     *
     * @return a valid, non-null instance of {@code type}
     * @throws ValidationException for every problem with {@code json}: too large, not JSON,
     *                             truncated, too deeply nested, wrong types, unknown or missing
     *                             fields, invalid values, or a {@code schemaVersion} newer than
     *                             {@link Schema#CURRENT_VERSION}. No other exception escapes for
     *                             bad input.
     * @throws NullPointerException if {@code type} is null (a programming error)
     */
    public static <T> T decode(byte[] json, Class<T> type) {
        Objects.requireNonNull(type, "type");
        if (json == null) {
            throw new ValidationException("value is missing");
        }
        if (json.length > MAX_VALUE_BYTES) {
            throw new ValidationException("value is " + json.length + " bytes; the limit is " + MAX_VALUE_BYTES
                    + " (1 MiB)");
        }
        if (json.length == 0) {
            throw new ValidationException("value is empty; expected a JSON object");
        }
        T value;
        try {
            value = MAPPER.readValue(json, type);
        } catch (StreamConstraintsException e) {
            throw new ValidationException("value exceeds a parser limit: " + firstLine(e.getOriginalMessage()));
        } catch (JsonMappingException e) {
            throw translate(e, type);
        } catch (JsonProcessingException e) {
            throw new ValidationException("value is not valid JSON" + at(e.getLocation()) + ": "
                    + firstLine(e.getOriginalMessage()));
        } catch (IOException e) {
            // Reading from a byte array cannot fail with I/O; keep the contract anyway.
            throw new ValidationException("value could not be read: " + e.getMessage());
        } catch (ValidationException e) {
            throw e;
        } catch (StackOverflowError e) {
            throw new ValidationException("value is nested too deeply");
        } catch (RuntimeException e) {
            ValidationException ve = findValidation(e);
            if (ve != null) {
                throw ve;
            }
            throw new ValidationException("value could not be decoded as " + type.getSimpleName() + ": " + e);
        }
        if (value == null) {
            throw new ValidationException("value is JSON null; expected " + expected(type));
        }
        return value;
    }

    /** Same as {@link #decode(byte[], Class)} for a string. */
    public static <T> T decode(String json, Class<T> type) {
        Objects.requireNonNull(type, "type");
        if (json == null) {
            throw new ValidationException("value is missing");
        }
        // A char is at most 3 UTF-8 bytes: skip encoding absurdly large strings only to reject them.
        if (json.length() > MAX_VALUE_BYTES) {
            throw new ValidationException("value is more than " + MAX_VALUE_BYTES + " bytes; the limit is 1 MiB");
        }
        return decode(json.getBytes(StandardCharsets.UTF_8), type);
    }

    /** Canonical compact JSON of a model value, as UTF-8. */
    public static byte[] encode(Object value) {
        try {
            return MAPPER.writeValueAsBytes(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot encode " + value.getClass().getName() + ": " + e.getMessage(), e);
        }
    }

    /** Canonical compact JSON of a model value. */
    public static String encodeToString(Object value) {
        return new String(encode(value), StandardCharsets.UTF_8);
    }

    private static ValidationException translate(JsonMappingException e, Class<?> root) {
        String path = path(e);
        ValidationException ve = findValidation(e);
        if (ve != null) {
            if (path.isEmpty()) {
                return ve;
            }
            if (ve.field() == null) {
                // Thrown by a deserializer of this very field (size, enum): name the field.
                return new ValidationException(path, path + ": " + ve.getMessage());
            }
            // Thrown by a nested record's constructor, whose message names its own field.
            return new ValidationException(path + "." + ve.field(), "in " + path + ": " + ve.getMessage());
        }
        if (e instanceof UnrecognizedPropertyException u) {
            String name = u.getPropertyName();
            String full = path.isEmpty() ? name : path;
            TreeSet<String> known = new TreeSet<>();
            if (u.getKnownPropertyIds() != null) {
                u.getKnownPropertyIds().forEach(k -> known.add(String.valueOf(k)));
            }
            return new ValidationException(full, "field " + Names.quote(full) + " is not known (known: "
                    + String.join(", ", known) + ")");
        }
        if (e instanceof InvalidFormatException f) {
            return new ValidationException(path.isEmpty() ? null : path, (path.isEmpty() ? "value" : path)
                    + ": " + describeValue(f.getValue()) + " is not " + expected(f.getTargetType()));
        }
        if (e instanceof MismatchedInputException m) {
            Class<?> target = m.getTargetType() == null ? root : m.getTargetType();
            String msg = m.getOriginalMessage() == null ? "" : m.getOriginalMessage();
            if (msg.contains("Duplicate field")) {
                return new ValidationException(path.isEmpty() ? null : path, firstLine(msg) + at(m.getLocation()));
            }
            if (msg.contains("Trailing token")) {
                return new ValidationException("value has data after the end of the JSON value" + at(m.getLocation()));
            }
            if (path.isEmpty()) {
                return new ValidationException("value: expected " + expected(target) + at(m.getLocation()));
            }
            return new ValidationException(path, path + ": expected " + expected(target) + at(m.getLocation()));
        }
        return new ValidationException(path.isEmpty() ? null : path, (path.isEmpty() ? "value" : path) + ": "
                + firstLine(e.getOriginalMessage()) + at(e.getLocation()));
    }

    private static ValidationException findValidation(Throwable t) {
        for (int i = 0; t != null && i < 20; i++, t = t.getCause()) {
            if (t instanceof ValidationException v) {
                return v;
            }
        }
        return null;
    }

    private static String path(JsonMappingException e) {
        StringBuilder b = new StringBuilder();
        for (JsonMappingException.Reference r : e.getPath()) {
            if (r.getFieldName() != null) {
                if (b.length() > 0) {
                    b.append('.');
                }
                b.append(r.getFieldName());
            } else if (r.getIndex() >= 0) {
                b.append('[').append(r.getIndex()).append(']');
            }
        }
        return b.toString();
    }

    private static String expected(Class<?> type) {
        if (type == null) {
            return "a different value";
        }
        if (type == long.class || type == Long.class || type == int.class || type == Integer.class) {
            return "an integer";
        }
        if (type == double.class || type == Double.class) {
            return "a number";
        }
        if (type == boolean.class || type == Boolean.class) {
            return "true or false";
        }
        if (type == String.class || type.isEnum()) {
            return "a string";
        }
        if (Temporal.class.isAssignableFrom(type)) {
            return "an ISO-8601 UTC timestamp string such as \"2026-11-02T10:15:30Z\"";
        }
        if (Collection.class.isAssignableFrom(type) || type.isArray()) {
            return "an array";
        }
        if (Map.class.isAssignableFrom(type) || type.isRecord()) {
            return "an object";
        }
        return "a " + type.getSimpleName();
    }

    private static String describeValue(Object v) {
        return v instanceof String s ? Names.quote(s) : String.valueOf(v);
    }

    private static String at(JsonLocation loc) {
        if (loc == null || loc.getLineNr() < 1) {
            return "";
        }
        return " (line " + loc.getLineNr() + ", column " + loc.getColumnNr() + ")";
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "unknown problem";
        }
        int nl = s.indexOf('\n');
        String line = nl < 0 ? s : s.substring(0, nl);
        return line.length() > 300 ? line.substring(0, 300) + "..." : line;
    }
}
