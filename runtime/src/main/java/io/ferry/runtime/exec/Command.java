package io.ferry.runtime.exec;

import java.time.Duration;
import java.util.List;
import java.util.Objects;

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
 */
public record Command(List<String> argv, Duration timeout, byte[] stdin, String lockKey) {

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
    }

    public static Command of(String... argv) {
        return new Command(List.of(argv), DEFAULT_TIMEOUT, null, null);
    }

    public static Command of(List<String> argv) {
        return new Command(argv, DEFAULT_TIMEOUT, null, null);
    }

    public Command withTimeout(Duration value) {
        return new Command(argv, value, stdin, lockKey);
    }

    public Command withStdin(byte[] value) {
        return new Command(argv, timeout, value, lockKey);
    }

    public Command serializedBy(String key) {
        return new Command(argv, timeout, stdin, key);
    }

    /** The command line for logs and error messages, with arguments quoted where needed. */
    public String display() {
        StringBuilder sb = new StringBuilder();
        for (String arg : argv) {
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
