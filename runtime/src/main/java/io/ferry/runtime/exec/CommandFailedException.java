package io.ferry.runtime.exec;

/**
 * A command exited non-zero, timed out, or could not start. The message carries the command line,
 * the exit code and the command's own stderr, because that is what an operator needs to act.
 */
public final class CommandFailedException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final transient CommandResult result;
    private final boolean timedOut;

    public CommandFailedException(CommandResult result) {
        super(describe(result));
        this.result = result;
        this.timedOut = false;
    }

    private CommandFailedException(String message, CommandResult result, boolean timedOut, Throwable cause) {
        super(message, cause);
        this.result = result;
        this.timedOut = timedOut;
    }

    static CommandFailedException timedOut(Command command, String stderr) {
        return new CommandFailedException("'" + command.display() + "' did not finish within "
                + command.timeout().toMillis() + " ms and was killed" + tail(stderr), null, true, null);
    }

    static CommandFailedException couldNotStart(Command command, Throwable cause) {
        return new CommandFailedException("'" + command.display() + "' could not start: " + cause.getMessage(), null, false, cause);
    }

    /** The finished command, or null when it timed out or never started. */
    public CommandResult result() {
        return result;
    }

    public boolean timedOut() {
        return timedOut;
    }

    /** The exit code, or -1 when the command did not finish. */
    public int exitCode() {
        return result == null ? -1 : result.exitCode();
    }

    /** The command's stderr, or an empty string. */
    public String stderr() {
        return result == null ? "" : result.stderr();
    }

    private static String describe(CommandResult r) {
        return "'" + r.command().display() + "' exited with " + r.exitCode() + tail(r.stderr().isBlank() ? r.stdout() : r.stderr());
    }

    private static String tail(String output) {
        if (output == null || output.isBlank()) {
            return "";
        }
        String trimmed = output.strip();
        return ": " + (trimmed.length() > 2000 ? "..." + trimmed.substring(trimmed.length() - 2000) : trimmed);
    }
}
