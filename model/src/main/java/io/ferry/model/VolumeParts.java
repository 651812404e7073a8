package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;

import java.time.Instant;
import java.util.List;
import java.util.UUID;

/**
 * What a multi-part volume is assembled from, key {@code <prefix>/parts/<vol>}, written only by the
 * controller leader in the one transaction that places every part (their intents, placements, work
 * items and the pools' ledgers). The consumer assembles the volume from this record alone: the
 * parts in this order, each an ordinary volume named {@link PartNames#of}.
 *
 * @param layout    {@code linear} or {@code mirror}
 * @param parts     in assembly order: segment order for {@code linear}; legs for {@code mirror}
 * @param arrayUuid the md array's UUID for a mirror, chosen by the controller: the ownership marker the
 *                  consumer checks on the legs before assembling them, so that it never assembles or
 *                  creates an array over anything but this volume's own legs; null for other layouts
 * @param placedAt  when the parts were placed
 */
public record VolumeParts(int schemaVersion, String volume, Layout layout, List<Part> parts, String arrayUuid,
                          Instant placedAt) implements KeyNamed {

    /**
     * What each leg of a mirror holds before the volume's data: md's superblock and write-intent
     * bitmap, with the data offset pinned to this (mdadm {@code --data-offset}), so that the assembled
     * array is exactly the volume's size whatever mdadm's default offset for the leg's size would be.
     */
    public static final long MIRROR_RESERVED_BYTES = Sizes.ALIGNMENT;

    /**
     * One part.
     *
     * @param name      {@code <vol>--p<index>}, the part's volume name
     * @param index     the index in its name; stable for the part's life, also after other parts are replaced
     * @param sizeBytes the part's size: a mirror's legs are each the volume's size plus
     *                  {@link #MIRROR_RESERVED_BYTES}; a linear volume's segments add up to its size
     */
    public record Part(String name, int index, long sizeBytes) {
        public Part {
            Check.required(name, "parts[].name");
            Check.positive(sizeBytes, "parts[].sizeBytes");
        }

        @JsonCreator
        static Part fromJson(@JsonProperty("name") String name, @JsonProperty("index") Integer index,
                             @JsonProperty("sizeBytes") Long sizeBytes) {
            return new Part(name, Check.required(index, "parts[].index"), Check.required(sizeBytes, "parts[].sizeBytes"));
        }
    }

    public VolumeParts {
        Schema.check(schemaVersion);
        Check.field("volume", Check.required(volume, "volume"), Names::volumeName);
        Check.required(layout, "layout");
        if (!layout.multiPart()) {
            throw new ValidationException("layout", "layout: " + layout + " has no parts record");
        }
        parts = List.copyOf(Check.required(parts, "parts"));
        if (parts.size() < layout.minParts() || parts.size() > layout.maxParts()) {
            throw new ValidationException("parts", "parts: a " + layout + " volume has " + layout.minParts() + " to "
                    + layout.maxParts() + " parts, not " + parts.size());
        }
        for (Part part : parts) {
            String expected = PartNames.of(volume, part.index());
            if (!expected.equals(part.name())) {
                throw new ValidationException("parts", "parts: " + Names.quote(part.name()) + " is not the name of part "
                        + part.index() + " of " + volume + " (" + expected + ")");
            }
        }
        if (parts.stream().map(Part::index).distinct().count() != parts.size()) {
            throw new ValidationException("parts", "parts: two parts share an index");
        }
        if (layout == Layout.MIRROR) {
            if (parts.stream().map(Part::sizeBytes).distinct().count() != 1) {
                throw new ValidationException("parts", "parts: the legs of a mirror are all the volume's size");
            }
            if (parts.get(0).sizeBytes() <= MIRROR_RESERVED_BYTES) {
                throw new ValidationException("parts", "parts: a mirror's leg holds " + MIRROR_RESERVED_BYTES
                        + " bytes of md metadata before the data, so it must be larger than that");
            }
            Check.required(arrayUuid, "arrayUuid");
            try {
                arrayUuid = UUID.fromString(arrayUuid).toString();
            } catch (IllegalArgumentException e) {
                throw new ValidationException("arrayUuid", "arrayUuid: " + Names.quote(arrayUuid) + " is not a UUID");
            }
        } else if (arrayUuid != null) {
            throw new ValidationException("arrayUuid", "arrayUuid: only a mirror has an array");
        }
        Check.required(placedAt, "placedAt");
    }

    @JsonCreator
    static VolumeParts fromJson(@JsonProperty("schemaVersion") Integer schemaVersion,
                                @JsonProperty("volume") String volume,
                                @JsonProperty("layout") Layout layout,
                                @JsonProperty("parts") List<Part> parts,
                                @JsonProperty("arrayUuid") String arrayUuid,
                                @JsonProperty("placedAt") Instant placedAt) {
        return new VolumeParts(Schema.orDefault(schemaVersion), volume, layout, parts, arrayUuid, placedAt);
    }

    public static VolumeParts of(String volume, Layout layout, List<Part> parts, String arrayUuid, Instant placedAt) {
        return new VolumeParts(Schema.CURRENT_VERSION, volume, layout, parts, arrayUuid, placedAt);
    }

    /** The part names, in assembly order. */
    @JsonIgnore
    public List<String> partNames() {
        return parts.stream().map(Part::name).toList();
    }

    /** The size of a mirror's legs for a volume of {@code volumeBytes}. */
    public static long mirrorLegBytes(long volumeBytes) {
        return Math.addExact(volumeBytes, MIRROR_RESERVED_BYTES);
    }

    /** The size of the assembled device: a leg's data for a mirror, the segments' sum otherwise. */
    @JsonIgnore
    public long assembledBytes() {
        return layout == Layout.MIRROR ? parts.get(0).sizeBytes() - MIRROR_RESERVED_BYTES
                : parts.stream().mapToLong(Part::sizeBytes).sum();
    }

    @Override
    public List<String> keyNames() {
        return List.of(volume);
    }
}
