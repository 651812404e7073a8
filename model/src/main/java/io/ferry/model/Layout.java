package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;

/**
 * How a volume's bytes are laid out over its parts. Every part is an ordinary Ferry volume placed
 * on one pool; the consumer assembles the parts into the one device it stages (docs/layouts.md).
 */
public enum Layout {
    /** One part: the volume is the part (today's only layout before issue #17). */
    SINGLE("single", 1, 1, 1),
    /**
     * Segments end to end, for a volume larger than any one pool; every segment is needed, so
     * losing any one node holding a segment makes the volume unreachable. The intent's part count
     * is a bound: the controller uses as few segments as hold the volume, one if a pool has room.
     */
    LINEAR("linear", 1, 4, 2),
    /**
     * Equal stripes on as many distinct pools, interleaved in {@link #STRIPE_CHUNK_BYTES} chunks, for
     * bandwidth from several disks; like {@link #LINEAR}, every stripe is needed. Its size is a
     * multiple of the stripe count times 4 MiB, so that every stripe is a whole volume of its own.
     */
    STRIPED("striped", 2, 4, 2),
    /**
     * Legs that each hold the whole volume, in distinct failure domains; the volume stays usable
     * while at least one leg is reachable.
     */
    MIRROR("mirror", 2, 3, 2);

    /**
     * The chunk a striped volume interleaves its stripes by: LVM's default stripe size, small enough
     * that a database's 8-64 KiB writes still spread, large enough that a sequential read fills each
     * disk's request queue. It divides every stripe, a multiple of 4 MiB.
     */
    public static final long STRIPE_CHUNK_BYTES = 64 * 1024;

    private final String value;
    private final int minParts;
    private final int maxParts;
    private final int defaultParts;

    Layout(String value, int minParts, int maxParts, int defaultParts) {
        this.value = value;
        this.minParts = minParts;
        this.maxParts = maxParts;
        this.defaultParts = defaultParts;
    }

    @JsonValue
    public String value() {
        return value;
    }

    public int minParts() {
        return minParts;
    }

    public int maxParts() {
        return maxParts;
    }

    /** The part count of an intent that names the layout without one. */
    public int defaultParts() {
        return defaultParts;
    }

    /** True for the layouts whose volume is assembled from several parts on the consumer. */
    public boolean multiPart() {
        return this != SINGLE;
    }

    /** Parses a JSON value case-insensitively; unknown values throw {@link ValidationException}. */
    @JsonCreator
    public static Layout parse(String value) {
        return Wire.parse(Layout.class, Layout::value, value, "layout");
    }

    @Override
    public String toString() {
        return value;
    }
}
