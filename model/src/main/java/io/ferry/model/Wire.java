package io.ferry.model;

import java.util.Arrays;
import java.util.Locale;
import java.util.function.Function;
import java.util.stream.Collectors;

/** Case-insensitive lookup of enum constants by their JSON value. */
final class Wire {
    private Wire() {
    }

    static <E extends Enum<E>> E parse(Class<E> type, Function<E, String> wire, String value, String what) {
        E[] all = type.getEnumConstants();
        String allowed = Arrays.stream(all).map(wire).collect(Collectors.joining(", "));
        if (value == null) {
            throw new ValidationException(what + " is missing (allowed: " + allowed + ")");
        }
        String v = value.strip().toLowerCase(Locale.ROOT);
        for (E e : all) {
            if (wire.apply(e).toLowerCase(Locale.ROOT).equals(v)) {
                return e;
            }
        }
        throw new ValidationException(Names.quote(value) + " is not a known " + what + " (allowed: " + allowed + ")");
    }
}
