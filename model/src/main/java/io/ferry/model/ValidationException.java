package io.ferry.model;

/**
 * A value, name or size that Ferry refuses to accept.
 *
 * <p>This is the only exception type that {@link Json#decode(byte[], Class)}, the validators in
 * {@link Names}, {@link Nqn} and {@link Sizes}, and the constructors of the model records throw for
 * bad input. Its message is written for the operator who typed the value: it names the offending
 * field and says what is wrong and what is allowed. Readers that hit it log it, count it and skip
 * the key; they never crash.
 */
public final class ValidationException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String field;

    /** A problem not tied to one field (e.g. the bytes are not JSON at all). */
    public ValidationException(String message) {
        this(null, message);
    }

    /**
     * @param field   dotted path of the offending field such as {@code source.volumeGroup} or
     *                {@code orphans[2].name}; may be null
     * @param message complete human-readable message, already naming the field where useful
     */
    public ValidationException(String field, String message) {
        super(message);
        this.field = field;
    }

    /** Dotted path of the offending field, or null when the problem concerns the whole value. */
    public String field() {
        return field;
    }

    /** Same message, with the field path recorded (used when a validator is reused for a field). */
    ValidationException withField(String newField) {
        ValidationException e = new ValidationException(newField, getMessage());
        e.setStackTrace(getStackTrace());
        return e;
    }
}
