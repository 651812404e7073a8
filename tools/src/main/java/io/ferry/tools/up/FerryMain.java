package io.ferry.tools.up;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code ferry}: the single-machine entry point; today it has one verb, {@code up}. */
@Command(name = "ferry", mixinStandardHelpOptions = true, version = "ferry 0.1.0",
        description = "Run Ferry on this machine.", subcommands = UpCommand.class)
public final class FerryMain {

    public static void main(String[] args) {
        System.exit(new CommandLine(new FerryMain()).execute(args));
    }
}
