package io.ferry.runtime.exec;

import java.time.Duration;

/** What a finished command printed and returned. */
public record CommandResult(Command command, int exitCode, String stdout, String stderr, Duration elapsed) {

    public boolean succeeded() {
        return exitCode == 0;
    }
}
