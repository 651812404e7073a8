package io.ferry.csi;

import java.nio.file.Path;

/** The one rule for paths a CO hands the node service: absolute, and free of {@code .}/{@code ..}. */
final class CsiPaths {

    private CsiPaths() {
    }

    /** Paths from the CO must be absolute and free of {@code .}/{@code ..} segments. */
    static Path path(String field, String value) {
        String problem = pathProblem(field, value);
        if (problem != null) {
            throw Calls.invalid(problem);
        }
        return Path.of(value).normalize();
    }

    /** What is wrong with a path from the CO, or null when it is absolute and clean. */
    static String pathProblem(String field, String value) {
        if (value.isEmpty()) {
            return field + " is required";
        }
        if (value.indexOf('\0') >= 0) {
            return field + " contains a NUL character";
        }
        Path p = Path.of(value);
        if (!p.isAbsolute()) {
            return field + " must be absolute: " + value;
        }
        for (Path segment : p) {
            String s = segment.toString();
            if (s.equals("..") || s.equals(".")) {
                return field + " must not contain . or .. segments: " + value;
            }
        }
        return null;
    }
}
