package io.ferry.tools.cli;

import io.ferry.etcd.store.KeyChange;
import io.ferry.etcd.store.BadValueException;
import io.ferry.etcd.store.RawEntry;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.LifecycleEvent;
import io.ferry.model.Names;
import io.ferry.model.ValidationException;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

@Command(name = "events", description = "Show what happened to volumes and snapshots (placed, refused, ready, failed, grown,"
        + " attached, detached, deleted, lost), oldest first. Events are kept about an hour (the controller's"
        + " --event-retention) and at most 20 per object.")
final class EventsCommand extends Base {

    @Option(names = "--volume", description = "only this volume's events")
    String volume;
    @Option(names = "--snapshot", description = "only this snapshot's events")
    String snapshot;
    @Option(names = {"-w", "--watch"}, description = "after the recorded events, print new ones as they are recorded")
    boolean watch;
    @Option(names = "--count", defaultValue = "0", description = "with --watch: stop after this many new events (0: until interrupted)")
    int count;

    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss").withZone(ZoneId.systemDefault());

    @Override
    public Integer call() throws Exception {
        if (volume != null && snapshot != null) {
            throw new CliException(ExitCodes.USAGE, "give --volume or --snapshot, not both");
        }
        if (count < 0) {
            throw new CliException(ExitCodes.USAGE, "--count must be 0 (no limit) or more");
        }
        String prefix;
        try {
            prefix = volume != null ? keys().eventsOf(LifecycleEvent.VOLUME, Names.volumeName(volume))
                    : snapshot != null ? keys().eventsOf(LifecycleEvent.SNAPSHOT, Names.snapshotName(snapshot))
                    : keys().events();
        } catch (ValidationException e) {
            throw new CliException(ExitCodes.USAGE, e.getMessage());
        }
        var listing = await(store().listRaw(prefix));
        List<LifecycleEvent> events = new ArrayList<>();
        for (RawEntry raw : listing.entries()) {
            decode(raw).ifPresent(events::add);
        }
        events.sort(ORDER);
        out().rows(List.of("TIME", "TYPE", "REASON", "OBJECT", "NODE", "MESSAGE"),
                events.stream().map(EventsCommand::cells).toList(), events.stream().map(EventsCommand::structured).toList());
        if (!watch) {
            return ExitCodes.OK;
        }
        return followEvents(prefix, listing.revision());
    }

    /** Oldest first; events of one instant in the order their recorder numbered them. */
    static final Comparator<LifecycleEvent> ORDER = Comparator.comparing(LifecycleEvent::id)
            .thenComparing(LifecycleEvent::objectKind).thenComparing(LifecycleEvent::object);

    private Optional<LifecycleEvent> decode(RawEntry raw) {
        try {
            return Optional.of(store().decode(raw, LifecycleEvent.class)).map(Versioned::value);
        } catch (BadValueException e) {
            warn(e);
            return Optional.empty();
        }
    }

    /** Prints the events recorded after the listing at {@code revision}; deletions (expiry) are not events. */
    private int followEvents(String prefix, long revision) throws InterruptedException {
        return follow(prefix, revision, count, change -> {
            if (change.kind() != KeyChange.Kind.PUT) {
                return false;
            }
            return decode(change.entry()).map(e -> {
                if (out().format() == Output.Format.table) {
                    out().line(String.join("  ", cells(e)));
                } else {
                    out().structured(structured(e));
                }
                return true;
            }).orElse(false);
        });
    }

    static List<String> cells(LifecycleEvent e) {
        return List.of(TIME.format(e.time()), e.type(), e.reason().value() + (e.detail() == null ? "" : " (" + e.detail() + ")"),
                e.objectKind() + "/" + e.object(), e.node() == null ? "-" : e.node(), e.message() == null ? "" : e.message());
    }

    /** One event for {@code -o json|yaml} and {@code volume describe}: what a person reads, in that order. */
    static Map<String, Object> structured(LifecycleEvent e) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("time", e.time().toString());
        m.put("type", e.type());
        m.put("reason", e.reason().value());
        if (e.detail() != null) {
            m.put("detail", e.detail());
        }
        m.put("object", e.objectKind() + "/" + e.object());
        if (e.node() != null) {
            m.put("node", e.node());
        }
        m.put("message", e.message());
        return m;
    }
}
