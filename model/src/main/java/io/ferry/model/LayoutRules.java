package io.ferry.model;

import java.util.LinkedHashSet;
import java.util.List;

/**
 * What a volume intent's layout, part count and {@code partOf} must agree on (docs/layouts.md):
 * the part count the layout allows, a part's intent naming the volume its name was derived from,
 * and what a multi-part volume cannot be yet. Apart from {@link VolumeIntent} because these rules
 * change with the layouts, not with the intent's other fields. Pure; thread-safe.
 */
final class LayoutRules {

    private LayoutRules() {
    }

    /**
     * Refuses, with a {@link ValidationException} on the field at fault, an intent whose layout and
     * parts disagree.
     *
     * @param sourced made from a snapshot or a clone
     * @param adopted taken back by an operator's adoption order
     */
    static void check(String name, Layout layout, int parts, String partOf, boolean sourced, boolean adopted) {
        if (parts < layout.minParts() || parts > layout.maxParts()) {
            throw new ValidationException("parts", "parts: a " + layout + " volume has " + (layout.multiPart()
                    ? layout.minParts() + " to " + layout.maxParts() : "exactly 1") + " parts, not " + parts);
        }
        if (partOf != null) {
            Check.field("partOf", partOf, Names::volumeName);
            boolean derived = PartNames.parse(name).map(p -> p.volume().equals(partOf)).orElse(false);
            if (!derived || layout.multiPart()) {
                throw new ValidationException("partOf", "partOf: " + Names.quote(name) + " is not a part of "
                        + partOf + "; parts are single volumes named " + partOf + "--p<index>, written by the controller");
            }
            return;
        }
        PartNames.notReserved(name, "name");
        if (!layout.multiPart()) {
            return;
        }
        if (name.length() > PartNames.MAX_VOLUME_NAME_LENGTH) {
            throw new ValidationException("name", "name: a " + layout + " volume's name is at most "
                    + PartNames.MAX_VOLUME_NAME_LENGTH + " characters, so that its parts' names (name--p<index>) fit "
                    + Names.MAX_NAME_LENGTH);
        }
        if (sourced) {
            throw new ValidationException("layout", "layout: a " + layout + " volume cannot be made from a snapshot"
                    + " or a clone yet; create it empty");
        }
        if (adopted) {
            throw new ValidationException("layout", "layout: only a single volume can be adopted");
        }
    }

    /**
     * The size of a volume of {@code layout} over {@code parts} parts asked for {@code requested} bytes:
     * rounded up to 4 MiB, and a striped volume's to a multiple of {@code parts} times 4 MiB, so that
     * its stripes are equal and each a valid volume size.
     *
     * @throws ValidationException if the size is not positive or, rounded, exceeds the largest volume size
     */
    static long volumeSize(Layout layout, int parts, long requested) {
        long size = Sizes.volumeSize(requested);
        if (layout != Layout.STRIPED || parts < 1) {
            return size;
        }
        long unit = parts * Sizes.ALIGNMENT;
        long rounded = (size + unit - 1) / unit * unit;
        if (rounded > Sizes.MAX_VOLUME_BYTES) {
            throw new ValidationException("sizeBytes", "sizeBytes: " + requested + " rounds up to " + rounded
                    + " for " + parts + " equal stripes, which exceeds the largest volume size, 1Pi");
        }
        return rounded;
    }

    /**
     * The legs an operator declared lost, checked: only a mirror has legs to replace, and each name must be
     * one of this volume's part names ({@code <name>--p<index>}); duplicates are dropped, order is kept.
     */
    static List<String> lostParts(String name, Layout layout, List<String> lostParts) {
        List<String> checked = Check.list(lostParts, "lostParts", PartNames.MAX_INDEX, (part, path) -> {
            boolean ours = PartNames.parse(part).map(p -> p.volume().equals(name)).orElse(false);
            if (!ours) {
                throw new ValidationException("lostParts", path + ": " + Names.quote(part) + " is not a part of " + name
                        + " (its parts are named " + name + "--p<index>; ferryctl volume describe lists them)");
            }
            return part;
        });
        if (!checked.isEmpty() && layout != Layout.MIRROR) {
            throw new ValidationException("lostParts", "lostParts: only a mirror's legs can be replaced; a " + layout
                    + " volume needs every part it has");
        }
        return List.copyOf(new LinkedHashSet<>(checked));
    }

    /**
     * The legs an operator asked to move, checked: only a mirror's legs move (the other layouts need every
     * part where it is, and a single volume has no array to add a leg to), each name is one of this
     * volume's part names, and a leg is named once.
     */
    static List<PartMove> moveParts(String name, Layout layout, List<PartMove> moveParts) {
        List<PartMove> checked = Check.list(moveParts, "moveParts", PartNames.MAX_INDEX, (move, path) -> {
            Check.required(move, path);
            boolean ours = PartNames.parse(move.part()).map(p -> p.volume().equals(name)).orElse(false);
            if (!ours) {
                throw new ValidationException("moveParts", path + ".part: " + Names.quote(move.part()) + " is not a part"
                        + " of " + name + " (its parts are named " + name + "--p<index>; ferryctl volume describe lists them)");
            }
            return move;
        });
        if (!checked.isEmpty() && layout != Layout.MIRROR) {
            throw new ValidationException("moveParts", "moveParts: only a mirror's legs can move while the volume is in"
                    + " use; a " + layout + " volume's parts are not copied from one pool to another");
        }
        if (checked.stream().map(PartMove::part).distinct().count() != checked.size()) {
            throw new ValidationException("moveParts", "moveParts: a leg is named twice; give each leg one target");
        }
        return checked;
    }
}
