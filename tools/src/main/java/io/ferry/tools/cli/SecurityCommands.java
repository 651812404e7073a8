package io.ferry.tools.cli;

import io.etcd.jetcd.Auth;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.auth.Permission;
import io.ferry.etcd.EtcdOptions;
import io.ferry.etcd.EtcdRoles;
import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.model.Names;
import java.util.LinkedHashSet;
import java.util.Locale;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * {@code ferryctl security}: etcd users and roles per component and per node, from the table in
 * {@link EtcdRoles}, and etcd authentication turned on. Every command converges: it creates what is
 * missing, corrects grants that differ from the table, and changes nothing that is already right.
 */
@Command(name = "security", description = "etcd authentication: a user and role per component and per node.",
        subcommands = {SecurityCommands.Init.class, SecurityCommands.AddNode.class, SecurityCommands.RemoveNode.class,
                RotateKeysCommand.class})
final class SecurityCommands {

    static final String ROOT = "root";
    static final String DEFAULT_DIRECTORY = "/etc/ferry/etcd";
    private static final SecureRandom RANDOM = new SecureRandom();

    private SecurityCommands() {
    }

    /** Options every security command shares. */
    abstract static class SecurityBase extends Base {
        @Option(names = "--credentials-dir", paramLabel = "DIR", defaultValue = DEFAULT_DIRECTORY,
                description = "where each user's password file <user>.password is written, mode 0600 (default: ${DEFAULT-VALUE})")
        Path directory;

        private EtcdStore admin;
        /** Connected without a user: etcd answered, so its authentication is still off. */
        boolean anonymous;
        final List<String> changes = new ArrayList<>();

        @Override
        FerryKeys keys() {
            return root().etcdOptions().keys();
        }

        /**
         * A client that may manage users: the user given to ferryctl if any, else root with the
         * password a previous {@code init} wrote, else no user (etcd without authentication yet).
         */
        Auth auth() {
            if (admin != null) {
                return admin.client().getAuthClient();
            }
            EtcdOptions options = root().etcdOptions();
            Path rootPassword = passwordFile(ROOT);
            if (options.user() == null && Files.exists(rootPassword)) {
                EtcdStore asRoot = EtcdStore.connect(options.withUser(ROOT, readPassword(rootPassword)));
                try {
                    ask(asRoot.client().getAuthClient().userList(), "list users");
                    admin = asRoot;
                    return admin.client().getAuthClient();
                } catch (CliException e) {
                    asRoot.close();
                    if (!e.getMessage().contains("authentication is not enabled")) {
                        throw e;
                    }
                }
            }
            admin = EtcdStore.connect(options);
            anonymous = options.user() == null;
            return admin.client().getAuthClient();
        }

        void closeAdmin() {
            if (admin != null) {
                admin.close();
            }
        }

        Path passwordFile(String user) {
            return directory.resolve(user + ".password");
        }

        /** Creates the role if absent and makes its grants exactly the table's. */
        void convergeRole(EtcdRoles.Role role) {
            Auth auth = auth();
            if (!roles().contains(role.name())) {
                ask(auth.roleAdd(bytes(role.name())), "add role " + role.name());
                changes.add("role " + role.name() + ": created");
            }
            List<Permission> existing = ask(auth.roleGet(bytes(role.name())), "read role " + role.name()).getPermissions();
            Set<String> wanted = new HashSet<>();
            for (EtcdRoles.Grant g : role.grants()) {
                wanted.add(g.key() + "\0" + g.rangeEnd() + "\0" + g.access().name());
            }
            Set<String> present = new HashSet<>();
            for (Permission p : existing) {
                String id = p.getKey().toString(StandardCharsets.UTF_8) + "\0" + p.getRangeEnd().toString(StandardCharsets.UTF_8)
                        + "\0" + p.getPermType().name();
                present.add(id);
                if (!wanted.contains(id)) {
                    ask(auth.roleRevokePermission(bytes(role.name()), p.getKey(), p.getRangeEnd()),
                            "revoke a grant of role " + role.name());
                    changes.add("role " + role.name() + ": revoked " + p.getKey().toString(StandardCharsets.UTF_8) + " "
                            + p.getPermType().name().toLowerCase(Locale.ROOT));
                }
            }
            for (EtcdRoles.Grant g : role.grants()) {
                if (!present.contains(g.key() + "\0" + g.rangeEnd() + "\0" + g.access().name())) {
                    ask(auth.roleGrantPermission(bytes(role.name()), bytes(g.key()), bytes(g.rangeEnd()),
                            Permission.Type.valueOf(g.access().name())), "grant " + g.describe() + " to " + role.name());
                    changes.add("role " + role.name() + ": granted " + g.describe());
                }
            }
        }

        /**
         * Creates the user with a new random password written to its file, unless it exists and its
         * file does too; a user whose file is gone gets a new password, since etcd cannot say the old.
         */
        void convergeUser(String user, String role) {
            Auth auth = auth();
            Path file = passwordFile(user);
            if (!users().contains(user)) {
                String password = newPassword();
                writePassword(file, password);
                ask(auth.userAdd(bytes(user), bytes(password)), "add user " + user);
                changes.add("user " + user + ": created, password in " + file);
            } else if (!Files.exists(file)) {
                String password = newPassword();
                writePassword(file, password);
                ask(auth.userChangePassword(bytes(user), bytes(password)), "change the password of " + user);
                changes.add("user " + user + ": its password file was missing; new password in " + file);
            }
            if (!ask(auth.userGet(bytes(user)), "read user " + user).getRoles().contains(role)) {
                ask(auth.userGrantRole(bytes(user), bytes(role)), "grant role " + role + " to " + user);
                changes.add("user " + user + ": granted role " + role);
            }
        }

