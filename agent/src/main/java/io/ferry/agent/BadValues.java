package io.ferry.agent;

import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Why keys of one kind (work items, snapshot work items, pool configs) do not decode, by name.
 * An informer handler records the error when a value arrives broken and clears it when a readable
 * value or a delete follows; the reconcilers only read it, to put the reason on a Failed status.
 * Thread-safe: handlers write on the agent's context, reconcilers read on workers.
 */
final class BadValues {

    private final Map<String, String> errors = new ConcurrentHashMap<>();

    void record(String name, String error) {
        errors.put(name, error);
    }

    void clear(String name) {
        errors.remove(name);
    }

    Optional<String> why(String name) {
        return Optional.ofNullable(errors.get(name));
    }

    boolean contains(String name) {
        return errors.containsKey(name);
    }

    /** The names with a recorded error, as a copy. */
    Set<String> names() {
        return Set.copyOf(errors.keySet());
    }
}
