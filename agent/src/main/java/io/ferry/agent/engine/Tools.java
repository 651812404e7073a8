package io.ferry.agent.engine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Finds external programs, so an engine whose tools are missing is simply not offered. */
public final class Tools {

    private Tools() {
    }

    /** True if {@code name} is an executable on PATH or in the sbin directories root's PATH usually has. */
    public static boolean exists(String name) {
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
