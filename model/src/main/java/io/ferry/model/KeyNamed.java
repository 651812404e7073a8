package io.ferry.model;

import java.util.List;

/**
 * A stored value that repeats the names found in its key (for {@code /ferry/nodes/<node>/volumes/<vol>}:
 * node, then volume). Readers compare the two, so a value pasted under the wrong key is reported as
 * a bad value instead of being acted on as if it were another object.
 */
public interface KeyNamed {

    /** The names this value claims, in the order they appear in its key. */
    List<String> keyNames();
}
