package io.ferry.model;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.deser.std.StdDeserializer;
import java.io.IOException;
import java.math.BigDecimal;

/**
 * Reads a byte-size field from either a JSON number ({@code 10737418240}) or a string in any form
 * {@link Sizes#parseNonNegative(String)} accepts ({@code "10Gi"}). Operators type these values by
 * hand, and a string with a unit is far less error-prone than counting digits. Values are always
 * written back as plain numbers of bytes.
 *
 * <p>Range rules (positive, non-negative, at most 1 PiB) are left to the record constructors,
 * which know what the field means. JSON {@code null} reads as absent.
 */
public final class SizeDeserializer extends StdDeserializer<Long> {
    private static final long serialVersionUID = 1L;

    public SizeDeserializer() {
        super(Long.class);
    }

    @Override
    public Long deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
        JsonToken t = p.currentToken();
        if (t == JsonToken.VALUE_NUMBER_INT) {
            if (p.getNumberType() != JsonParser.NumberType.INT && p.getNumberType() != JsonParser.NumberType.LONG) {
                throw new ValidationException(p.getText() + " is too large to be a size in bytes");
            }
            return p.getLongValue();
        }
        if (t == JsonToken.VALUE_NUMBER_FLOAT) {
            BigDecimal d = p.getDecimalValue();
            try {
                return d.longValueExact();
            } catch (ArithmeticException e) {
                throw new ValidationException(p.getText() + " is not a whole number of bytes that fits in 64 bits");
            }
        }
        if (t == JsonToken.VALUE_STRING) {
            return Sizes.parseNonNegative(p.getText());
        }
        throw new ValidationException("expected a number of bytes or a size string such as \"10Gi\", got "
                + describe(t));
    }

    static String describe(JsonToken t) {
        if (t == null) {
            return "nothing";
        }
        switch (t) {
            case START_OBJECT:
                return "an object";
            case START_ARRAY:
                return "an array";
            case VALUE_TRUE:
            case VALUE_FALSE:
                return "a boolean";
            case VALUE_NULL:
                return "null";
            case VALUE_STRING:
                return "a string";
            case VALUE_NUMBER_INT:
            case VALUE_NUMBER_FLOAT:
                return "a number";
            default:
                return t.asString() == null ? t.name() : t.asString();
        }
    }
}
