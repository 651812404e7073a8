package io.ferry.agent;

import io.ferry.runtime.exec.Command;
import io.ferry.runtime.exec.CommandFailedException;
import io.ferry.runtime.exec.CommandResult;
import io.ferry.runtime.exec.CommandRunner;

/** Counts the failures of one engine's commands, so an operator sees which tool is breaking. */
final class CountingCommandRunner implements CommandRunner {

    private final CommandRunner delegate;
    private final String engine;
    private final AgentMetrics metrics;

    CountingCommandRunner(CommandRunner delegate, String engine, AgentMetrics metrics) {
        this.delegate = delegate;
        this.engine = engine;
        this.metrics = metrics;
    }

    @Override
    public CommandResult execute(Command command) {
        try {
            CommandResult result = delegate.execute(command);
            if (!result.succeeded()) {
                metrics.commandFailed(engine);
            }
            return result;
        } catch (CommandFailedException e) {
            metrics.commandFailed(engine);
            throw e;
        }
    }
}
