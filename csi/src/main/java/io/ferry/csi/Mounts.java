package io.ferry.csi;

import io.ferry.runtime.exec.Command;
import io.ferry.runtime.exec.CommandRunner;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** Reads the mount table ({@code /proc/self/mountinfo}) to make every node step idempotent. */
final class Mounts {

    record Mount(String source, String mountPoint, String fsType, String options, String root) {
        boolean readOnly() {
            return List.of(options.split(",")).contains("ro");
        }
    }

    private final Path mountInfo;

    Mounts(Path mountInfo) {
        this.mountInfo = mountInfo;
    }

    List<Mount> all() {
        List<String> lines;
        try {
            lines = Files.readAllLines(mountInfo);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + mountInfo + ": " + e.getMessage(), e);
        }
        List<Mount> mounts = new ArrayList<>();
        for (String line : lines) {
            // id parent major:minor root mountpoint options [optional fields...] - fstype source superoptions
            String[] f = line.split(" ");
            int dash = List.of(f).indexOf("-");
            if (f.length < 7 || dash < 6 || dash + 2 >= f.length) {
                continue;
            }
            mounts.add(new Mount(unescape(f[dash + 2]), unescape(f[4]), f[dash + 1], f[5], unescape(f[3])));
        }
        return mounts;
    }

    /** Unmounts every mount stacked on {@code path} (a bind mount repeated by a crashed retry included). */
    void unmountAll(Path path, CommandRunner runner) {
        for (int i = 0; i < 8 && at(path).isPresent(); i++) {
            runner.run(Command.of("umount", path.toString()));
        }
    }

    /** The topmost mount at exactly this path, if any. */
    Optional<Mount> at(Path path) {
        String p = path.toAbsolutePath().normalize().toString();
        Mount found = null;
        for (Mount m : all()) {
            if (m.mountPoint().equals(p)) {
                found = m;
            }
        }
        return Optional.ofNullable(found);
    }

    static String unescape(String s) {
        if (s.indexOf('\\') < 0) {
            return s;
        }
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 3 < s.length()) {
                out.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }
}
