package io.ferry.tools.cli;

import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.Names;
import io.ferry.model.Orphan;
import io.ferry.model.OrphanAdoption;
import io.ferry.model.OrphanAdoptionResult;
import io.ferry.model.OrphanRemoval;
import io.ferry.model.OrphanRemovalOutcome;
import io.ferry.model.OrphanRemovalResult;
import io.ferry.model.OrphanReport;
import io.ferry.model.Sizes;
import io.ferry.model.ValidationException;
import io.ferry.model.VolumeIntent;
import io.ferry.model.VolumeStatus;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

@Command(name = "orphan", description = "What agents found on their nodes that no work item accounts for.",
        subcommands = {OrphanCommands.Ls.class, OrphanCommands.Rm.class, OrphanCommands.Adopt.class})
final class OrphanCommands {

    private static final SecureRandom RANDOM = new SecureRandom();

    @Command(name = "ls", description = "List orphans: node, name, owner (this-cluster, other-cluster, unmarked), pool,"
            + " size, age (since the agent first found it) and why it is kept.")
    static final class Ls extends Base {
        @Option(names = "--node", description = "only this node's orphans")
        String node;

        @Override
        public Integer call() {
            if (node != null) {
                checkNode(node);
            }
            String prefix = node != null ? keys().node(node) : keys().nodes();
            List<List<String>> cells = new ArrayList<>();
            List<Map<String, Object>> rows = new ArrayList<>();
            Instant now = Instant.now();
            List<OrphanReport> reports = listOf(prefix, FerryKeys.Kind.NODE_ORPHANS, OrphanReport.class).stream()
                    .map(Versioned::value).sorted(Comparator.comparing(OrphanReport::node)).toList();
            for (OrphanReport report : reports) {
                for (Orphan o : report.orphans()) {
                    cells.add(List.of(report.node(), o.name(), o.kind().value(), o.owner().value(), orDash(o.pool()),
                            o.sizeBytes() > 0 ? size(o.sizeBytes()) : "-",
                            o.firstSeen() == null ? "-" : age(Duration.between(o.firstSeen(), now)), o.reason()));
                    Map<String, Object> row = new LinkedHashMap<>();
                    row.put("node", report.node());
                    row.put("orphan", o);
                    row.put("observedAt", report.observedAt());
                    rows.add(row);
                }
            }
            out().rows(List.of("NODE", "NAME", "KIND", "OWNER", "POOL", "SIZE", "AGE", "REASON"), cells, rows);
            return ExitCodes.OK;
        }
    }

    @Command(name = "rm", description = "Order NODE's agent to remove the orphan NAME (as `orphan ls` shows it). The"
            + " agent removes it only if it still exists, carries this cluster's ownership marker and no work item or"
            + " placement names it; anything else is refused and left as it is. Exit codes: 0 removed, 7 refused,"
            + " 5 no answer in time (the order stays and is carried out when the agent gets to it).")
    static final class Rm extends Base {
        @Parameters(index = "0", description = "node name")
        String node;
        @Parameters(index = "1", description = "the orphan's name, e.g. /var/lib/ferry/pool-a/old.img or ferry-vg/old")
        String name;
        @Option(names = "--timeout", defaultValue = "120", description = "seconds to wait for the agent's answer"
                + " (default: ${DEFAULT-VALUE})")
        int timeoutSeconds;

        @Override
        public Integer call() {
            checkNode(node);
            String id = "rm-" + Instant.now().getEpochSecond() + "-" + HexFormat.of().toHexDigits(RANDOM.nextInt());
            OrphanRemoval order;
            try {
                order = OrphanRemoval.of(id, node, name, "ferryctl@" + user(), Instant.now());
            } catch (ValidationException e) {
                throw new CliException(ExitCodes.USAGE, e.getMessage());
            }
            OrphanRemovalResult result = orderAndAwait(this, keys().orphanRemoval(node, id), order,
                    keys().orphanRemovalResult(node, id), OrphanRemovalResult.class, node, timeoutSeconds);
            Map<String, Object> structured = new LinkedHashMap<>();
            structured.put("order", order);
            structured.put("result", result);
            if (out().format() == Output.Format.table) {
                out().line(result.outcome().value() + ": " + result.message());
            } else {
                out().structured(structured);
            }
            return result.outcome() == OrphanRemovalOutcome.DONE ? ExitCodes.OK : ExitCodes.REFUSED;
        }
    }

    @Command(name = "adopt", description = "Order NODE's agent to take the orphan NAME (as `orphan ls` shows it) back"
            + " into Ferry's records: the way back for a volume of this cluster Ferry has lost every record of (an etcd"
            + " restored from a backup older than the volume). The agent adopts it only if it still exists, carries this"
            + " cluster's ownership marker and no work item or placement names it, and then only writes the volume's"
            + " status on the node (its pool and size), never touching the data; anything else is refused and left as it"
            + " is. After the agent's Done, the volume's intent is written (if there is none) with its size and"
            + " adoptFromNode NODE, so that the controller rebuilds its placement and work item there and never places"
            + " it anywhere else. Exit codes: 0 adopted (and Ready, with --wait), 7 refused, 5 no answer in time (the"
            + " order stays and is carried out when the agent gets to it).")
    static final class Adopt extends Base {
        @Parameters(index = "0", description = "node name")
        String node;
        @Parameters(index = "1", description = "the orphan's name, e.g. /var/lib/ferry/pool-a/old.img or ferry-vg/old")
        String name;
        @Option(names = "--wait", description = "wait until the agent reports the adopted volume Ready")
        boolean await;
        @Option(names = "--timeout", defaultValue = "120", description = "seconds to wait for the agent's answer, and"
                + " with --wait for the volume to be Ready (default: ${DEFAULT-VALUE})")
        int timeoutSeconds;

