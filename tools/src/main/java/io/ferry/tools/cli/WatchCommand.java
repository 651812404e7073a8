package io.ferry.tools.cli;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Watch;
import io.etcd.jetcd.options.WatchOption;
import io.etcd.jetcd.watch.WatchEvent;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.charset.StandardCharsets;
import java.time.LocalTime;
import java.time.format.DateTimeFormatter;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

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
        CountDownLatch done = new CountDownLatch(1);
        AtomicInteger seen = new AtomicInteger();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        out().line("watching " + prefix + " from revision " + (revision + 1) + " (Ctrl-C to stop)");
        Watch.Watcher watcher = store().client().getWatchClient().watch(ByteSequence.from(prefix, StandardCharsets.UTF_8),
                WatchOption.builder().isPrefix(true).withRevision(revision + 1).build(), Watch.listener(response -> {
                    for (WatchEvent event : response.getEvents()) {
                        if (count > 0 && seen.get() >= count) {
                            return;
                        }
                        String key = event.getKeyValue().getKey().toString(StandardCharsets.UTF_8);
                        String line = LocalTime.now().format(TIME) + " " + (event.getEventType() == WatchEvent.EventType.PUT ? "put" : "del")
                                + " " + key;
                        if (values && event.getEventType() == WatchEvent.EventType.PUT) {
                            line += " " + event.getKeyValue().getValue().toString(StandardCharsets.UTF_8);
                        }
                        out().line(line);
                        if (count > 0 && seen.incrementAndGet() >= count) {
                            done.countDown();
                        }
                    }
                }, error -> {
                    failure.compareAndSet(null, error);
                    done.countDown();
                }));
        try {
            done.await();
        } finally {
            watcher.close();
        }
        if (failure.get() != null) {
            throw new CliException(ExitCodes.ETCD_UNAVAILABLE, "the watch on " + prefix + " ended: " + failure.get().getMessage()
                    + " (is etcd still running?)");
        }
        return ExitCodes.OK;
    }
}
