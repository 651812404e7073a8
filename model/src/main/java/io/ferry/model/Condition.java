package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.regex.Pattern;

/**
 * One observation about a pool, in the style of Kubernetes conditions.
 *
 * @param type    CamelCase name of the aspect, e.g. {@link #CONFIG_VALID}
 * @param status  whether the aspect holds
 * @param reason  CamelCase machine-readable cause, e.g. {@code VolumeGroupNotFound}
 * @param message human-readable detail, may be null
 */
public record Condition(String type, boolean status, String reason, String message) {
    /** The pool's config key decoded and validated. False: the message holds the decode error. */
    public static final String CONFIG_VALID = "ConfigValid";
    /** The pool's backing storage exists and answers. */
    public static final String AVAILABLE = "Available";
    /** Thin data or metadata usage is below the high watermark. */
    public static final String SPACE_OK = "SpaceOk";
    /** A thin pool zeroes the chunks it provisions, so a new volume never shows an earlier one's bytes. */
    public static final String ZEROES_NEW_BLOCKS = "ZeroesNewBlocks";

    private static final Pattern CAMEL = Pattern.compile("[A-Z][A-Za-z0-9]{0,63}");

    public Condition {
        camel(Check.required(type, "type"), "type");
        camel(Check.required(reason, "reason"), "reason");
        Check.text(message, "message", Check.MAX_MESSAGE);
    }

    @JsonCreator
    static Condition fromJson(
            @JsonProperty("type") String type,
            @JsonProperty("status") Boolean status,
            @JsonProperty("reason") String reason,
            @JsonProperty("message") String message) {
        return new Condition(type, Check.required(status, "status"), reason, message);
    }

    public static Condition of(String type, boolean status, String reason, String message) {
        return new Condition(type, status, reason, message);
    }

    private static void camel(String v, String field) {
        if (!CAMEL.matcher(v).matches()) {
            throw new ValidationException(field, field + ": " + Names.quote(v) + " must be a CamelCase word"
                    + " (a capital letter, then letters and digits, at most 64), e.g. VolumeGroupNotFound");
        }
    }
}
