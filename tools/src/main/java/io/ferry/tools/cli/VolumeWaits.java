package io.ferry.tools.cli;

import io.ferry.csi.PartsProgress;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.Condition;
import io.ferry.model.FailureReason;
import io.ferry.model.NoFitReasons;
import io.ferry.model.NodeRegistration;
import io.ferry.model.Placement;
import io.ferry.model.Sizes;
import io.ferry.model.SnapshotIntent;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeParts;
import io.ferry.model.VolumeProgress;
import io.ferry.model.VolumeScheduling;
import io.ferry.model.VolumeStatus;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;

/**
 * How ferryctl waits on a volume (created, grown, served to a node) and turns a failure Ferry
 * already knows into its documented exit code: one place for every command that waits.
 */
final class VolumeWaits {

    private VolumeWaits() {
    }

    /**
     * Waits until the agent reports the volume Ready. Fails at once on Invalid and on a NoFit that
     * cannot resolve itself; a NoFit that may (a pool not reported yet) is waited out, and reported
     * with exit code 7 if it is still there when the time is up.
     */
    static VolumeStatus waitReady(Base cmd, String name, Duration timeout) {
        return waitCreated(cmd, name, timeout, "volume " + name + " to become ready", true, s -> {
            Placement p = placement(cmd, name);
            return done(VolumeProgress.created(name, s, 0, p, status(cmd, p, name)));
        });
    }

    /**
     * {@link #waitReady} for a multi-part volume (docs/layouts.md): until the controller has placed
     * every part and each part's agent reports it Ready; each part's outcome, in assembly order.
     * Before the parts exist the volume's own record answers, with the same exit codes.
     */
    static List<VolumeProgress.Done> waitPartsReady(Base cmd, String name, Duration timeout) {
        // The controller may place every part without writing the volume a record of its own.
        return waitCreated(cmd, name, timeout, "every part of volume " + name + " to become ready", false,
                s -> done(PartsProgress.created(name, s, 0, parts(cmd, name), records(cmd))));
    }

    /**
     * Waits on the volume's scheduling record (until it exists, when {@code recordFirst}), then on
     * what {@code placed} reads once the record refuses nothing (null: not yet).
     */
    private static <T> T waitCreated(Base cmd, String name, Duration timeout, String what, boolean recordFirst,
                                     Function<VolumeScheduling, T> placed) {
        AtomicReference<VolumeScheduling> lastNoFit = new AtomicReference<>();
        try {
            return Base.waitFor(timeout, what, () -> {
                VolumeScheduling s = Base.await(cmd.store().get(cmd.keys().volumeScheduling(name), VolumeScheduling.class))
                        .map(Versioned::value).orElse(null);
                // Decided on the typed refusal (the Scheduled condition), never on the phase's or the message's words.
                FailureReason refused = s == null ? null
                        : s.terminalRefusal().map(Condition::failureReason).orElse(null);
                lastNoFit.set(refused == FailureReason.NO_FIT ? s : null);
                if (s == null) {
                    return recordFirst ? null : placed.apply(null);
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
                return placed.apply(s);
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
        if (intent.sourceVolume() != null) {
            VolumeIntent source = Base.await(cmd.store().get(cmd.keys().volume(intent.sourceVolume()), VolumeIntent.class))
                    .map(Versioned::value).filter(v -> !v.deletionRequested() && v.partOf() == null)
                    .orElseThrow(() -> new CliException(ExitCodes.NOT_FOUND, "volume " + intent.name()
                            + " is to be made from volume " + intent.sourceVolume()
                            + ", which does not exist (or is being deleted)"));
            if (source.layout().multiPart()) {
                throw new CliException(ExitCodes.REFUSED, "volume " + intent.name() + " cannot be made from volume "
                        + source.name() + ": it is a " + source.layout() + " volume of " + source.parts()
                        + " parts, and cloning a multi-part volume is not supported yet");
            }
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

    /** {@link #waitServed} for a multi-part volume: until every part is served to {@code node}, each its own way. */
    static List<VolumeProgress.Done> waitPartsServed(Base cmd, String name, String node, String hostNqn,
                                                     boolean localNeedsDevice, Duration timeout) {
        return Base.waitFor(timeout, "every part of volume " + name + " to be served to " + node,
                () -> done(PartsProgress.servedTo(name, parts(cmd, name), node, hostNqn,
                        cmd.registration(node).orElse(null), localNeedsDevice, records(cmd))));
    }

    /**
     * {@link #waitGrown} for a multi-part volume: until the controller has grown the parts record to
     * {@code sizeBytes} and every part reports its new size. A refusal for want of room, recorded on
     * the volume, ends the wait at once.
     */
    static List<VolumeProgress.Done> waitPartsGrown(Base cmd, String name, long sizeBytes, Duration timeout) {
        return Base.waitFor(timeout, "every part of volume " + name + " to grow for " + Sizes.format(sizeBytes), () -> {
            VolumeScheduling s = Base.await(cmd.store().get(cmd.keys().volumeScheduling(name), VolumeScheduling.class))
                    .map(Versioned::value).orElse(null);
            return done(PartsProgress.grown(name, s, parts(cmd, name), sizeBytes, records(cmd)));
        });
    }

    /** The parts record of a multi-part volume, or null before the controller placed its parts. */
    static VolumeParts parts(Base cmd, String name) {
        return Base.await(cmd.store().get(cmd.keys().volumeParts(name), VolumeParts.class)).map(Versioned::value)
                .orElse(null);
    }

    /** The parts' records, read from etcd at each look (a command waits on one volume at a time). */
    static PartsProgress.Records records(Base cmd) {
        return new PartsProgress.Records() {
            @Override
            public Optional<VolumeScheduling> scheduling(String volume) {
                return Base.await(cmd.store().get(cmd.keys().volumeScheduling(volume), VolumeScheduling.class))
                        .map(Versioned::value);
            }

            @Override
            public Optional<Placement> placement(String volume) {
                return Optional.ofNullable(VolumeWaits.placement(cmd, volume));
            }

            @Override
            public Optional<VolumeStatus> status(String node, String volume) {
                return Base.await(cmd.store().get(cmd.keys().volumeStatus(node, volume), VolumeStatus.class))
                        .map(Versioned::value);
            }

            @Override
            public Optional<NodeRegistration> registration(String node) {
                return cmd.registration(node);
            }
        };
    }

    static Placement placement(Base cmd, String name) {
        return Base.await(cmd.store().get(cmd.keys().placement(name), Placement.class)).map(Versioned::value).orElse(null);
    }

    static VolumeStatus status(Base cmd, Placement p, String name) {
        return p == null ? null : Base.await(cmd.store().get(cmd.keys().volumeStatus(p.node(), name), VolumeStatus.class))
                .map(Versioned::value).orElse(null);
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

    /** Every part's outcome once all are done, null while any is in progress; a known failure ends the wait. */
    static List<VolumeProgress.Done> done(PartsProgress.Progress progress) {
        VolumeProgress.Outcome pending = progress.pending();
        if (pending != null) {
            done(pending);
            return null;
        }
        return progress.done();
    }

    private static CliException noFit(String name, VolumeScheduling s) {
        return new CliException(ExitCodes.REFUSED, "volume " + name + ": " + s.message()
                + " (see `ferryctl volume explain " + name + "`; the request stays and is placed when room appears,"
                + " or remove it with `ferryctl volume rm " + name + "`)");
    }
}
