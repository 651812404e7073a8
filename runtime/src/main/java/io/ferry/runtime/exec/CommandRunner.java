package io.ferry.runtime.exec;

/**
 * The one way Ferry runs external commands (lvm, nvme, mkfs, mount, losetup, ...). Implementations
 * are blocking: call them from worker threads (the reconcile runtime's {@code blocking(...)}).
 */
public interface CommandRunner {

    /** Runs the command and returns its result whatever the exit code; throws only if it could not finish. */
    CommandResult execute(Command command);

    /** Runs the command and fails with its stderr unless it exits 0. */
    default CommandResult run(Command command) {
        CommandResult result = execute(command);
        if (!result.succeeded()) {
            throw new CommandFailedException(result);
        }
        return result;
    }

    /** Convenience for {@code run(Command.of(argv)).stdout()}. */
    default String output(String... argv) {
        return run(Command.of(argv)).stdout();
    }
}
