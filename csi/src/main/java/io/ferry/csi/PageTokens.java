package io.ferry.csi;

import io.ferry.model.Names;

/**
 * The pagination tokens of ListVolumes and ListSnapshots. A token names the last entry returned,
 * so pages stay correct while volumes and snapshots come and go.
 */
final class PageTokens {

    static final String PREFIX = "after:";

    private PageTokens() {
    }

    /** The token of the page that follows the entry named {@code lastName}. */
    static String next(String lastName) {
        return PREFIX + lastName;
    }

    /**
     * The name the page starts after, or null for the first page; anything else is a token we never
     * issued, which the specification answers with ABORTED.
     */
    static String after(String token) {
        if (token.isEmpty()) {
            return null;
        }
        String name = token.startsWith(PREFIX) ? token.substring(PREFIX.length()) : null;
        if (name == null || !Names.isValidVolumeName(name)) {
            throw Calls.aborted("starting_token " + token + " was not issued by this plugin");
        }
        return name;
    }
}
