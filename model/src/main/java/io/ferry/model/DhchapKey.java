package io.ferry.model;

import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import java.util.zip.CRC32;

/**
 * An NVMe in-band authentication (DH-HMAC-CHAP) secret in the representation nvme-cli and the
 * kernel exchange: {@code DHHC-1:<hh>:<base64 of the key followed by its CRC-32, little-endian>:}.
 * {@code hh} says how the key is transformed before use; Ferry writes {@code 00} (used as it is),
 * which lets one host key serve every target without binding it to an NQN here. The kernel
 * ({@code nvme_auth_extract_key}) refuses a key whose CRC does not match, so one checked here
 * fails before it reaches configfs or nvme-cli with a clear message.
 *
 * <p>The value is a secret: {@link #toString()} never shows it; only {@link #value()} does.
 */
public final class DhchapKey {

    /** Key length Ferry generates: 32 bytes, the size of an HMAC-SHA-256 output. */
    public static final int KEY_BYTES = 32;
    private static final String PREFIX = "DHHC-1:";
    private static final SecureRandom RANDOM = new SecureRandom();

    private final String value;

    private DhchapKey(String value) {
        this.value = value;
    }

    /** A new random 32-byte key, untransformed ({@code 00}). */
    public static DhchapKey generate() {
        byte[] key = new byte[KEY_BYTES];
        RANDOM.nextBytes(key);
        return of(key);
    }

    /** The representation of these key bytes (32, 48 or 64), untransformed. */
    public static DhchapKey of(byte[] key) {
        if (key.length != 32 && key.length != 48 && key.length != 64) {
            throw new IllegalArgumentException("a DH-HMAC-CHAP key is 32, 48 or 64 bytes, not " + key.length);
        }
        long crc = crc32(key, key.length);
        byte[] withCrc = Arrays.copyOf(key, key.length + 4);
        for (int i = 0; i < 4; i++) {
            withCrc[key.length + i] = (byte) (crc >>> (8 * i));
        }
        return new DhchapKey(PREFIX + "00:" + Base64.getEncoder().encodeToString(withCrc) + ":");
    }

    /**
     * Parses and checks a secret (any transformation {@code 00}-{@code 03}). The message of the
     * exception never repeats the value.
     *
     * @param field the name to report a problem under
     */
    public static DhchapKey parse(String value, String field) {
        if (value == null) {
            throw new ValidationException(field, field + ": is required");
        }
        String[] parts = value.split(":", -1);
        if (parts.length != 4 || !"DHHC-1".equals(parts[0]) || !parts[1].matches("0[0-3]") || !parts[3].isEmpty()) {
            throw new ValidationException(field, field + ": is not a DH-HMAC-CHAP secret of the form"
                    + " DHHC-1:<00-03>:<base64>:");
        }
        byte[] decoded;
        try {
            decoded = Base64.getDecoder().decode(parts[2]);
        } catch (IllegalArgumentException e) {
            throw new ValidationException(field, field + ": its key part is not base64");
        }
        int keyLength = decoded.length - 4;
        if (keyLength != 32 && keyLength != 48 && keyLength != 64) {
            throw new ValidationException(field, field + ": holds a key of " + Math.max(0, keyLength)
                    + " bytes; a DH-HMAC-CHAP key is 32, 48 or 64 bytes followed by its CRC-32");
        }
        long stored = 0;
        for (int i = 0; i < 4; i++) {
            stored |= (decoded[keyLength + i] & 0xffL) << (8 * i);
        }
        if (stored != crc32(decoded, keyLength)) {
            throw new ValidationException(field, field + ": its CRC-32 does not match its key (damaged or mistyped)");
        }
        return new DhchapKey(value);
    }

    /** True when {@code value} parses. */
    public static boolean isValid(String value) {
        try {
            parse(value, "key");
            return true;
        } catch (ValidationException e) {
            return false;
        }
    }

    private static long crc32(byte[] bytes, int length) {
        CRC32 crc = new CRC32();
        crc.update(bytes, 0, length);
        return crc.getValue();
    }

    /** The secret itself, for configfs, nvme-cli and etcd only. */
    public String value() {
        return value;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DhchapKey k && k.value.equals(value);
    }

    @Override
    public int hashCode() {
        return value.hashCode();
    }

    @Override
    public String toString() {
        return "DHHC-1:**:<secret>:";
    }
}
