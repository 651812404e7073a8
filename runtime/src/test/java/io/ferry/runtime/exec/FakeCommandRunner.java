package io.ferry.runtime.exec;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * A scripted {@link CommandRunner} for unit tests of command lines and output parsing. Responses
 * are matched by the longest registered argv prefix; unmatched commands fail loudly so a test never
 * passes by accident. Only for unit tests whose behaviour a real-path test also covers.
 */
public final class FakeCommandRunner implements CommandRunner {

    private final Map<List<String>, Function<Command, CommandResult>> responses = new LinkedHashMap<>();
    private final List<Command> executed = new ArrayList<>();

    /** Any command starting with {@code argvPrefix} prints {@code stdout} and exits 0. */
    public FakeCommandRunner on(List<String> argvPrefix, String stdout) {
        return on(argvPrefix, c -> new CommandResult(c, 0, stdout, "", Duration.ZERO));
    }

    /** Any command starting with {@code argvPrefix} exits with {@code exitCode} printing {@code stderr}. */
    public FakeCommandRunner fail(List<String> argvPrefix, int exitCode, String stderr) {
        return on(argvPrefix, c -> new CommandResult(c, exitCode, "", stderr, Duration.ZERO));
    }

    public FakeCommandRunner on(List<String> argvPrefix, Function<Command, CommandResult> response) {
        responses.put(List.copyOf(argvPrefix), response);
        return this;
    }

    @Override
    public synchronized CommandResult execute(Command command) {
        executed.add(command);
        Function<Command, CommandResult> best = null;
        int bestLength = -1;
        for (Map.Entry<List<String>, Function<Command, CommandResult>> e : responses.entrySet()) {
            List<String> prefix = e.getKey();
            if (prefix.size() > bestLength && command.argv().size() >= prefix.size()
                    && command.argv().subList(0, prefix.size()).equals(prefix)) {
                best = e.getValue();
                bestLength = prefix.size();
            }
        }
        if (best == null) {
            throw new AssertionError("unexpected command: " + command.display());
        }
        return best.apply(command);
    }

    /** Every command run so far, in order. */
    public synchronized List<Command> executed() {
        return List.copyOf(executed);
    }

    public synchronized List<String> commandLines() {
        return executed.stream().map(Command::display).toList();
    }
}
