package io.ferry.tools.cli;

import io.ferry.etcd.FerryKeys;
import io.ferry.etcd.store.Versioned;
import io.ferry.model.HostKeyOrder;
import io.ferry.model.HostKeyRotation;
import io.ferry.model.HostKeyStatus;
import io.ferry.model.HostSecret;
import io.ferry.model.Names;
import io.ferry.model.ServedHostKey;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * {@code ferryctl security rotate-keys}: an operator's request for a consumer host's next
 * DH-HMAC-CHAP generation, and the wait until the host uses it. Apart from the etcd users and roles
 * of {@link SecurityCommands} because it changes with the rotation's keys, not with etcd's auth.
 */
@Command(name = "rotate-keys", description = "Give a consumer host a new generation of its NVMe authentication keys"
        + " (DH-HMAC-CHAP); its live connections stay. Writes the request, then waits until the host uses it.")
final class RotateKeysCommand extends Base {
    @Parameters(paramLabel = "NODE", description = "the consumer node whose keys are replaced")
    String node;
    @Option(names = "--no-wait", description = "return once the request is written")
    boolean noWait;
    @Option(names = "--timeout", defaultValue = "300", description = "seconds to wait for the host to use the new keys"
            + " (default: ${DEFAULT-VALUE}; exit code 5 when it does not in time, and the rotation goes on)")
    int timeoutSeconds;

    @Override
    public Integer call() {
        Names.nodeName(node);
        if (registration(node).isEmpty()) {
            throw new CliException(ExitCodes.NOT_FOUND, "node " + node + " has no agent registered: its agent"
                    + " generates, publishes and switches the new keys (a host attached with ferryctl attach alone"
                    + " cannot be rotated this way)");
        }
        long inUse = generationInUse().orElseThrow(() -> new CliException(ExitCodes.NOT_FOUND, "node " + node
                + " has published no NVMe authentication keys (" + keys().hostSecret(node) + "): its agent"
                + " publishes them when it starts"));
        Optional<HostKeyRotation> under = await(store().get(keys().keyRotation(node), HostKeyRotation.class))
                .map(Versioned::value).filter(r -> r.generation() > inUse);
        long generation;
        if (under.isPresent()) {
            generation = under.get().generation();
            out().line("a rotation of " + node + "'s keys to generation " + generation + " is already under way");
        } else {
            generation = inUse + 1;
            await(store().put(keys().keyRotation(node), HostKeyRotation.of(node, generation, Instant.now())));
            out().line("requested generation " + generation + " of " + node + "'s NVMe authentication keys (in use: "
                    + inUse + ")");
        }
        if (noWait) {
            return ExitCodes.OK;
        }
        try {
            waitFor(Duration.ofSeconds(timeoutSeconds), node + " to use generation " + generation + " of its keys",
                    () -> status().filter(s -> s.generation() >= generation).orElse(null));
        } catch (CliException e) {
            if (e.exitCode() == ExitCodes.TIMEOUT) {
                throw new CliException(ExitCodes.TIMEOUT, e.getMessage() + "; " + progress(generation)
                        + ". The rotation goes on by itself; the old keys keep working until the host switches");
            }
            throw e;
        }
        out().line(node + " uses generation " + generation + " of its NVMe authentication keys; " + progress(generation));
        return ExitCodes.OK;
    }

    private Optional<HostKeyStatus> status() {
        return await(store().get(keys().hostKeyStatus(node), HostKeyStatus.class)).map(Versioned::value);
    }

    /** From the host's report, or from the pair it published (an agent from before reports). */
    private Optional<Long> generationInUse() {
        Optional<HostKeyStatus> status = status();
        if (status.isPresent()) {
            return Optional.of(status.get().generation());
        }
        return await(store().get(keys().hostSecret(node), HostSecret.class)).map(v -> v.value().hostKeyGeneration());
    }

    /** Which storage nodes serve which generation to this host, and what the host says: never keys. */
    private String progress(long generation) {
        List<String> served = new ArrayList<>();
        for (var raw : await(store().listRaw(keys().nodes())).entries()) {
            keys().parse(raw.key()).filter(ref -> ref.kind() == FerryKeys.Kind.SERVED_HOST_KEY
                    && ref.name().equals(node)).ifPresent(ref -> served.add(ref.names().get(0) + " serves "
                    + describe(store().decode(raw, ServedHostKey.class).value())));
        }
        String host = status().map(s -> "the host uses generation " + s.generation()
                + (s.pending() > 0 ? " and has published " + s.pending() : "")
                + (s.message().isEmpty() ? "" : " (" + s.message() + ")")).orElse("the host has not reported");
        String step = await(store().get(keys().hostKeyOrder(node), HostKeyOrder.class)).map(Versioned::value)
                .filter(o -> o.generation() == generation).map(o -> "; the rotation is at step " + o.step()).orElse("");
        return (served.isEmpty() ? "no storage node reports serving it" : String.join(", ", served)) + "; " + host + step;
    }

    private static String describe(ServedHostKey served) {
        return "generation " + served.generation() + (served.hostKeyGeneration() == served.generation() ? ""
                : " (controller key; host key of generation " + served.hostKeyGeneration() + ")");
    }
}
