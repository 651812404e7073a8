package io.ferry.tools.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.BadValueException;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.Condition;
import io.ferry.model.Attachment;
import io.ferry.model.Engine;
import io.ferry.model.FailureDomainLevel;
import io.ferry.model.FailureReason;
import io.ferry.model.LifecycleEvent;
import io.ferry.model.Names;
import io.ferry.model.NoFitReasons;
import io.ferry.model.NodeRegistration;
import io.ferry.model.Placement;
import io.ferry.model.PositionAdvice;
import io.ferry.model.SchedulingPhase;
import io.ferry.model.Sizes;
import io.ferry.model.SnapshotIntent;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeProgress;
import io.ferry.model.VolumeScheduling;
import io.ferry.model.VolumeStatus;
import java.io.IOException;
import java.time.temporal.ChronoUnit;
import java.util.Objects;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicReference;

@Command(name = "volume", description = "Create, list, describe, resize, re-create (lost), remove and explain volumes.",
        subcommands = {VolumeCommands.Create.class, VolumeCommands.Ls.class, VolumeCommands.Describe.class,
                VolumeCommands.Resize.class, VolumeCommands.Recreate.class, VolumeCommands.Rm.class,
                VolumeCommands.Explain.class, VolumeCommands.Wait.class})
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
                requireSource(this, intent);
                if (!await(store().putIfAbsent(key, intent))) {
                    throw new CliException(ExitCodes.CONFLICT, "volume " + name + " was created by someone else meanwhile");
                }
            }
            if (!await) {
                out().line("volume " + name + " requested (" + Sizes.format(intent.sizeBytes()) + ")");
                return ExitCodes.OK;
            }
            VolumeStatus status = waitReady(this, name, Duration.ofSeconds(timeoutSeconds));
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
                    && Objects.equals(a.fsType(), b.fsType()) && !a.deletionRequested();
        }
    }

    /**
     * Waits until the agent reports the volume Ready. Fails at once on Invalid and on a NoFit that
     * cannot resolve itself; a NoFit that may (a pool not reported yet) is waited out, and reported
     * with exit code 7 if it is still there when the time is up.
     */
    static VolumeStatus waitReady(Base cmd, String name, Duration timeout) {
        AtomicReference<VolumeScheduling> lastNoFit = new AtomicReference<>();
        try {
            return Base.waitFor(timeout, "volume " + name + " to become ready", () -> {
                VolumeScheduling s = Base.await(cmd.store().get(cmd.keys().volumeScheduling(name), VolumeScheduling.class))
                        .map(Versioned::value).orElse(null);
                // Decided on the typed refusal (the Scheduled condition), never on the phase's or the message's words.
                FailureReason refused = s == null ? null
                        : s.terminalRefusal().map(Condition::failureReason).orElse(null);
                lastNoFit.set(refused == FailureReason.NO_FIT ? s : null);
                if (s == null) {
                    return null;
                }
                if (refused == FailureReason.INVALID_INTENT) {
                    throw new CliException(ExitCodes.REFUSED, "volume " + name + " is invalid: " + s.message()
                            + " (fix it with `etcdctl put`, or remove it with `ferryctl volume rm " + name + "`)");
                }
                if (refused == FailureReason.NO_FIT) {
                    if (!NoFitReasons.mayResolveByItself(s)) {
                        throw noFit(name, s);
                    }
                    return null;
                }
                Placement p = Base.await(cmd.store().get(cmd.keys().placement(name), Placement.class))
                        .map(Versioned::value).orElse(null);
                VolumeStatus status = p == null ? null : Base.await(cmd.store().get(cmd.keys().volumeStatus(p.node(), name),
                        VolumeStatus.class)).map(Versioned::value).orElse(null);
                return done(VolumeProgress.created(name, s, 0, p, status));
            });
        } catch (CliException e) {
            if (e.exitCode() == ExitCodes.TIMEOUT && lastNoFit.get() != null) {
                throw noFit(name, lastNoFit.get());
            }
            throw e;
        }
    }

    /**
     * A volume made from a source that does not exist (or is being deleted) is never made: the
     * controller only records that it waits for the source, which may also mean "not placed yet".
     * So the source is checked here, by its key, and its absence is exit 3 at once, as CSI answers
     * NOT_FOUND.
     */
    static void requireSource(Base cmd, VolumeIntent intent) {
        if (intent.sourceVolume() != null && Base.await(cmd.store().get(cmd.keys().volume(intent.sourceVolume()),
                VolumeIntent.class)).filter(v -> !v.value().deletionRequested()).isEmpty()) {
            throw new CliException(ExitCodes.NOT_FOUND, "volume " + intent.name() + " is to be made from volume "
                    + intent.sourceVolume() + ", which does not exist (or is being deleted)");
        }
        if (intent.sourceSnapshot() != null && Base.await(cmd.store().get(cmd.keys().snapshot(intent.sourceSnapshot()),
                SnapshotIntent.class)).filter(v -> !v.value().deletionRequested()).isEmpty()) {
            throw new CliException(ExitCodes.NOT_FOUND, "volume " + intent.name() + " is to be made from snapshot "
                    + intent.sourceSnapshot() + ", which does not exist (or is being deleted)");
        }
    }

    /** Waits until the volume's node reports it grown to at least {@code sizeBytes}; a refusal ends the wait at once. */
    static VolumeStatus waitGrown(Base cmd, String name, long sizeBytes, Duration timeout) {
        return Base.waitFor(timeout, "volume " + name + " to grow to " + Sizes.format(sizeBytes), () -> {
            VolumeScheduling s = Base.await(cmd.store().get(cmd.keys().volumeScheduling(name), VolumeScheduling.class))
                    .map(Versioned::value).orElse(null);
            Placement p = placement(cmd, name);
            return done(VolumeProgress.grown(name, s, p, status(cmd, p, name), sizeBytes));
        });
    }

    /**
     * Waits until the volume can be used on {@code node} (initiator {@code hostNqn}): a local device
     * there, or an export allowing that host; a known failure (the node cannot export, the volume
     * lost) ends the wait at once.
     */
    /**
     * Waits until {@code node} (whose initiator is {@code hostNqn}) is served the volume the way the
     * one rule says: its own device, the device handed over on the serving node's machine, or an
     * export allowing that host. A failure Ferry already knows ends the wait at once.
     */
    static VolumeProgress.Done waitServed(Base cmd, String name, String node, String hostNqn, boolean localNeedsDevice,
            Duration timeout) {
        return Base.waitFor(timeout, "volume " + name + " to be served to " + node, () -> {
            Placement p = placement(cmd, name);
            VolumeProgress.Outcome outcome = VolumeProgress.servedTo(name, p, status(cmd, p, name), node, hostNqn,
                    p == null ? null : cmd.registration(p.node()).orElse(null), cmd.registration(node).orElse(null),
                    localNeedsDevice);
            done(outcome);
            return outcome instanceof VolumeProgress.Done d ? d : null;
        });
    }

    static Placement placement(Base cmd, String name) {
        return Base.await(cmd.store().get(cmd.keys().placement(name), Placement.class)).map(Versioned::value).orElse(null);
    }

    static VolumeStatus status(Base cmd, Placement p, String name) {
        return p == null ? null : Base.await(cmd.store().get(cmd.keys().volumeStatus(p.node(), name), VolumeStatus.class))
                .map(Versioned::value).orElse(null);
    }

    @Command(name = "wait", description = "Wait until a volume is created, grown or served to a node. A failure Ferry"
            + " already knows ends the wait at once with its exit code (1 or 7); no outcome in time is exit 5.")
    static final class Wait extends Base {
        enum Outcome { created, grown, served }

        @Parameters(index = "0", description = "volume name")
        String name;
        @Option(names = "--for", required = true, description = "created, grown (needs --size) or served (needs --node)")
        Outcome condition;
        @Option(names = "--size", description = "for grown: the size it must reach, e.g. 20Gi (rounded up to 4 MiB)")
        String size;
        @Option(names = "--node", description = "for served: the node that will use it (its agent must be registered)")
        String node;
        @Option(names = "--timeout", defaultValue = "120", description = "seconds to wait (default: ${DEFAULT-VALUE})")
        int timeoutSeconds;

        @Override
        public Integer call() {
            if (condition == Outcome.grown && size == null) {
                throw new CliException(ExitCodes.USAGE, "--for grown needs --size");
            }
            if (condition == Outcome.served && node == null) {
                throw new CliException(ExitCodes.USAGE, "--for served needs --node");
            }
            var raw = await(store().getRaw(keys().volume(name)))
                    .orElseThrow(() -> new CliException(ExitCodes.NOT_FOUND, "no volume named " + name));
            try {
                VolumeIntent intent = store().decode(raw, VolumeIntent.class).value();
                if (intent.deletionRequested()) {
                    throw new CliException(ExitCodes.CONFLICT, "volume " + name + " is being deleted");
                }
                if (condition == Outcome.created) {
                    requireSource(this, intent);
                }
            } catch (BadValueException e) {
                // An intent that does not decode is the controller's to refuse: the wait below
                // reports its Invalid record with the documented exit code.
            }
            Duration timeout = Duration.ofSeconds(timeoutSeconds);
            VolumeStatus status;
            String what;
            switch (condition) {
                case created -> {
                    status = waitReady(this, name, timeout);
                    what = "ready";
                }
                case grown -> {
                    long target = Sizes.volumeSize(Sizes.parse(size));
                    status = waitGrown(this, name, target, timeout);
                    what = "grown to " + Sizes.format(target);
                }
                default -> {
                    String hostNqn = registration(node).map(NodeRegistration::hostNqn).orElseThrow(() -> new CliException(ExitCodes.NOT_FOUND,
                                    "node " + node + " is not registered (is its Ferry agent running?)"));
                    status = waitServed(this, name, node, hostNqn, true, timeout).status();
                    what = "served to " + node;
                }
            }
            if (out().format() == Output.Format.table) {
                out().line("volume " + name + " " + what + " on " + status.node()
                        + (status.devicePath() == null ? "" : " at " + status.devicePath()));
            } else {
                out().structured(status);
            }
            return ExitCodes.OK;
        }
    }

    /** The status once done, null while in progress; a known failure ends the wait with its exit code. */
    static VolumeStatus done(VolumeProgress.Outcome outcome) {
        if (outcome instanceof VolumeProgress.Failed f) {
            String hint = switch (f.reason()) {
                case INVALID_INTENT -> " (fix it with `etcdctl put`, or remove it with `ferryctl volume rm`)";
                case NO_FIT -> " (see `ferryctl volume explain`; the request stays and is placed when room appears,"
                        + " or remove it with `ferryctl volume rm`)";
                case VOLUME_LOST -> " (see `ferryctl volume describe` and docs/data-safety.md, \"lost volumes\")";
                default -> "";
            };
            throw new CliException(ExitCodes.of(f.reason().category()), f.message() + hint);
        }
        return outcome instanceof VolumeProgress.Done d ? d.status() : null;
    }

    private static CliException noFit(String name, VolumeScheduling s) {
        return new CliException(ExitCodes.REFUSED, "volume " + name + ": " + s.message()
                + " (see `ferryctl volume explain " + name + "`; the request stays and is placed when room appears,"
                + " or remove it with `ferryctl volume rm " + name + "`)");
    }

    @Command(name = "ls", description = "List volumes with where they live and their state.")
    static final class Ls extends Base {
        @Override
        public Integer call() {
            // An intent that does not decode is a request nobody can act on: it is listed, as
            // Invalid with the error, so that it is seen and fixed or removed.
            Named<VolumeIntent> named = byNameWithInvalid(keys().volumes(), VolumeIntent.class);
            Map<String, VolumeIntent> intents = named.values();
            Map<String, String> invalid = named.invalid();
            Map<String, Placement> placements = byName(keys().placements(), Placement.class);
            Map<String, VolumeScheduling> scheduling = byName(keys().volumeSchedulings(), VolumeScheduling.class);
            Map<String, VolumeStatus> statuses = new LinkedHashMap<>();
            for (Versioned<VolumeStatus> v : listOf(keys().nodes(), FerryKeys.Kind.NODE_VOLUME_STATUS, VolumeStatus.class)) {
                statuses.put(v.value().volume(), v.value());
            }
            TreeSet<String> names = new TreeSet<>(intents.keySet());
            names.addAll(placements.keySet());
            names.addAll(invalid.keySet());
            List<List<String>> cells = new ArrayList<>();
            List<Map<String, Object>> structured = new ArrayList<>();
            for (String n : names) {
                VolumeIntent i = intents.get(n);
                Placement p = placements.get(n);
                VolumeScheduling s = scheduling.get(n);
                VolumeStatus st = statuses.get(n);
                String error = invalid.get(n);
                String state = error != null ? SchedulingPhase.INVALID.value() : volumeState(i, s, st);
                // The agent's message says why a volume failed or is lost; otherwise the controller's
                // says why it waits.
                String message = error != null ? "invalid volume intent: " + error
                        : st != null && st.failing() ? st.message() : s == null ? null : s.message();
                long bytes = i != null ? i.sizeBytes() : p != null ? p.sizeBytes() : 0;
                cells.add(List.of(n, bytes > 0 ? size(bytes) : "-", state, orDash(p == null ? null : p.node()),
                        orDash(p == null ? null : p.pool()), orDash(st == null ? null : st.devicePath()),
                        orDash(message)));
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("name", n);
                row.put("state", state);
                reason(s).ifPresent(r -> row.put("reason", r));
                if (error != null) {
                    row.put("error", error);
                }
                row.put("intent", i);
                row.put("placement", p);
                row.put("scheduling", s);
                row.put("status", st);
                structured.add(row);
            }
            out().rows(List.of("NAME", "SIZE", "STATE", "NODE", "POOL", "DEVICE", "MESSAGE"), cells, structured);
            return ExitCodes.OK;
        }
    }

    /**
     * One word for where a volume is: the agent's phase once it reports one, else the controller's,
     * Deleting once deletion is asked for, and "(unreachable)" when its node is down.
     */
    static String volumeState(VolumeIntent intent, VolumeScheduling scheduling, VolumeStatus status) {
        String state = status != null ? status.phase().value() : scheduling != null ? scheduling.phase().value() : "Pending";
        if (intent != null && intent.deletionRequested()) {
            state = "Deleting";
        }
        String reason = reason(scheduling).orElse(null);
        if (FailureReason.NODE_UNREACHABLE.value().equals(reason)) {
            state += " (unreachable)";
        } else if (reason != null && !reason.equals(state)) {
            state += " (" + reason + ")";
        }
        return state;
    }

    /**
     * The controller's typed reason for what is wrong with a volume (its record's first false
     * condition), with the attempt count of a failure being retried: {@code NoFit},
     * {@code Retrying 3}, {@code NodeUnreachable}.
     */
    static Optional<String> reason(VolumeScheduling scheduling) {
        return scheduling == null ? Optional.empty() : scheduling.problem()
                .map(c -> c.reason() + (c.attempts() > 0 && !c.failureReason().terminal() ? " " + c.attempts() : ""));
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
            long target = Sizes.volumeSize(Sizes.parse(size));
            if (target < current.value().sizeBytes()) {
                throw new CliException(ExitCodes.REFUSED, "volume " + name + " is " + Sizes.format(current.value().sizeBytes())
                        + "; shrinking is not supported");
            }
            if (target > current.value().sizeBytes()
                    && !await(store().compareAndPut(key, current.value().withSizeBytes(target), current.modRevision()))) {
                throw new CliException(ExitCodes.CONFLICT, "volume " + name + " changed meanwhile; run the command again");
            }
            if (await) {
                waitGrown(this, name, target, Duration.ofSeconds(120));
            }
            out().line("volume " + name + " is " + Sizes.format(target));
            return ExitCodes.OK;
        }
    }

    @Command(name = "recreate", description = "Replace a Lost volume by a new, empty one where it was placed (its old data"
            + " is given up). Refused unless the volume is Lost, and without --empty.")
    static final class Recreate extends Base {
        @Parameters(index = "0")
        String name;
        @Option(names = "--empty", description = "required: the new volume is empty; the lost data is not recovered")
        boolean empty;
        @Option(names = "--wait", negatable = true, defaultValue = "true", fallbackValue = "true",
                description = "wait until the new volume is ready (default: ${DEFAULT-VALUE})")
        boolean await;
        @Option(names = "--timeout", defaultValue = "120", description = "seconds to wait (default: ${DEFAULT-VALUE})")
        int timeoutSeconds;

        @Override
        public Integer call() {
            Names.volumeName(name);
            if (!empty) {
                throw new CliException(ExitCodes.USAGE, "`volume recreate` replaces the lost volume " + name + " by an empty one"
                        + " and gives its data up; say so with --empty");
            }
            String key = keys().volume(name);
            Versioned<VolumeIntent> intent = await(store().get(key, VolumeIntent.class))
                    .orElseThrow(() -> new CliException(ExitCodes.NOT_FOUND, "no volume named " + name));
            if (intent.value().deletionRequested()) {
                throw new CliException(ExitCodes.CONFLICT, "volume " + name + " is being deleted");
            }
            Placement placement = await(store().get(keys().placement(name), Placement.class)).map(Versioned::value)
                    .orElseThrow(() -> new CliException(ExitCodes.CONFLICT, "volume " + name + " has no placement, so it is"
                            + " not Lost anywhere; see `ferryctl volume describe " + name + "`"));
            VolumeStatus status = await(store().get(keys().volumeStatus(placement.node(), name), VolumeStatus.class))
                    .map(Versioned::value).orElse(null);
            if (status == null || !status.lost()) {
                throw new CliException(ExitCodes.CONFLICT, "volume " + name + " is "
                        + (status == null ? "without a status on " + placement.node() : status.phase().value() + " on " + placement.node())
                        + ", not Lost; only a Lost volume can be re-created empty");
            }
            Instant request = Instant.now().truncatedTo(ChronoUnit.MILLIS);
            if (!await(store().compareAndPut(key, intent.value().withRecreateEmptyRequested(request), intent.modRevision()))) {
                throw new CliException(ExitCodes.CONFLICT, "volume " + name + " changed meanwhile; run the command again");
            }
            if (!await) {
                out().line("volume " + name + ": re-creation as an empty volume requested");
                return ExitCodes.OK;
            }
            long emptyBefore = placement.emptySinceGeneration();
            VolumeStatus ready = waitFor(Duration.ofSeconds(timeoutSeconds), "volume " + name + " to be re-created empty", () -> {
                Placement p = await(store().get(keys().placement(name), Placement.class)).map(Versioned::value).orElse(null);
                if (p == null || !request.equals(p.recreateEmptyRequestedAt())) {
                    return null;
                }
                if (p.emptySinceGeneration() == emptyBefore) {
                    throw new CliException(ExitCodes.CONFLICT, "the controller refused to re-create volume " + name
                            + ": it was no longer Lost when the request arrived; see `ferryctl volume describe " + name + "`");
                }
                VolumeStatus st = await(store().get(keys().volumeStatus(p.node(), name), VolumeStatus.class))
                        .map(Versioned::value).orElse(null);
                // Done or failed as for any request on the volume, at the generation that asked for the
                // empty volume or a later one.
                return done(VolumeProgress.servedTo(name, p, st, p.node(), "", null, null, false));
            });
            out().line("volume " + name + " re-created empty on " + ready.node()
                    + (ready.devicePath() == null ? "" : " at " + ready.devicePath()));
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

    @Command(name = "explain", description = "Ask the controller why a volume goes (or cannot go) where it does.")
    static final class Explain extends Base {
        @Parameters(index = "0")
        String name;

        @Override
        public Integer call() throws Exception {
            Names.volumeName(name);
            String admin = root().adminUrl();
            URI uri;
            try {
                uri = URI.create(admin + "/api/v1/volumes/" + name + "/explain");
            } catch (IllegalArgumentException e) {
                throw new CliException(ExitCodes.USAGE, "--admin " + admin + " is not a URL such as http://127.0.0.1:7360");
            }
            HttpResponse<String> response;
            try {
                HttpRequest.Builder request = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10));
                String token = root().adminToken();
                if (token != null) {
                    request.header("Authorization", "Bearer " + token);
                }
                response = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()
                        .send(request.build(), HttpResponse.BodyHandlers.ofString());
            } catch (IOException e) {
                throw new CliException(ExitCodes.FAILED, "cannot reach the controller's admin API at " + admin
                        + " (" + e.getMessage() + "); set --admin or FERRY_ADMIN");
            }
            if (response.statusCode() == 404) {
                throw new CliException(ExitCodes.NOT_FOUND, "no volume named " + name);
            }
            if (response.statusCode() == 400) {
                throw new CliException(ExitCodes.REFUSED, "the controller cannot explain volume " + name + ": " + response.body());
            }
            if (response.statusCode() == 401 || response.statusCode() == 403) {
                throw new CliException(ExitCodes.FAILED, "the controller's admin API at " + admin + " refused the request ("
                        + response.statusCode() + "); a controller started with an admin token needs it here too:"
                        + " --admin-token-file or FERRY_ADMIN_TOKEN_FILE");
            }
            if (response.statusCode() != 200) {
                throw new CliException(ExitCodes.FAILED, "the controller answered " + response.statusCode() + ": " + response.body());
            }
            var tree = new ObjectMapper().readTree(response.body());
            if (out().format() != Output.Format.table) {
                out().structured(tree);
                return ExitCodes.OK;
            }
            out().line(tree.path("summary").asText() + (tree.has("placedOn") ? "; placed on " + tree.path("placedOn").path("pool").asText() : ""));
            if (tree.has("recorded")) {
                // What the controller last wrote (typed), beside what it would decide now.
                var recorded = tree.path("recorded");
                out().line("recorded: " + recorded.path("reason").asText() + (recorded.hasNonNull("message")
                        ? " (" + recorded.path("message").asText() + ")" : ""));
            }
            List<List<String>> cells = new ArrayList<>();
            for (var pool : tree.path("pools")) {
                cells.add(List.of(pool.path("pool").asText(), pool.path("node").asText(),
                        pool.path("passed").asBoolean() ? "fits" : pool.path("failed").asText(),
                        pool.has("score") ? pool.path("score").asText() : "-", size(pool.path("freeBytes").asLong())));
            }
            out().rows(List.of("POOL", "NODE", "VERDICT", "SCORE", "FREE"), cells, tree);
            return ExitCodes.OK;
        }
    }
}
