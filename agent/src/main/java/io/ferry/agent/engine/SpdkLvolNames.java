package io.ferry.agent.engine;

import io.ferry.model.Names;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Optional;

/**
 * How the SPDK engine names lvols, and reads a name back: {@code <marker>_<volume>},
 * {@code <marker>_<snapshot>.snap} and {@code <marker>_<volume>.origin}, where the marker is a
 * digest of the cluster id; the same without a marker for lvols made before cluster ids. A name too
 * long for SPDK is shortened with a digest of the full name, so it stays unique and can be checked.
 *
 * <p>Ownership marker: the lvol's name. Ferry's lvols are named {@code <marker>_<name>}, where the
 * marker is the first {@value #MARKER_LENGTH} hex digits of the SHA-256 of this cluster's id:
 * volume {@code <marker>_<vol>}, snapshot {@code <marker>_<snap>.snap}, and
 * {@code <marker>_<vol>.origin} for the snapshot a volume clone is cut from. Upstream SPDK (through
 * 24.x) has no RPC to put anything else on an lvol (xattr RPCs exist only in forks), and the full id
 * (up to 64 characters) does not fit SPDK's 63-byte names, hence a digest: two clusters share a
 * marker with a chance of 2^-48, and a hash rather than a prefix of the id because ids need not be
 * random UUIDs. Ferry names are DNS labels, so '_' and '.' never appear in them and the parts
 * cannot be confused. A name that would pass 63 bytes keeps its first characters and gets an
 * 8-hex-digit hash of the full name before the suffix (deterministic, but inventory cannot map it
 * back, so such objects are reported as neither volumes nor snapshots).
 */
final class SpdkLvolNames {

    /** SPDK_LVOL_NAME_MAX is 64 bytes including the terminating NUL. */
    static final int MAX_LVOL_NAME = 63;
    static final String SNAPSHOT_SUFFIX = ".snap";
    static final String ORIGIN_SUFFIX = ".origin";
    /** Hex digits of the cluster marker; 13 of the 63 bytes with its separator. */
    static final int MARKER_LENGTH = 12;
    static final char MARKER_SEPARATOR = '_';

    /** The marker of cluster {@code clusterId} in lvol names. */
    public static String marker(String clusterId) {
        return sha256Hex(clusterId).substring(0, MARKER_LENGTH);
    }

    /** A volume's lvol as named before cluster ids (no marker). */
    public static String volumeLvol(String volume) {
        return lvolName("", Names.volumeName(volume), "");
    }

    /** A snapshot's lvol as named before cluster ids (no marker). */
    public static String snapshotLvol(String snapshot) {
        return lvolName("", Names.snapshotName(snapshot), SNAPSHOT_SUFFIX);
    }

    /** The origin of a volume clone as named before cluster ids (no marker). */
    public static String originLvol(String volume) {
        return lvolName("", Names.volumeName(volume), ORIGIN_SUFFIX);
    }

    static String lvolName(String prefix, String base, String suffix) {
        String full = prefix + base + suffix;
        if (full.length() <= MAX_LVOL_NAME) {
            return full;
        }
        String hash = sha256Hex(base).substring(0, 8);
        return prefix + base.substring(0, MAX_LVOL_NAME - prefix.length() - suffix.length() - hash.length() - 1)
                + "-" + hash + suffix;
    }

    /** What an lvol name says: whose it is (null marker: before cluster ids), what it is, and for which name. */
    record ParsedLvol(String marker, Kind kind, String name) {
        enum Kind { VOLUME, SNAPSHOT, ORIGIN }
    }

    /** Empty for a name Ferry does not make (somebody else's lvol, or a shortened name). */
    static Optional<ParsedLvol> parse(String lvol) {
        String marker = null;
        String rest = lvol;
        if (lvol.length() > MARKER_LENGTH + 1 && lvol.charAt(MARKER_LENGTH) == MARKER_SEPARATOR
                && lvol.substring(0, MARKER_LENGTH).matches("[0-9a-f]+")) {
            marker = lvol.substring(0, MARKER_LENGTH);
            rest = lvol.substring(MARKER_LENGTH + 1);
        }
        String prefix = marker == null ? "" : marker + MARKER_SEPARATOR;
        if (rest.endsWith(SNAPSHOT_SUFFIX)) {
            String base = strip(rest, SNAPSHOT_SUFFIX);
            if (Names.isValidSnapshotName(base) && lvolName(prefix, base, SNAPSHOT_SUFFIX).equals(lvol)) {
                return Optional.of(new ParsedLvol(marker, ParsedLvol.Kind.SNAPSHOT, base));
            }
        } else if (rest.endsWith(ORIGIN_SUFFIX)) {
            String base = strip(rest, ORIGIN_SUFFIX);
            if (Names.isValidVolumeName(base) && lvolName(prefix, base, ORIGIN_SUFFIX).equals(lvol)) {
                return Optional.of(new ParsedLvol(marker, ParsedLvol.Kind.ORIGIN, base));
            }
        } else if (Names.isValidVolumeName(rest) && lvolName(prefix, rest, "").equals(lvol)) {
            return Optional.of(new ParsedLvol(marker, ParsedLvol.Kind.VOLUME, rest));
        }
        return Optional.empty();
    }

    static String strip(String lvol, String suffix) {
        return lvol.substring(0, lvol.length() - suffix.length());
    }

    static String sha256Hex(String s) {
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
            StringBuilder b = new StringBuilder();
            for (byte x : h) {
                b.append(String.format("%02x", x & 0xff));
            }
            return b.toString();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private SpdkLvolNames() {
    }
}
