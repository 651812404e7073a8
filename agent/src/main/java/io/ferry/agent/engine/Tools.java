package io.ferry.agent.engine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** Finds external programs, so an engine whose tools are missing is simply not offered. */
public final class Tools {

    /**
     * How long an answer is reused. Engines are asked on every reconcile, and a PATH walk is a
     * dozen {@code access} calls; a tool installed meanwhile is still noticed within this time.
     */
    private static final long REMEMBER_NANOS = 10_000_000_000L;

    private record Answer(boolean found, long askedAt) {
    }

    private static final Map<String, Answer> answers = new ConcurrentHashMap<>();

    private Tools() {
    }

    /** True if {@code name} is an executable on PATH or in the sbin directories root's PATH usually has. */
    public static boolean exists(String name) {
        long now = System.nanoTime();
        Answer known = answers.get(name);
        if (known != null && now - known.askedAt() < REMEMBER_NANOS) {
            return known.found();
        }
        boolean found = search(name);
        answers.put(name, new Answer(found, now));
        return found;
    }

    private static boolean search(String name) {
        List<String> dirs = new ArrayList<>(List.of(System.getenv().getOrDefault("PATH", "").split(":")));
        dirs.addAll(List.of("/usr/sbin", "/sbin", "/usr/bin", "/bin"));
        for (String dir : dirs) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, name))) {
                return true;
            }
        }
        return false;
    }
}
