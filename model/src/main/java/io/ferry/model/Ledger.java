package io.ferry.model;

import java.util.List;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;

/**
 * Space allocated from one pool, key {@code <prefix>/ledger/<pool>}, written by the controller
 * leader in the same etcd transaction as the placement it accounts for. For thin volumes the
 * allocation is the virtual size.
 *
 * @param allocatedBytes sum of {@code sizeBytes} of the placements on this pool (>= 0)
 * @param volumeCount    number of those placements (>= 0)
 */
public record Ledger(int schemaVersion, String pool, long allocatedBytes, int volumeCount) implements KeyNamed {

    public Ledger {
        Schema.check(schemaVersion);
        Check.field("pool", Check.required(pool, "pool"), Names::poolName);
        Check.nonNegative(allocatedBytes, "allocatedBytes");
        Check.nonNegative(volumeCount, "volumeCount");
    }

    @JsonCreator
    static Ledger fromJson(
            @JsonProperty("schemaVersion") Integer schemaVersion,
            @JsonProperty("pool") String pool,
            @JsonProperty("allocatedBytes") @JsonDeserialize(using = SizeDeserializer.class) Long allocatedBytes,
            @JsonProperty("volumeCount") Integer volumeCount) {
        return new Ledger(Schema.orDefault(schemaVersion), pool, Check.required(allocatedBytes, "allocatedBytes"),
                Check.required(volumeCount, "volumeCount"));
    }

    /** The ledger of a pool nothing has been placed on. */
    public static Ledger empty(String pool) {
        return new Ledger(Schema.CURRENT_VERSION, pool, 0, 0);
    }

    /** This ledger with one more volume of {@code bytes} (> 0); throws on overflow. */
    public Ledger add(long bytes) {
        if (volumeCount == Integer.MAX_VALUE) {
            throw new ValidationException("volumeCount", "volumeCount: overflows");
        }
        return new Ledger(Schema.CURRENT_VERSION, pool, plus(bytes), volumeCount + 1);
    }

    /**
     * This ledger with a volume already counted in it grown by {@code bytes} (> 0): the bytes
     * change, the number of volumes does not (counting it again would leave the count above zero
     * after the volume's one release). Throws on overflow.
     */
    public Ledger grow(long bytes) {
        if (volumeCount == 0) {
            throw new ValidationException("volumeCount", "ledger of pool " + pool + ": growing a volume, but the"
                    + " ledger counts none");
        }
        return new Ledger(Schema.CURRENT_VERSION, pool, plus(bytes), volumeCount);
    }

    private long plus(long bytes) {
        Check.positive(bytes, "bytes");
        try {
            return Math.addExact(allocatedBytes, bytes);
        } catch (ArithmeticException e) {
            throw new ValidationException("allocatedBytes", "allocatedBytes: adding " + bytes + " to "
                    + allocatedBytes + " overflows");
        }
    }

    /**
     * This ledger with one volume of {@code bytes} (> 0) released. Throws rather than going below
     * zero: that would mean the ledger and the placements disagree, which must be investigated,
     * not hidden.
     */
    public Ledger release(long bytes) {
        Check.positive(bytes, "bytes");
        if (bytes > allocatedBytes || volumeCount == 0) {
            throw new ValidationException("allocatedBytes", "ledger of pool " + pool + ": releasing " + bytes
                    + " bytes from " + allocatedBytes + " bytes in " + volumeCount
                    + " volumes would go below zero");
        }
        return new Ledger(Schema.CURRENT_VERSION, pool, allocatedBytes - bytes, volumeCount - 1);
    }

    @Override
    public List<String> keyNames() {
        return List.of(pool);
    }
}
