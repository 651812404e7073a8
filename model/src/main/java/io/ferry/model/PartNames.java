package io.ferry.model;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The names of the parts of a multi-part volume: {@code <vol>--p<index>}. The controller derives
 * them and writes their intents; a name of this shape is refused everywhere else, so no one can
 * take a part's name before the volume it belongs to is placed.
 */
public final class PartNames {

    /** Indexes run from 0 to this bound (exclusive): room for replacement legs beside the first ones. */
    public static final int MAX_INDEX = 100;
    /** The longest name of a multi-part volume: its parts' names are at most {@value #SUFFIX_ROOM} longer. */
    public static final int MAX_VOLUME_NAME_LENGTH = Names.MAX_NAME_LENGTH - 5;
    static final int SUFFIX_ROOM = 5;
    private static final String MARK = "--p";
    private static final Pattern PART = Pattern.compile("(.+)--p(0|[1-9][0-9]?)");

    private PartNames() {
    }

    /** A part's name and the volume and index it was derived from. */
    public record Part(String volume, int index) {
    }

    /** The name of part {@code index} of {@code volume}. */
    public static String of(String volume, int index) {
        if (index < 0 || index >= MAX_INDEX) {
            throw new ValidationException("part index " + index + " is out of range 0-" + (MAX_INDEX - 1));
        }
        return Names.volumeName(Names.volumeName(volume) + MARK + index);
    }

    /** The volume and index a part name was derived from, or empty for any other name. */
    public static Optional<Part> parse(String name) {
        if (name == null) {
            return Optional.empty();
        }
        Matcher m = PART.matcher(name);
        return m.matches() ? Optional.of(new Part(m.group(1), Integer.parseInt(m.group(2)))) : Optional.empty();
    }

    /** True if {@code name} has the shape reserved for parts. */
    public static boolean isPartName(String name) {
        return parse(name).isPresent();
    }

    /** Refuses a name of the reserved shape where a volume of its own is being named. */
    public static String notReserved(String name, String field) {
        if (isPartName(name)) {
            throw new ValidationException(field, field + ": " + Names.quote(name) + " ends in --p<number>, which is"
                    + " reserved for the parts the controller derives from a multi-part volume's name");
        }
        return name;
    }
}
