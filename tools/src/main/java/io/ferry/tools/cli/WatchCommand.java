package io.ferry.tools.cli;

import io.ferry.etcd.store.KeyChange;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.charset.StandardCharsets;
import java.time.LocalTime;
import java.time.format.DateTimeFormatter;

@Command(name = "watch", description = "Follow every change under the Ferry prefix (or a part of it) as it happens.")
final class WatchCommand extends Base {

    @Option(names = "--under", defaultValue = "", description = "only keys under this part of the prefix, e.g. volumes/ or nodes/node-1/")
    String under;
    @Option(names = "--count", defaultValue = "0", description = "stop after this many changes (0: until interrupted)")
    int count;
    @Option(names = "--values", description = "print the new values, not only the keys")
    boolean values;

    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("HH:mm:ss.SSS");

    @Override
    public Integer call() throws Exception {
        if (count < 0) {
            throw new CliException(ExitCodes.USAGE, "--count must be 0 (no limit) or more");
        }
        String prefix = keys().prefix() + "/" + under;
        // One read first: an unreachable etcd fails here with exit code 6 instead of a watch that
        // retries silently forever, and the watch starts right after a known revision.
        long revision = await(store().currentRevision());
        out().line("watching " + prefix + " from revision " + (revision + 1) + " (Ctrl-C to stop)");
        return follow(prefix, revision, count, change -> {
            boolean put = change.kind() == KeyChange.Kind.PUT;
            String line = LocalTime.now().format(TIME) + " " + (put ? "put" : "del") + " " + change.entry().key();
            if (values && put) {
                line += " " + new String(change.entry().value(), StandardCharsets.UTF_8);
            }
            out().line(line);
            return true;
        });
    }
}
