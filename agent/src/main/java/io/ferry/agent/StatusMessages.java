package io.ferry.agent;

/**
 * The text of a status message: an error's own message (or its type when it has none), cleaned of
 * control characters a terminal would interpret and cut to a length etcd and {@code kubectl}
 * display comfortably.
 */
final class StatusMessages {

    static final int MAX_MESSAGE = 2000;

    private StatusMessages() {
    }

    /** The message of the error a future's wrappers carry, or its type's name. */
    static String describe(Throwable err) {
        Throwable e = FailureClassifier.unwrap(err);
        String m = e.getMessage();
        return m == null || m.isBlank() ? e.getClass().getSimpleName() : m;
    }

    static String truncate(String message) {
        if (message == null) {
            return null;
        }
        String clean = message.replaceAll("[\\p{Cntrl}\u2028\u2029&&[^\n\t]]", " ");
        return clean.length() > MAX_MESSAGE ? clean.substring(0, MAX_MESSAGE) + "..." : clean;
    }
}
