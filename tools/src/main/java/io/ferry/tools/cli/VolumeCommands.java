package io.ferry.tools.cli;

import io.ferry.etcd.store.Versioned;
import io.ferry.model.Attachment;
import io.ferry.model.Engine;
import io.ferry.model.FailureDomainLevel;
import io.ferry.model.Layout;
import io.ferry.model.LifecycleEvent;
import io.ferry.model.MirrorReport;
import io.ferry.model.Placement;
import io.ferry.model.PositionAdvice;
import io.ferry.model.Sizes;
import io.ferry.model.SnapshotIntent;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeParts;
import io.ferry.model.VolumeProgress;
import io.ferry.model.VolumeScheduling;
import io.ferry.model.VolumeStatus;
import java.util.Objects;
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

@Command(name = "volume", description = "Create, list, describe, resize, re-create (lost), replace a mirror's lost leg,"
        + " remove and explain volumes.",
        subcommands = {VolumeCommands.Create.class, VolumeLsCommand.class, VolumeCommands.Describe.class,
                VolumeCommands.Resize.class, VolumeRecreateCommand.class, VolumeReplaceLegCommand.class,
                VolumeMigrateCommand.class,
                VolumeCommands.Rm.class,
                VolumeExplainCommand.class, VolumeWaitCommand.class})
final class VolumeCommands {

    @Command(name = "create", description = "Ask for a volume. Idempotent: the same request again changes nothing.")
    static final class Create extends Base {
        @Parameters(index = "0", description = "volume name (lowercase letters, digits, '-')")
        String name;
        @Option(names = "--size", required = true, description = "e.g. 10Gi, 512Mi, 1T (rounded up to 4 MiB)")
        String size;
        @Option(names = "--thin", description = "thin-provisioned")
        boolean thin;
        @Option(names = "--engine", description = "only pools of this engine")
        String engine;
        @Option(names = "--consumer", description = "node that will use the volume")
        String consumer;
        @Option(names = "--position", description = "MustLocal, PreferLocal (default), PreferRemote or MustRemote")
        String position;
        @Option(names = "--spread-group", description = "volumes of one group land in distinct failure domains")
        String spreadGroup;
        @Option(names = "--spread-level", description = "node (default), rack, switch or zone")
        String spreadLevel;
        @Option(names = "--pool-selector", description = "key=value pool labels to require (repeatable)")
        List<String> poolSelector;
        @Option(names = "--node-selector", description = "key=value node labels to require (repeatable)")
        List<String> nodeSelector;
        @Option(names = "--from-snapshot", description = "fill it from this snapshot")
        String fromSnapshot;
        @Option(names = "--clone-of", description = "fill it from this volume")
        String cloneOf;
        @Option(names = "--fs", description = "ext4 or xfs, made on first attach")
        String fsType;
        @Option(names = "--layout", description = "single (default), linear (segments end to end on several pools),"
                + " striped (equal stripes on distinct pools) or mirror (legs in distinct failure domains); see docs/layouts.md")
        String layout;
        @Option(names = "--parts", description = "how many parts: 1-4 segments for linear, 2-4 stripes for striped, 2-3 legs for mirror"
                + " (default 2)")
        Integer parts;
        @Option(names = "--wait", negatable = true, defaultValue = "true", fallbackValue = "true",
                description = "wait until the volume is ready (default: ${DEFAULT-VALUE})")
        boolean await;
        @Option(names = "--timeout", defaultValue = "120", description = "seconds to wait (default: ${DEFAULT-VALUE})")
        int timeoutSeconds;

