package io.ferry.tools.up;

import io.ferry.etcd.EtcdOptions;
import io.ferry.etcd.EtcdRoles;
import io.ferry.tools.cli.FerryCtl;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * The etcd users of {@code ferry up --secure}: made by {@code ferryctl security init} itself (the
 * same command an operator runs, not a second implementation of it), their password files kept in
 * {@code <data-dir>/credentials}, and each component started as its own user.
 */
final class UpCredentials {

    private final Path directory;

    private UpCredentials(Path directory) {
        this.directory = directory;
    }

    static Path directory(Path dataDir) {
        return dataDir.resolve("credentials");
    }

    /**
     * Whether an earlier {@code ferry up --secure} turned authentication on for this data directory's
     * etcd: its components can then only run with their users, whatever this run's options say.
     */
    static boolean madeBefore(Path dataDir) {
        return Files.exists(directory(dataDir).resolve(EtcdRoles.ADMIN + ".password"));
    }

    /**
     * Runs {@code ferryctl security init} against the etcd at {@code endpoints} for these nodes. It
     * converges: on a restart it changes nothing, with more agents it adds their users.
     */
    static UpCredentials init(Path dataDir, String endpoints, String prefix, Collection<String> nodes, PrintWriter out) {
        Path dir = directory(dataDir);
        List<String> args = new ArrayList<>(List.of("security", "init", "--credentials-dir", dir.toString()));
        for (String node : nodes) {
            args.add("--node");
            args.add(node);
        }
        StringWriter said = new StringWriter();
        StringWriter errors = new StringWriter();
        int code = FerryCtl.run(args.toArray(String[]::new), Map.of("FERRY_ETCD_ENDPOINTS", endpoints, "FERRY_PREFIX", prefix),
                new PrintWriter(said, true), new PrintWriter(errors, true));
        if (code != 0) {
            throw new IllegalStateException("ferryctl security init failed (exit " + code + "): " + errors.toString().strip()
                    + (said.toString().isBlank() ? "" : "; it had done: " + said.toString().strip()));
        }
        said.toString().lines().forEach(line -> out.println("security: " + line));
        return new UpCredentials(dir);
    }

    Path directory() {
        return directory;
    }

    Path passwordFile(String user) {
        return directory.resolve(user + ".password");
    }

    /** {@code base} as {@code user}, the password read the way every binary reads its password file. */
    EtcdOptions options(EtcdOptions base, String user) {
        return base.withUser(user, EtcdOptions.password(Map.of("FERRY_ETCD_PASSWORD_FILE", passwordFile(user).toString())));
    }

    ComponentProcess.Etcd process(ComponentProcess.Etcd base, String user) {
        return base.as(user, passwordFile(user));
    }

    /** What an operator sets to use ferryctl against this cluster. */
    String adminEnvironment() {
        return "FERRY_ETCD_USER=" + EtcdRoles.ADMIN + " FERRY_ETCD_PASSWORD_FILE=" + passwordFile(EtcdRoles.ADMIN);
    }
}
