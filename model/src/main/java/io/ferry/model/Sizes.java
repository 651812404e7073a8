package io.ferry.model;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Parsing, formatting and alignment of byte sizes.
 *
 * <p>Accepted forms (units are case-insensitive, whitespace between number and unit is allowed):
 * <ul>
 * <li>plain bytes: {@code 1073741824}, optionally with {@code B};</li>
 * <li>binary units: {@code Ki Mi Gi Ti Pi}, {@code KiB MiB GiB TiB PiB} and the single letters
 * {@code K M G T P}. Single letters are binary ({@code 1T} = 2<sup>40</sup>), as in LVM and most
 * storage tools, because that is what people typing them mean;</li>
 * <li>decimal units with a {@code B}: {@code kB MB GB TB PB} are powers of 1000.</li>
 * </ul>
 * A fraction such as {@code 1.5Gi} is accepted when the result is a whole number of bytes.
 */
public final class Sizes {
    public static final long KIB = 1L << 10;
    public static final long MIB = 1L << 20;
    public static final long GIB = 1L << 30;
    public static final long TIB = 1L << 40;
    public static final long PIB = 1L << 50;

    /**
     * Volume sizes are multiples of 4 MiB, LVM's default extent size. A request that is not a
     * multiple is rounded up, never down, so the user always gets at least what was asked for.
     */
    public static final long ALIGNMENT = 4 * MIB;
    /** Largest volume Ferry creates: 1 PiB. */
    public static final long MAX_VOLUME_BYTES = PIB;

    private static final Pattern FORM = Pattern.compile("([0-9]+(?:\\.[0-9]+)?)\\s*([A-Za-z]*)");
    private static final String FORMS = "use bytes (1073741824) or a number with a unit: Ki Mi Gi Ti Pi or K M G T P"
            + " (powers of 1024), kB MB GB TB PB (powers of 1000), e.g. \"10Gi\" or \"1.5Ti\"";
    private static final String[] BINARY_UNITS = {"Pi", "Ti", "Gi", "Mi", "Ki"};
    private static final long[] BINARY_FACTORS = {PIB, TIB, GIB, MIB, KIB};

    private Sizes() {
    }

    /** Parses a positive size. Zero, negatives, overflow and garbage throw {@link ValidationException}. */
    public static long parse(String text) {
        long v = parseNonNegative(text);
        if (v == 0) {
            throw new ValidationException("size " + Names.quote(text) + " is zero; sizes must be positive");
        }
        return v;
    }

    /** Like {@link #parse(String)} but accepts zero (for fields such as reserved or free bytes). */
    public static long parseNonNegative(String text) {
        if (text == null) {
            throw new ValidationException("size is missing");
        }
        String s = text.strip();
        if (s.isEmpty()) {
            throw new ValidationException("size is empty; " + FORMS);
        }
        if (s.length() > 40) {
            throw new ValidationException("size " + Names.quote(text) + " is too long to be a size; " + FORMS);
        }
        if (s.startsWith("-")) {
            throw new ValidationException("size " + Names.quote(text) + " is negative; sizes must be positive");
        }
        Matcher m = FORM.matcher(s);
        if (!m.matches()) {
            throw new ValidationException("size " + Names.quote(text) + " is not a size; " + FORMS);
        }
        long factor = factor(m.group(2));
        if (factor == 0) {
            throw new ValidationException("size " + Names.quote(text) + " has the unknown unit "
                    + Names.quote(m.group(2)) + "; " + FORMS);
        }
        BigDecimal bytes = new BigDecimal(m.group(1)).multiply(BigDecimal.valueOf(factor));
        BigInteger whole;
        try {
            whole = bytes.toBigIntegerExact();
        } catch (ArithmeticException e) {
            throw new ValidationException("size " + Names.quote(text) + " is " + bytes.stripTrailingZeros()
                    .toPlainString() + " bytes, which is not a whole number of bytes");
        }
        if (whole.bitLength() > 63) {
            throw new ValidationException("size " + Names.quote(text) + " is too large (the largest size is "
                    + Long.MAX_VALUE + " bytes)");
        }
        return whole.longValueExact();
    }

    /** Factor of a unit, 0 if unknown. */
    private static long factor(String unit) {
        switch (unit.toUpperCase(Locale.ROOT)) {
            case "":
            case "B":
                return 1;
            case "K": case "KI": case "KIB":
                return KIB;
            case "M": case "MI": case "MIB":
                return MIB;
            case "G": case "GI": case "GIB":
                return GIB;
            case "T": case "TI": case "TIB":
                return TIB;
            case "P": case "PI": case "PIB":
                return PIB;
            case "KB":
                return 1_000L;
            case "MB":
                return 1_000_000L;
            case "GB":
                return 1_000_000_000L;
            case "TB":
                return 1_000_000_000_000L;
            case "PB":
                return 1_000_000_000_000_000L;
            default:
                return 0;
        }
    }

    /**
     * Formats a size for humans with the largest binary unit that represents it exactly, e.g.
     * {@code 10Gi}, {@code 1.5Gi}, {@code 4Mi}; sizes that no unit represents well stay in bytes.
     * {@code parse(format(x)) == x} for every positive {@code x}.
     */
    public static String format(long bytes) {
        if (bytes <= 0) {
            return Long.toString(bytes);
        }
        for (int i = 0; i < BINARY_FACTORS.length; i++) {
            long f = BINARY_FACTORS[i];
            if (bytes < f) {
                continue;
            }
            if (bytes % f == 0) {
                return bytes / f + BINARY_UNITS[i];
            }
            // Fractions only below 1024 units and with at most 3 digits, so "1.5Gi" but not "976562.5Ki".
            if (bytes / f < 1024) {
                BigDecimal q = BigDecimal.valueOf(bytes).divide(BigDecimal.valueOf(f));
                if (q.stripTrailingZeros().scale() <= 3) {
                    return q.stripTrailingZeros().toPlainString() + BINARY_UNITS[i];
                }
            }
        }
        return Long.toString(bytes);
    }

    /**
     * Rounds up to the next multiple of {@link #ALIGNMENT}; 0 stays 0.
     *
     * @throws ValidationException if {@code bytes} is negative or the result would overflow
     */
    public static long alignUp(long bytes) {
        if (bytes < 0) {
            throw new ValidationException("size " + bytes + " is negative");
        }
        if (bytes > Long.MAX_VALUE - (ALIGNMENT - 1)) {
            throw new ValidationException("size " + bytes + " is too large to round up to a multiple of 4Mi");
        }
        return (bytes + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    }

    /**
     * Validates a requested volume size (positive, at most {@link #MAX_VOLUME_BYTES}) and returns it
     * rounded up to {@link #ALIGNMENT}.
     */
    public static long volumeSize(long requested) {
        if (requested <= 0) {
            throw new ValidationException("sizeBytes", "sizeBytes: " + requested + " is not positive");
        }
        if (requested > MAX_VOLUME_BYTES) {
            throw new ValidationException("sizeBytes", "sizeBytes: " + requested + " (" + format(requested)
                    + ") exceeds the largest volume size, 1Pi");
        }
        return alignUp(requested);
    }
}
