package io.ferry.runtime.exec;

import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.HashSet;

/**
 * An external command as an argument list: it is executed directly, never through a shell, so no
 * argument is ever re-parsed, globbed or expanded.
 *
 * @param argv    program and arguments; the program is an absolute path or found on PATH
 * @param timeout the process is killed after this long and the run fails
 * @param stdin   bytes written to the process's standard input, or null for none
 * @param lockKey commands with the same key run one at a time on this machine (e.g. all commands on
 *                one volume group, which LVM would otherwise serialize with its own lock and time out
 *                on); null for no serialization
 * @param secrets values that must never be shown (DH-HMAC-CHAP keys passed as arguments):
 *                {@link #display()} and {@link #mask} print {@value #MASK} in their place, and the
 *                runner masks them in the command's output, so no log line or error message that
 *                renders the command carries them
 */
public record Command(List<String> argv, Duration timeout, byte[] stdin, String lockKey, Set<String> secrets) {

    /** What a secret value is shown as. */
    public static final String MASK = "<secret>";

    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(60);

    public Command {
        argv = List.copyOf(Objects.requireNonNull(argv, "argv"));
        if (argv.isEmpty() || argv.get(0).isBlank()) {
            throw new IllegalArgumentException("a command needs a program");
        }
        Objects.requireNonNull(timeout, "timeout");
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("timeout must be positive, was " + timeout);
        }
        secrets = secrets == null ? Set.of() : Set.copyOf(secrets);
        for (String secret : secrets) {
            if (secret.isEmpty()) {
                throw new IllegalArgumentException("an empty secret cannot be masked");
            }
        }
    }

    public Command(List<String> argv, Duration timeout, byte[] stdin, String lockKey) {
        this(argv, timeout, stdin, lockKey, Set.of());
    }

    public static Command of(String... argv) {
        return new Command(List.of(argv), DEFAULT_TIMEOUT, null, null);
    }

    public static Command of(List<String> argv) {
        return new Command(argv, DEFAULT_TIMEOUT, null, null);
    }

    public Command withTimeout(Duration value) {
        return new Command(argv, value, stdin, lockKey, secrets);
    }

    public Command withStdin(byte[] value) {
        return new Command(argv, timeout, value, lockKey, secrets);
    }

    public Command serializedBy(String key) {
        return new Command(argv, timeout, stdin, key, secrets);
    }

    /** The same command, with these values (arguments, or parts of them) never shown. */
    public Command withSecrets(String... values) {
        Set<String> all = new HashSet<>(secrets);
        all.addAll(List.of(values));
        return new Command(argv, timeout, stdin, lockKey, all);
    }

    /** {@code text} with every secret of this command replaced by {@value #MASK}. */
    public String mask(String text) {
        if (text == null || secrets.isEmpty()) {
            return text;
        }
        String masked = text;
        for (String secret : secrets) {
            masked = masked.replace(secret, MASK);
        }
        return masked;
    }

    /** The command line for logs and error messages, with arguments quoted where needed and secrets masked. */
    public String display() {
        StringBuilder sb = new StringBuilder();
        for (String raw : argv) {
            String arg = mask(raw);
            if (!arg.equals(raw)) {
                // A masked argument is shown as it is: quoting would suggest it is the literal value.
                sb.append(sb.isEmpty() ? "" : " ").append(arg);
                continue;
            }
            if (!sb.isEmpty()) {
                sb.append(' ');
            }
            sb.append(arg.matches("[A-Za-z0-9_./:=,@+-]+") ? arg : "'" + arg.replace("'", "'\\''") + "'");
        }
        return sb.toString();
    }

    @Override
    public String toString() {
        return display();
    }
}
