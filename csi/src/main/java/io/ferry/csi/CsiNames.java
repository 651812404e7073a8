package io.ferry.csi;

import io.ferry.model.Names;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;

/**
 * Maps CSI names (chosen by the CO, e.g. {@code pvc-<uuid>}) to Ferry volume and snapshot names.
 * A CSI name that already is a valid Ferry name is used as it is; any other is lowercased,
 * sanitized and suffixed with a short hash of the original, so the mapping is deterministic
 * (a retried CreateVolume finds the same volume) and distinct names stay distinct. The original
 * is recorded in the intent's {@code createdBy} ({@link #createdBy}) and checked on reuse.
 */
public final class CsiNames {

    static final String CREATED_BY_PREFIX = "csi:";
    private static final int HASH_CHARS = 10;

    private CsiNames() {
    }

    public static String ferryName(String csiName) {
        if (Names.isValidVolumeName(csiName)) {
            return csiName;
        }
        String cleaned = csiName.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9-]+", "-")
                .replaceAll("-{2,}", "-").replaceAll("^-+", "").replaceAll("-+$", "");
        int keep = Names.MAX_NAME_LENGTH - HASH_CHARS - 1;
        if (cleaned.length() > keep) {
            cleaned = cleaned.substring(0, keep).replaceAll("-+$", "");
        }
        String hash = hash(csiName);
        return cleaned.isEmpty() ? "v" + hash : cleaned + "-" + hash;
    }

    /** The value kept in {@code createdBy} so a reused name can be traced to the CSI name that made it. */
    public static String createdBy(String csiName) {
        String value = CREATED_BY_PREFIX + csiName;
        return value.length() <= 253 ? value : CREATED_BY_PREFIX + "sha256:" + hash(csiName);
    }

    /** True unless the intent was made by the plugin for a different CSI name (a hash collision). */
    static boolean sameOrigin(String createdBy, String csiName) {
        return createdBy == null || !createdBy.startsWith(CREATED_BY_PREFIX) || createdBy.equals(createdBy(csiName));
    }

    static String hash(String text) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest).substring(0, HASH_CHARS);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