        void removeUserAndRole(String name) {
            Auth auth = auth();
            if (users().contains(name)) {
                ask(auth.userDelete(bytes(name)), "delete user " + name);
                changes.add("user " + name + ": deleted");
            }
            if (roles().contains(name)) {
                ask(auth.roleDelete(bytes(name)), "delete role " + name);
                changes.add("role " + name + ": deleted");
            }
            try {
                if (Files.deleteIfExists(passwordFile(name))) {
                    changes.add("removed " + passwordFile(name));
                }
            } catch (IOException e) {
                throw new CliException(ExitCodes.FAILED, "cannot remove " + passwordFile(name) + ": " + e.getMessage());
            }
        }

        List<String> users() {
            return ask(auth().userList(), "list users").getUsers();
        }

        List<String> roles() {
            return ask(auth().roleList(), "list roles").getRoles();
        }

        void report() {
            if (changes.isEmpty()) {
                out().line("no change");
            } else {
                changes.forEach(out()::line);
            }
        }
    }

    @Command(name = "init", description = "Create the users and roles of the controller, the CSI plugins, ferryctl (ferry-admin)"
            + " and each --node's agent, write their password files, and turn on etcd authentication. Run it again to"
            + " check: it changes nothing that is right.")
    static final class Init extends SecurityBase {
        @Option(names = "--node", paramLabel = "NAME", description = "a node whose agent gets a user (repeatable; later: add-node)")
        List<String> nodes = new ArrayList<>();

        @Override
        public Integer call() {
            try {
                nodes.forEach(Names::nodeName);
                EtcdRoles table = new EtcdRoles(keys());
                // etcd turns authentication on only once root exists with the root role.
                if (!roles().contains(ROOT)) {
                    ask(auth().roleAdd(bytes(ROOT)), "add role root");
                    changes.add("role root: created");
                }
                convergeUser(ROOT, ROOT);
                for (EtcdRoles.Role role : table.all(nodes)) {
                    convergeRole(role);
                    convergeUser(role.name(), role.name());
                }
                // Last, once every user can log in: from now on etcd refuses requests without a user.
                if (anonymous) {
                    ask(auth().authEnable(), "enable authentication");
                    changes.add("etcd authentication: enabled (as root: FERRY_ETCD_USER=root FERRY_ETCD_PASSWORD_FILE="
                            + passwordFile(ROOT) + ")");
                }
                report();
                return ExitCodes.OK;
            } finally {
                closeAdmin();
            }
        }
    }

    @Command(name = "add-node", description = "Create the etcd user and role of one node's agent and write its password file.")
    static final class AddNode extends SecurityBase {
        @Parameters(paramLabel = "NAME", description = "the node's name")
        String node;

        @Override
        public Integer call() {
            try {
                EtcdRoles.Role role = new EtcdRoles(keys()).agent(node);
                convergeRole(role);
                convergeUser(role.name(), role.name());
                report();
                return ExitCodes.OK;
            } finally {
                closeAdmin();
            }
        }
    }

    @Command(name = "remove-node", description = "Delete the etcd user and role of one node's agent and its password file."
            + " The node's keys and volumes are not touched.")
    static final class RemoveNode extends SecurityBase {
        @Parameters(paramLabel = "NAME", description = "the node's name")
        String node;

        @Override
        public Integer call() {
            try {
                removeUserAndRole(EtcdRoles.agentRoleName(node));
                report();
                return ExitCodes.OK;
            } finally {
                closeAdmin();
            }
        }
    }

    static ByteSequence bytes(String s) {
        return ByteSequence.from(s, StandardCharsets.UTF_8);
    }

    static String newPassword() {
        byte[] raw = new byte[24];
        RANDOM.nextBytes(raw);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
    }

    /**
     * The messages of an error and its causes: jetcd wraps etcd's answer (such as "etcdserver:
     * authentication is not enabled") in exceptions whose own message may be empty.
     */
    static String reasons(Throwable error) {
        LinkedHashSet<String> messages = new LinkedHashSet<>();
        for (Throwable t = error; t != null && messages.size() < 8; t = t.getCause()) {
            if (t.getMessage() != null && !t.getMessage().isBlank()) {
                messages.add(t.getMessage());
            }
        }
        return messages.isEmpty() ? error.getClass().getSimpleName() : String.join(": ", messages);
    }

    static String readPassword(Path file) {
        try {
            return Files.readString(file).strip();
        } catch (IOException e) {
            throw new CliException(ExitCodes.FAILED, "cannot read " + file + ": " + e.getMessage());
        }
    }

    /**
     * Writes a password readable by its owner only: the file is created 0600 in a 0700 directory and
     * moved into place whole, so no reader ever sees it half written or with wider permissions.
     */
    static void writePassword(Path file, String password) {
        try {
            Path dir = file.getParent();
            if (!Files.isDirectory(dir)) {
                Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            }
            Path tmp = Files.createTempFile(dir, "." + file.getFileName(), ".tmp",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            Files.writeString(tmp, password + "\n");
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            throw new CliException(ExitCodes.FAILED, "cannot write the password file " + file + ": " + e.getMessage());
        }
    }

    /** One etcd auth call, bounded; etcd's own error (such as "permission denied") is kept in the message. */
    static <T> T ask(CompletableFuture<T> future, String what) {
        try {
            return future.get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw new CliException(ExitCodes.FAILED, "etcd refused to " + what + ": " + reasons(FerryCtl.unwrap(e)));
        } catch (TimeoutException e) {
            throw new CliException(ExitCodes.ETCD_UNAVAILABLE, "etcd did not answer within 30 s (" + what + ")");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CliException(ExitCodes.FAILED, "interrupted");
        }
    }
}
