package io.ferry.tools.cli;

import io.ferry.etcd.store.Versioned;
import io.ferry.model.Condition;
import io.ferry.model.SnapshotIntent;
import io.ferry.model.SnapshotScheduling;
import io.ferry.model.SnapshotProgress;
import io.ferry.model.SnapshotStatus;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeProgress;
import java.util.TreeSet;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

@Command(name = "snapshot", description = "Create, list and remove snapshots.",
        subcommands = {SnapshotCommands.Create.class, SnapshotCommands.Ls.class, SnapshotCommands.Rm.class})
final class SnapshotCommands {

    @Command(name = "create", description = "Snapshot a volume. Idempotent for the same name and volume.")
    static final class Create extends Base {
        @Parameters(index = "0")
        String name;
        @Option(names = "--volume", required = true)
        String volume;
        @Option(names = "--wait", negatable = true, defaultValue = "true", fallbackValue = "true",
                description = "wait until it is ready to use (default: ${DEFAULT-VALUE})")
        boolean await;

        @Override
        public Integer call() {
            String key = keys().snapshot(name);
            Optional<Versioned<SnapshotIntent>> existing = await(store().get(key, SnapshotIntent.class));
            if (existing.isPresent() && !existing.get().value().sourceVolume().equals(volume)) {
                throw new CliException(ExitCodes.CONFLICT, "snapshot " + name + " exists for volume "
                        + existing.get().value().sourceVolume());
            }
            if (existing.isEmpty()) {
                refuseMultiPart(this, volume);
            }
            if (existing.isEmpty() && !await(store().putIfAbsent(key, SnapshotIntent.of(name, volume, "ferryctl", Instant.now())))) {
                throw new CliException(ExitCodes.CONFLICT, "snapshot " + name + " was created by someone else meanwhile");
            }
            if (await) {
                long createRevision = await(store().get(key, SnapshotIntent.class)).map(Versioned::createRevision)
                        .orElse(0L);
                waitFor(Duration.ofSeconds(120), "snapshot " + name + " to be ready", () -> {
                    SnapshotScheduling s = await(store().get(keys().snapshotScheduling(name), SnapshotScheduling.class))
                            .map(Versioned::value).orElse(null);
                    SnapshotStatus st = s == null || s.node() == null ? null
                            : await(store().get(keys().snapshotStatus(s.node(), name), SnapshotStatus.class))
                                    .map(Versioned::value).orElse(null);
                    VolumeProgress.Outcome outcome = SnapshotProgress.cut(name, s, createRevision, st);
                    if (outcome instanceof VolumeProgress.Failed f) {
                        throw new CliException(ExitCodes.of(f.reason().category()), f.message());
                    }
                    return outcome instanceof SnapshotProgress.Cut c ? c.status() : null;
                });
                out().line("snapshot " + name + " of " + volume + " ready");
            } else {
                out().line("snapshot " + name + " of " + volume + " requested");
            }
            return ExitCodes.OK;
        }
    }

    /**
     * A snapshot of several parts is consistent only if every part is cut at one instant, which
     * nothing does yet (docs/layouts.md): refused here, with the reason, rather than left to wait.
     */
    private static void refuseMultiPart(Base cmd, String volume) {
        Optional<VolumeIntent> source = Base.await(cmd.store().get(cmd.keys().volume(volume), VolumeIntent.class))
                .map(Versioned::value);
        if (source.isPresent() && source.get().layout().multiPart()) {
            throw new CliException(ExitCodes.REFUSED, "volume " + volume + " is a " + source.get().layout()
                    + " volume of " + source.get().parts() + " parts; snapshots of multi-part volumes are not supported yet");
        }
    }

    @Command(name = "ls", description = "List snapshots.")
    static final class Ls extends Base {
        @Override
        public Integer call() {
            Map<String, SnapshotIntent> intents = byName(keys().snapshots(), SnapshotIntent.class);
            Map<String, SnapshotScheduling> scheduling = byName(keys().snapshotSchedulings(), SnapshotScheduling.class);
            List<List<String>> cells = new ArrayList<>();
            List<Map<String, Object>> rows = new ArrayList<>();
            for (String name : new TreeSet<>(intents.keySet())) {
                SnapshotIntent i = intents.get(name);
                SnapshotScheduling s = scheduling.get(name);
                SnapshotStatus st = s == null || s.node() == null ? null
                        : await(store().get(keys().snapshotStatus(s.node(), name), SnapshotStatus.class)).map(Versioned::value).orElse(null);
                String state = i.deletionRequested() ? "Deleting" : st != null && st.readyToUse() ? "Ready"
                        : s == null ? "Pending" : s.phase().value();
                String reason = s == null ? null : s.problem().map(Condition::reason).orElse(null);
                if (reason != null && !reason.equals(state)) {
                    state += " (" + reason + ")";
                }
                cells.add(List.of(name, i.sourceVolume(), state, orDash(s == null ? null : s.node()), orDash(s == null ? null : s.pool()),
                        s == null ? "-" : size(s.sizeBytes()), orDash(s == null ? null : s.message())));
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("name", name);
                row.put("intent", i);
                row.put("scheduling", s);
                if (reason != null) {
                    row.put("reason", reason);
                }
                row.put("status", st);
                rows.add(row);
            }
            out().rows(List.of("NAME", "VOLUME", "STATE", "NODE", "POOL", "SIZE", "MESSAGE"), cells, rows);
            return ExitCodes.OK;
        }
    }

    @Command(name = "rm", description = "Delete a snapshot.")
    static final class Rm extends Base {
        @Parameters(index = "0")
        String name;
        @Option(names = "--wait", negatable = true, defaultValue = "true", fallbackValue = "true")
        boolean await;

        @Override
        public Integer call() {
            String key = keys().snapshot(name);
            Versioned<SnapshotIntent> current = await(store().get(key, SnapshotIntent.class))
                    .orElseThrow(() -> new CliException(ExitCodes.NOT_FOUND, "no snapshot named " + name));
            List<String> users = list(keys().volumes(), VolumeIntent.class).stream().map(Versioned::value)
                    .filter(v -> name.equals(v.sourceSnapshot()) && !v.deletionRequested())
                    .map(VolumeIntent::name).sorted().toList();
            if (!current.value().deletionRequested() && !users.isEmpty()) {
                // The controller would accept the flag and then wait for those volumes forever.
                throw new CliException(ExitCodes.CONFLICT, "snapshot " + name + " is the source of volume(s) " + String.join(", ", users)
                        + "; delete them first with `ferryctl volume rm`");
            }
            if (!current.value().deletionRequested()
                    && !await(store().compareAndPut(key, current.value().withDeletionRequested(), current.modRevision()))) {
                throw new CliException(ExitCodes.CONFLICT, "snapshot " + name + " changed meanwhile; run the command again");
            }
            if (await) {
                waitFor(Duration.ofSeconds(120), "snapshot " + name + " to be deleted",
                        () -> await(store().get(key, SnapshotIntent.class)).isEmpty() ? Boolean.TRUE : null);
            }
            out().line("snapshot " + name + (await ? " deleted" : " is being deleted"));
            return ExitCodes.OK;
        }
    }
}