        @Override
        public Integer call() {
            VolumeIntent.Builder b = VolumeIntent.builder(name, Sizes.parse(size)).thin(thin).createdBy("ferryctl")
                    .createdAt(Instant.now());
            if (engine != null) {
                b.engine(Engine.parse(engine));
            }
            if (consumer != null) {
                b.consumerNode(consumer);
            }
            if (position != null) {
                b.positionAdvice(PositionAdvice.parse(position));
            }
            if (spreadGroup != null) {
                b.spreadGroup(spreadGroup);
            }
            if (spreadLevel != null) {
                b.failureDomainLevel(FailureDomainLevel.parse(spreadLevel));
            }
            b.poolSelector(labels(poolSelector)).nodeSelector(labels(nodeSelector));
            if (fromSnapshot != null) {
                b.sourceSnapshot(fromSnapshot);
            }
            if (cloneOf != null) {
                b.sourceVolume(cloneOf);
            }
            if (fsType != null) {
                b.fsType(fsType);
            }
            if (layout != null) {
                b.layout(Layout.parse(layout));
            }
            if (parts != null) {
                b.parts(parts);
            }
            VolumeIntent intent = b.build();
            String key = keys().volume(name);
            Optional<Versioned<VolumeIntent>> existing = await(store().get(key, VolumeIntent.class));
            if (existing.isPresent()) {
                if (!sameRequest(existing.get().value(), intent)) {
                    throw new CliException(ExitCodes.CONFLICT, "volume " + name + " exists with other settings"
                            + (existing.get().value().deletionRequested() ? " and is being deleted" : "")
                            + "; see `ferryctl volume describe " + name + "`");
                }
            } else {
                VolumeWaits.requireSource(this, intent);
                if (!await(store().putIfAbsent(key, intent))) {
                    throw new CliException(ExitCodes.CONFLICT, "volume " + name + " was created by someone else meanwhile");
                }
            }
            if (!await) {
                out().line("volume " + name + " requested (" + Sizes.format(intent.sizeBytes()) + ")");
                return ExitCodes.OK;
            }
            if (intent.layout().multiPart()) {
                List<VolumeProgress.Done> done = VolumeWaits.waitPartsReady(this, name, Duration.ofSeconds(timeoutSeconds));
                out().line("volume " + name + " ready: " + partsReady(intent, done));
                return ExitCodes.OK;
            }
            VolumeStatus status = VolumeWaits.waitReady(this, name, Duration.ofSeconds(timeoutSeconds));
            out().line("volume " + name + " ready on " + status.node() + (status.devicePath() == null ? "" : " at " + status.devicePath()));
            return ExitCodes.OK;
        }

        private static boolean sameRequest(VolumeIntent a, VolumeIntent b) {
            return a.sizeBytes() == b.sizeBytes() && a.thin() == b.thin() && a.engine() == b.engine()
                    && Objects.equals(a.consumerNode(), b.consumerNode()) && a.positionAdvice() == b.positionAdvice()
                    && Objects.equals(a.spreadGroup(), b.spreadGroup()) && a.failureDomainLevel() == b.failureDomainLevel()
                    && a.poolSelector().equals(b.poolSelector()) && a.nodeSelector().equals(b.nodeSelector())
                    && Objects.equals(a.sourceSnapshot(), b.sourceSnapshot())
                    && Objects.equals(a.sourceVolume(), b.sourceVolume())
                    && Objects.equals(a.fsType(), b.fsType()) && a.layout() == b.layout() && a.parts() == b.parts()
                    && !a.deletionRequested();
        }
    }

    /** A multi-part volume once ready, in words: {@code mirror of 2 parts: db--p0 on node-b, db--p1 on node-c}. */
    static String partsReady(VolumeIntent intent, List<VolumeProgress.Done> parts) {
        return intent.layout() + " of " + parts.size() + " parts: " + String.join(", ", parts.stream()
                .map(d -> d.placement().volume() + " on " + d.placement().node()).toList());
    }

    @Command(name = "describe", description = "Show everything known about a volume.")
    static final class Describe extends Base {
        @Parameters(index = "0")
        String name;