        @Override
        public Integer call() {
            checkNode(node);
            String id = "adopt-" + Instant.now().getEpochSecond() + "-" + HexFormat.of().toHexDigits(RANDOM.nextInt());
            OrphanAdoption order;
            try {
                order = OrphanAdoption.of(id, node, name, "ferryctl@" + user(), Instant.now());
            } catch (ValidationException e) {
                throw new CliException(ExitCodes.USAGE, e.getMessage());
            }
            OrphanAdoptionResult result = orderAndAwait(this, keys().orphanAdoption(node, id), order,
                    keys().orphanAdoptionResult(node, id), OrphanAdoptionResult.class, node, timeoutSeconds);
            Map<String, Object> structured = new LinkedHashMap<>();
            structured.put("order", order);
            structured.put("result", result);
            boolean table = out().format() == Output.Format.table;
            if (result.outcome() != OrphanRemovalOutcome.DONE) {
                if (table) {
                    out().line(result.outcome().value() + " (" + result.reason().value() + "): " + result.message());
                } else {
                    out().structured(structured);
                }
                return ExitCodes.REFUSED;
            }
            String volume = result.volume();
            String intentKey = keys().volume(volume);
            // Only after the agent's Done: its status is what the controller rebuilds from, and the
            // intent's adoptFromNode keeps the controller from placing the volume anywhere before it.
            VolumeIntent intent = VolumeIntent.builder(volume, result.sizeBytes()).thin(!result.engine().thick())
                    .adoptFromNode(node).createdBy("ferryctl orphan adopt").createdAt(Instant.now()).build();
            boolean written = await(store().putIfAbsent(intentKey, intent));
            structured.put("intentWritten", written);
            if (table) {
                out().line(result.outcome().value() + ": " + result.message());
                out().line(written ? "intent " + intentKey + " written (" + Sizes.format(intent.sizeBytes())
                        + ", adoptFromNode " + node + "): the controller rebuilds its placement and work item on " + node
                        : "intent " + intentKey + " exists already and is kept: the controller rebuilds the placement"
                        + " from the status on " + node);
            }
            if (await) {
                VolumeStatus ready = VolumeWaits.waitReady(this, volume, Duration.ofSeconds(timeoutSeconds));
                structured.put("status", ready);
                if (table) {
                    out().line("volume " + volume + " ready on " + ready.node()
                            + (ready.devicePath() == null ? "" : " at " + ready.devicePath()));
                }
            }
            if (!table) {
                out().structured(structured);
            }
            return ExitCodes.OK;
        }
    }

    /**
     * Writes an operator's order about an orphan, waits for the agent's answer and, once it is read,
     * withdraws the order (which lets the agent drop its answer).
     */
    static <R> R orderAndAwait(Base cmd, String orderKey, Object order, String answerKey, Class<R> answerType,
            String node, int timeoutSeconds) {
        if (!Base.await(cmd.store().putIfAbsent(orderKey, order))) {
            throw new CliException(ExitCodes.CONFLICT, orderKey + " exists already; run the command again");
        }
        R result;
        try {
            result = Base.waitFor(Duration.ofSeconds(timeoutSeconds), "node " + node + "'s agent to answer " + orderKey,
                    () -> Base.await(cmd.store().get(answerKey, answerType)).map(Versioned::value).orElse(null));
        } catch (CliException e) {
            if (e.exitCode() == ExitCodes.TIMEOUT) {
                throw new CliException(ExitCodes.TIMEOUT, e.getMessage() + ". The order stays in " + orderKey
                        + " and the agent carries it out (or refuses it) when it gets to it; withdraw it with"
                        + " `etcdctl del " + orderKey + "`");
            }
            throw e;
        }
        Base.await(cmd.store().delete(orderKey));
        return result;
    }

    static void checkNode(String node) {
        try {
            Names.nodeName(node);
        } catch (ValidationException e) {
            throw new CliException(ExitCodes.USAGE, e.getMessage());
        }
    }

    static String user() {
        return Optional.ofNullable(System.getProperty("user.name")).filter(u -> u.matches("[A-Za-z0-9._-]{1,64}"))
                .orElse("unknown");
    }

    /** Ages for people: the largest whole unit. */
    static String age(Duration d) {
        long s = Math.max(0, d.getSeconds());
        if (s < 120) {
            return s + "s";
        }
        if (s < 7200) {
            return s / 60 + "m";
        }
        if (s < 172800) {
            return s / 3600 + "h";
        }
        return s / 86400 + "d";
    }
}
