package io.ferry.etcd.store;

import java.util.List;

/**
 * The result of listing a prefix at one revision: the values that decoded, and the keys that did
 * not, so callers can report bad values without losing the good ones.
 */
public record Listing<T>(long revision, List<Versioned<T>> items, List<BadValueException> badValues) {
    public Listing {
        items = List.copyOf(items);
        badValues = List.copyOf(badValues);
    }
}