        @Override
        public Integer call() {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("name", name);
            await(store().get(keys().volume(name), VolumeIntent.class)).ifPresent(v -> row.put("intent", v.value()));
            Optional<Placement> p = await(store().get(keys().placement(name), Placement.class)).map(Versioned::value);
            p.ifPresent(v -> row.put("placement", v));
            await(store().get(keys().volumeScheduling(name), VolumeScheduling.class)).ifPresent(v -> row.put("scheduling", v.value()));
            Optional<VolumeStatus> status = p.flatMap(v -> await(store().get(keys().volumeStatus(v.node(), name), VolumeStatus.class)))
                    .map(Versioned::value);
            status.ifPresent(v -> row.put("status", v));
            await(store().get(keys().volumeParts(name), VolumeParts.class)).map(Versioned::value)
                    .ifPresent(v -> row.put("parts", describeParts(this, v)));
            List<MirrorReport> reports = list(keys().mirrorReportsOf(name), MirrorReport.class).stream()
                    .map(Versioned::value).toList();
            if (!reports.isEmpty()) {
                row.put("mirrorHealth", reports);
            }
            status.filter(VolumeStatus::lost).ifPresent(v -> row.put("lost", v.message()
                    + " -- what to do: bring the storage back (the volume returns by itself), or replace it by an empty one"
                    + " (`ferryctl volume recreate --empty " + name + "`), or delete it (`ferryctl volume rm " + name + "`);"
                    + " see docs/data-safety.md, \"Operators: lost volumes\""));
            List<Attachment> attachments = list(keys().attachmentsOf(name), Attachment.class).stream().map(Versioned::value).toList();
            if (!attachments.isEmpty()) {
                row.put("attachments", attachments);
            }
            // The newest events last, as `ferryctl events` prints them; a deleted volume's stay a while.
            List<Map<String, Object>> events = list(keys().eventsOf(LifecycleEvent.VOLUME, name), LifecycleEvent.class).stream()
                    .map(Versioned::value).sorted(EventsCommand.ORDER).map(EventsCommand::structured).toList();
            if (!events.isEmpty()) {
                row.put("events", events);
            }
            if (row.size() == 1) {
                throw new CliException(ExitCodes.NOT_FOUND, "no volume named " + name + " (see `ferryctl volume ls`)");
            }
            (out().format() == Output.Format.table ? new Output(root().out(), Output.Format.yaml) : out()).structured(row);
            return ExitCodes.OK;
        }
    }

