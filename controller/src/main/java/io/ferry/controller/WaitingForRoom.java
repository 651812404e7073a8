package io.ferry.controller;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Names that found no room (no pool to be placed on, no space to grow into): retried when capacity
 * changes, not on a timer. The reconciler that decides marks and clears them; the controller only
 * reads which to retry.
 */
final class WaitingForRoom {

    private final Set<String> names = new HashSet<>();

    void add(String name) {
        names.add(name);
    }

    void remove(String name) {
        names.remove(name);
    }

    boolean isEmpty() {
        return names.isEmpty();
    }

    boolean contains(String name) {
        return names.contains(name);
    }

    /** A copy: retrying a name may mark or clear others while the caller goes through them. */
    List<String> names() {
        return List.copyOf(names);
    }
}
