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
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

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
        String prefix = keys().prefix() + "/" + under;
        CountDownLatch done = new CountDownLatch(1);
        AtomicInteger seen = new AtomicInteger();
        out().line("watching " + prefix + " (Ctrl-C to stop)");
        Watch.Watcher watcher = store().client().getWatchClient().watch(ByteSequence.from(prefix, StandardCharsets.UTF_8),
                WatchOption.builder().isPrefix(true).build(), Watch.listener(response -> {
                    for (WatchEvent event : response.getEvents()) {
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
                    root().err().println("error: the watch ended: " + error.getMessage());
                    done.countDown();
                }));
        try {
            done.await(count > 0 ? 10 : Long.MAX_VALUE / 2, count > 0 ? TimeUnit.MINUTES : TimeUnit.SECONDS);
        } finally {
            watcher.close();
        }
        return ExitCodes.OK;
    }
}
