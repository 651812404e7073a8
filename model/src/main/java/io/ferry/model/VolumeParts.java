package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;

import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

/**
 * What a multi-part volume is assembled from, key {@code <prefix>/parts/<vol>}, written only by the
 * controller leader in the one transaction that places every part (their intents, placements, work
 * items and the pools' ledgers). The consumer assembles the volume from this record alone: the
 * parts in this order, each an ordinary volume named {@link PartNames#of}.
 *
 * @param layout    {@code linear}, {@code striped} or {@code mirror}
 * @param parts     in assembly order: segment order for {@code linear}; legs for {@code mirror}
 * @param arrayUuid the md array's UUID for a mirror, chosen by the controller: the ownership marker the
 *                  consumer checks on the legs before assembling them, so that it never assembles or
 *                  creates an array over anything but this volume's own legs; null for other layouts
 * @param placedAt  when the parts were placed
 * @param retired   a mirror's legs an operator declared lost ({@code lostParts} in the volume's intent), each
 *                  replaced by the member whose {@link Part#replaces} names it: no longer assembled, served or
 *                  counted, and deleted by the usual protocol; kept here so that its name is never reused and
 *                  the consumer knows to drop it from the array
 */
public record VolumeParts(int schemaVersion, String volume, Layout layout, List<Part> parts, String arrayUuid,
                          Instant placedAt, @JsonInclude(JsonInclude.Include.NON_EMPTY) List<Part> retired)
        implements KeyNamed {

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
     *                  {@link #MIRROR_RESERVED_BYTES}; a linear volume's segments add up to its size, and so
     *                  do a striped volume's stripes, all of one size
     * @param replaces  for a leg placed to replace a lost one, the lost leg's name (one of {@code retired}):
     *                  such a leg starts blank, and the consumer adds it to the running array, whereas a
     *                  blank leg beside legs of the array is otherwise refused; null for the first legs
     * @param movesFrom for a leg placed to take over from a member being moved ({@code moveParts} in the
     *                  volume's intent, or a node's drain), that member's name: the leg starts blank and joins
     *                  the running array as an extra leg, and the member it moves from stays until the
     *                  consumer reports this one in sync (docs/layouts.md, "Live migration"); null otherwise
     */
    public record Part(String name, int index, long sizeBytes, String replaces,
                       @JsonInclude(JsonInclude.Include.NON_NULL) String movesFrom) {
        public Part {
            Check.required(name, "parts[].name");
            Check.positive(sizeBytes, "parts[].sizeBytes");
        }

        public Part(String name, int index, long sizeBytes) {
            this(name, index, sizeBytes, null, null);
        }

        public Part(String name, int index, long sizeBytes, String replaces) {
            this(name, index, sizeBytes, replaces, null);
        }

        /** Whether this leg starts blank and is added to a running array: a replacement, or a leg joining by a move. */
        @JsonIgnore
        public boolean placedBlank() {
            return replaces != null || movesFrom != null;
        }

        @JsonCreator
        static Part fromJson(@JsonProperty("name") String name, @JsonProperty("index") Integer index,
                             @JsonProperty("sizeBytes") Long sizeBytes, @JsonProperty("replaces") String replaces,
                             @JsonProperty("movesFrom") String movesFrom) {
            return new Part(name, Check.required(index, "parts[].index"), Check.required(sizeBytes, "parts[].sizeBytes"),
                    replaces, movesFrom);
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
        List<Part> joining = parts.stream().filter(p -> p.movesFrom() != null).toList();
        if (joining.size() > 1) {
            throw new ValidationException("parts", "parts: a mirror moves one leg at a time, not " + joining.size());
        }
        if (!joining.isEmpty() && layout != Layout.MIRROR) {
            throw new ValidationException("parts", "parts: only a mirror's legs move");
        }
        // While a leg moves, the leg it moves from is still a member: one leg more than the layout's count.
        int counted = parts.size() - joining.size();
        if (counted < layout.minParts() || counted > layout.maxParts()) {
            throw new ValidationException("parts", "parts: a " + layout + " volume has " + layout.minParts() + " to "
                    + layout.maxParts() + " parts, not " + parts.size());
        }
        retired = retired == null ? List.of() : List.copyOf(retired);
        if (!retired.isEmpty() && layout != Layout.MIRROR) {
            throw new ValidationException("retired", "retired: only a mirror's legs are replaced");
        }
        List<Part> every = new ArrayList<>(parts);
        every.addAll(retired);
        for (Part part : every) {
            String expected = PartNames.of(volume, part.index());
            if (!expected.equals(part.name())) {
                throw new ValidationException("parts", "parts: " + Names.quote(part.name()) + " is not the name of part "
                        + part.index() + " of " + volume + " (" + expected + ")");
            }
        }
        if (every.stream().map(Part::index).distinct().count() != every.size()) {
            throw new ValidationException("parts", "parts: two parts share an index");
        }
        Set<String> retiredNames = new HashSet<>();
        retired.forEach(r -> retiredNames.add(r.name()));
        for (Part part : every) {
            if (part.replaces() != null && !retiredNames.contains(part.replaces())) {
                throw new ValidationException("parts", "parts: " + part.name() + " replaces "
                        + Names.quote(part.replaces()) + ", which is not a retired leg of " + volume);
            }
        }
        for (Part part : joining) {
            Part from = parts.stream().filter(p -> p.name().equals(part.movesFrom())).findFirst()
                    .orElseThrow(() -> new ValidationException("parts", "parts: " + part.name() + " moves from "
                            + Names.quote(part.movesFrom()) + ", which is not a member of " + volume));
            if (from == part) {
                throw new ValidationException("parts", "parts: " + part.name() + " cannot move from itself");
            }
        }
        if (layout == Layout.MIRROR) {
            // A retired leg keeps the size it had: the mirror may have grown since it was retired.
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
        if (layout == Layout.STRIPED && parts.stream().map(Part::sizeBytes).distinct().count() != 1) {
            throw new ValidationException("parts", "parts: the stripes of a striped volume are all the same size");
        }
        Check.required(placedAt, "placedAt");
    }

    @JsonCreator
    static VolumeParts fromJson(@JsonProperty("schemaVersion") Integer schemaVersion,
                                @JsonProperty("volume") String volume,
                                @JsonProperty("layout") Layout layout,
                                @JsonProperty("parts") List<Part> parts,
                                @JsonProperty("arrayUuid") String arrayUuid,
                                @JsonProperty("placedAt") Instant placedAt,
                                @JsonProperty("retired") List<Part> retired) {
        return new VolumeParts(Schema.orDefault(schemaVersion), volume, layout, parts, arrayUuid, placedAt, retired);
    }

    public static VolumeParts of(String volume, Layout layout, List<Part> parts, String arrayUuid, Instant placedAt) {
        return new VolumeParts(Schema.CURRENT_VERSION, volume, layout, parts, arrayUuid, placedAt, List.of());
    }

    /** The part names, in assembly order: the members, not the retired legs. */
    @JsonIgnore
    public List<String> partNames() {
        return parts.stream().map(Part::name).toList();
    }

    /** Every part that may still exist somewhere: the members, then the retired legs. */
    @JsonIgnore
    public List<String> allPartNames() {
        List<String> all = new ArrayList<>(partNames());
        retired.forEach(r -> all.add(r.name()));
        return all;
    }

    /** True if {@code part} is a leg replaced after it was declared lost. */
    public boolean isRetired(String part) {
        return retired.stream().anyMatch(r -> r.name().equals(part));
    }

    /** The member named {@code part}, if it is one. */
    public Optional<Part> member(String part) {
        return parts.stream().filter(p -> p.name().equals(part)).findFirst();
    }

    /** The index the next replacement leg takes: past every index a member or a retired leg ever had. */
    @JsonIgnore
    public int nextIndex() {
        int max = -1;
        for (Part p : parts) {
            max = Math.max(max, p.index());
        }
        for (Part p : retired) {
            max = Math.max(max, p.index());
        }
        return max + 1;
    }

    /**
     * This record with {@code lost} retired and {@code replacement} (whose {@code replaces} names it) in
     * its place among the members, so that the legs keep their order.
     */
    public VolumeParts withReplacement(String lost, Part replacement) {
        Part gone = member(lost).orElseThrow(() -> new ValidationException("parts", "parts: " + Names.quote(lost)
                + " is not a member of " + volume));
        List<Part> members = new ArrayList<>(parts.size());
        for (Part p : parts) {
            members.add(p.name().equals(lost) ? replacement : p);
        }
        List<Part> gones = new ArrayList<>(retired);
        gones.add(gone);
        return new VolumeParts(schemaVersion, volume, layout, members, arrayUuid, placedAt, gones);
    }

    /** The leg joining the mirror by a move, if one is under way (at most one is). */
    @JsonIgnore
    public Optional<Part> joining() {
        return parts.stream().filter(p -> p.movesFrom() != null).findFirst();
    }

    /**
     * This record with {@code joining} (whose {@code movesFrom} names a member) added as an extra leg
     * after the members: the member it moves from stays until the move is done or given up.
     */
    public VolumeParts withJoining(Part joining) {
        if (joining.movesFrom() == null) {
            throw new IllegalArgumentException("a joining leg names the member it moves from");
        }
        List<Part> members = new ArrayList<>(parts);
        members.add(joining);
        return new VolumeParts(schemaVersion, volume, layout, members, arrayUuid, placedAt, retired);
    }

    /**
     * This record with the move done: the joining leg takes the place (and the order) of the leg it moved
     * from, which is retired; the joining leg's {@code replaces} names it from then on.
     */
    public VolumeParts withMoveDone() {
        Part joined = joining().orElseThrow(() -> new IllegalStateException("no leg of " + volume + " is moving"));
        Part left = member(joined.movesFrom()).orElseThrow();
        List<Part> members = new ArrayList<>(parts.size() - 1);
        for (Part p : parts) {
            if (p.name().equals(left.name())) {
                members.add(new Part(joined.name(), joined.index(), joined.sizeBytes(), left.name(), null));
            } else if (!p.name().equals(joined.name())) {
                members.add(p);
            }
        }
        List<Part> gones = new ArrayList<>(retired);
        gones.add(left);
        return new VolumeParts(schemaVersion, volume, layout, members, arrayUuid, placedAt, gones);
    }

    /** This record with the move given up: the joining leg is retired, the leg it moved from stays. */
    public VolumeParts withMoveCancelled() {
        Part joined = joining().orElseThrow(() -> new IllegalStateException("no leg of " + volume + " is moving"));
        List<Part> members = parts.stream().filter(p -> !p.name().equals(joined.name())).toList();
        List<Part> gones = new ArrayList<>(retired);
        gones.add(new Part(joined.name(), joined.index(), joined.sizeBytes(), null, null));
        return new VolumeParts(schemaVersion, volume, layout, members, arrayUuid, placedAt, gones);
    }

    /**
     * This record with its members grown for a volume of {@code volumeBytes}: each leg of a mirror to
     * that size plus md's reserve, each of a striped volume's {@code n} stripes to a {@code n}th of it
     * (the intent's size is a multiple of {@code n} x 4 MiB), a linear volume's last segment by the
     * difference (the segments before it are full). Retired legs keep their size.
     *
     * @throws ValidationException if {@code volumeBytes} is smaller than the volume is now: parts never shrink
     */
    public VolumeParts grownTo(long volumeBytes) {
        long now = assembledBytes();
        if (volumeBytes < now) {
            throw new ValidationException("sizeBytes", "sizeBytes: a " + layout + " volume of " + now
                    + " bytes cannot shrink to " + volumeBytes);
        }
        List<Part> grown = new ArrayList<>(parts.size());
        for (int i = 0; i < parts.size(); i++) {
            Part p = parts.get(i);
            long size = switch (layout) {
                case MIRROR -> mirrorLegBytes(volumeBytes);
                case STRIPED -> volumeBytes / parts.size();
                default -> i == parts.size() - 1 ? p.sizeBytes() + volumeBytes - now : p.sizeBytes();
            };
            grown.add(new Part(p.name(), p.index(), size, p.replaces(), p.movesFrom()));
        }
        VolumeParts next = new VolumeParts(schemaVersion, volume, layout, grown, arrayUuid, placedAt, retired);
        if (next.assembledBytes() != volumeBytes
                || layout == Layout.STRIPED && volumeBytes % (parts.size() * Sizes.ALIGNMENT) != 0) {
            throw new ValidationException("sizeBytes", "sizeBytes: " + volumeBytes + " bytes is not " + parts.size()
                    + " equal stripes of whole 4 MiB units");
        }
        return next;
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