    /** Each part of a multi-part volume as describe shows it: its placement, record and agent's status. */
    private static List<Map<String, Object>> describeParts(Base cmd, VolumeParts parts) {
        List<Map<String, Object>> rows = new ArrayList<>();
        for (VolumeParts.Part part : parts.parts()) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("name", part.name());
            row.put("index", part.index());
            row.put("sizeBytes", part.sizeBytes());
            if (part.replaces() != null) {
                row.put("replaces", part.replaces());
            }
            if (part.movesFrom() != null) {
                row.put("movesFrom", part.movesFrom());
            }
            Placement placement = VolumeWaits.placement(cmd, part.name());
            VolumeScheduling scheduling = Base.await(cmd.store().get(cmd.keys().volumeScheduling(part.name()),
                    VolumeScheduling.class)).map(Versioned::value).orElse(null);
            VolumeStatus status = VolumeWaits.status(cmd, placement, part.name());
            row.put("state", VolumeLsCommand.volumeState(null, scheduling, status));
            row.put("placement", placement);
            row.put("status", status);
            rows.add(row);
        }
        return rows;
    }

    @Command(name = "resize", description = "Grow a volume (online). Shrinking is refused.")
    static final class Resize extends Base {
        @Parameters(index = "0")
        String name;
        @Option(names = "--size", required = true, description = "new size, e.g. 20Gi")
        String size;
        @Option(names = "--wait", negatable = true, defaultValue = "true", fallbackValue = "true",
                description = "wait until the agent has grown it (default: ${DEFAULT-VALUE})")
        boolean await;

        @Override
        public Integer call() {
            String key = keys().volume(name);
            Versioned<VolumeIntent> current = await(store().get(key, VolumeIntent.class))
                    .orElseThrow(() -> new CliException(ExitCodes.NOT_FOUND, "no volume named " + name));
            VolumeIntent spec = current.value();
            long target = VolumeIntent.volumeSize(spec.layout(), spec.parts(), Sizes.parse(size));
            if (target < current.value().sizeBytes()) {
                throw new CliException(ExitCodes.REFUSED, "volume " + name + " is " + Sizes.format(current.value().sizeBytes())
                        + "; shrinking is not supported");
            }
            if (target > current.value().sizeBytes()
                    && !await(store().compareAndPut(key, current.value().withSizeBytes(target), current.modRevision()))) {
                throw new CliException(ExitCodes.CONFLICT, "volume " + name + " changed meanwhile; run the command again");
            }
            if (await && spec.layout().multiPart()) {
                VolumeWaits.waitPartsGrown(this, name, target, Duration.ofSeconds(120));
            } else if (await) {
                VolumeWaits.waitGrown(this, name, target, Duration.ofSeconds(120));
            }
            // Every part has grown; the consumer grows the device it assembled, and its filesystem, when the
            // volume is expanded on its node (NodeExpandVolume).
            out().line("volume " + name + " is " + Sizes.format(target) + (spec.layout().multiPart()
                    ? " (each part grown; the consumer grows the assembled device when it expands the volume on its node)"
                    : ""));
            return ExitCodes.OK;
        }
    }

    @Command(name = "rm", description = "Delete a volume and its data.")
    static final class Rm extends Base {
        @Parameters(index = "0")
        String name;
        @Option(names = "--wait", negatable = true, defaultValue = "true", fallbackValue = "true",
                description = "wait until it is gone everywhere (default: ${DEFAULT-VALUE})")
        boolean await;
        @Option(names = "--ignore-not-found", description = "succeed when there is no such volume")
        boolean ignoreNotFound;

        @Override
        public Integer call() {
            String key = keys().volume(name);
            Optional<Versioned<VolumeIntent>> current = await(store().get(key, VolumeIntent.class));
            if (current.isEmpty()) {
                if (ignoreNotFound) {
                    return ExitCodes.OK;
                }
                throw new CliException(ExitCodes.NOT_FOUND, "no volume named " + name);
            }
            List<String> snapshots = list(keys().snapshots(), SnapshotIntent.class).stream().map(Versioned::value)
                    .filter(sn -> sn.sourceVolume().equals(name) && !sn.deletionRequested())
                    .map(SnapshotIntent::name).sorted().toList();
            if (!current.get().value().deletionRequested() && !snapshots.isEmpty()) {
                // The controller would accept the flag and then wait for the snapshots forever.
                throw new CliException(ExitCodes.CONFLICT, "volume " + name + " has snapshots: " + String.join(", ", snapshots)
                        + "; delete them first with `ferryctl snapshot rm`");
            }
            List<String> attachedTo = list(keys().attachmentsOf(name), Attachment.class).stream()
                    .map(a -> a.value().node()).sorted().toList();
            if (!current.get().value().deletionRequested() && !attachedTo.isEmpty()) {
                // The controller would hold the deletion until every attachment is gone; say so now.
                throw new CliException(ExitCodes.CONFLICT, "volume " + name + " is attached to " + String.join(", ", attachedTo)
                        + "; detach it first with `ferryctl detach " + name + " --node <node>`");
            }
            if (!current.get().value().deletionRequested()
                    && !await(store().compareAndPut(key, current.get().value().withDeletionRequested(), current.get().modRevision()))) {
                throw new CliException(ExitCodes.CONFLICT, "volume " + name + " changed meanwhile; run the command again");
            }
            if (await) {
                waitFor(Duration.ofSeconds(120), "volume " + name + " to be deleted", () -> {
                    if (await(store().get(key, VolumeIntent.class)).isEmpty()) {
                        return Boolean.TRUE;
                    }
                    return null;
                });
                out().line("volume " + name + " deleted");
            } else {
                out().line("volume " + name + " is being deleted");
            }
            return ExitCodes.OK;
        }
    }
}
