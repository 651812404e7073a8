package io.ferry.agent;

import io.ferry.runtime.auth.HostKeyFile;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Gives this host's live NVMe-oF controllers a new pair through sysfs
 * ({@code /sys/class/nvme/nvme<N>/dhchap_ctrl_secret} and {@code dhchap_secret}), one key per
 * rotation step. Only controllers that authenticate with one of this host's generations are
 * touched: those of this host NQN whose {@code dhchap_secret} holds the old host key or the new one.
 * Controllers of other hosts or other secrets are never touched.
 *
 * <p>Why one key per step: the kernel takes a written secret as the controller's key and at once
 * re-authenticates the live controller with both its keys, and a target whose check fails in a
 * re-authentication fails the controller (nvmet's fatal error, then a reset on the host). Each
 * write must therefore leave the host holding exactly the pair the target already serves: the
 * controller key is written when the targets serve the new controller key with the old host key,
 * the host key when they serve the whole new pair ({@code HostKeyStep}).
 *
 * <p>The kernel tells only its log when a re-authentication completes ("controller authenticated",
 * 1.4 s after the write on the testbed's emulated CPUs), so after writing, a step waits
 * {@code settle} and then until every controller it wrote is {@code live} again (up to
 * {@code liveWait}) before it lets the rotation go on: the targets must not move to the next
 * pair while a re-authentication with this one is still in flight. A controller that is not live
 * by then is reported, not failed: its keys are already those of the step, so its reconnect
 * succeeds against targets at this step and, after the next step's write, at that one. Messages
 * name the file and the kernel's answer, never a key.
 */
final class LiveControllerKeys {

    static final Path DEFAULT_ROOT = Path.of("/sys/class/nvme");
    static final Duration DEFAULT_SETTLE = Duration.ofSeconds(5);
    static final Duration DEFAULT_LIVE_WAIT = Duration.ofSeconds(30);

    private final Path root;
    private final Duration settle;
    private final Duration liveWait;

    LiveControllerKeys(Path root) {
        this(root, DEFAULT_SETTLE, DEFAULT_LIVE_WAIT);
    }

    LiveControllerKeys(Path root, Duration settle, Duration liveWait) {
        this.root = root;
        this.settle = settle;
        this.liveWait = liveWait;
    }

    /** What a step did: controllers holding the step's keys afterwards, and those of them not live in time. */
    record Switched(int controllers, List<String> notLive) {
        String describe() {
            return controllers + " live controllers" + (notLive.isEmpty() ? "" : " (not live again in time, they"
                    + " reconnect with the new keys: " + String.join(", ", notLive) + ")");
        }
    }

    /** Writes {@code next}'s controller key into this host's controllers that have a controller key. */
    Switched useCtrlKey(String hostNqn, HostKeyFile.Pair old, HostKeyFile.Pair next) {
        List<Path> ours = ours(hostNqn, old, next);
        List<Path> written = new ArrayList<>();
        for (Path ctrl : ours) {
            if (writeCtrlKeyIfNeeded(ctrl, next)) {
                written.add(ctrl);
            }
        }
        return new Switched(ours.size(), awaitLive(written));
    }

    /**
     * Writes {@code next}'s host key into this host's controllers, after its controller key where a
     * controller still lacks that (one switched before the steps existed, or connected in between).
     */
    Switched useHostKey(String hostNqn, HostKeyFile.Pair old, HostKeyFile.Pair next) {
        List<Path> ours = ours(hostNqn, old, next);
        List<Path> written = new ArrayList<>();
        for (Path ctrl : ours) {
            boolean wrote = writeCtrlKeyIfNeeded(ctrl, next);
            Path secret = ctrl.resolve("dhchap_secret");
            if (!next.hostKey().value().equals(read(secret))) {
                write(secret, next.hostKey().value());
                wrote = true;
            }
            if (wrote) {
                written.add(ctrl);
            }
        }
        return new Switched(ours.size(), awaitLive(written));
    }

    private List<Path> ours(String hostNqn, HostKeyFile.Pair old, HostKeyFile.Pair next) {
        List<Path> ours = new ArrayList<>();
        for (Path ctrl : controllers()) {
            String secret = read(ctrl.resolve("dhchap_secret"));
            if (secret != null && hostNqn.equals(read(ctrl.resolve("hostnqn")))
                    && (secret.equals(old.hostKey().value()) || secret.equals(next.hostKey().value()))) {
                ours.add(ctrl);
            }
        }
        return ours;
    }

    private static boolean writeCtrlKeyIfNeeded(Path ctrl, HostKeyFile.Pair next) {
        Path ctrlSecret = ctrl.resolve("dhchap_ctrl_secret");
        String ctrlKey = read(ctrlSecret);
        // A controller connected without a controller key (unidirectional) keeps none.
        if (ctrlKey != null && !ctrlKey.equals("none") && !ctrlKey.equals(next.ctrlKey().value())) {
            write(ctrlSecret, next.ctrlKey().value());
            return true;
        }
        return false;
    }

    /** The names of the written controllers that are not live once the re-authentications had their time. */
    private List<String> awaitLive(List<Path> written) {
        if (written.isEmpty()) {
            return List.of();
        }
        sleep(settle);
        long deadline = System.nanoTime() + liveWait.toNanos();
        while (true) {
            List<String> notLive = new ArrayList<>();
            for (Path ctrl : written) {
                String state = read(ctrl.resolve("state"));
                // A controller gone meanwhile (disconnected) is not waited for.
                if (state != null && !state.equals("live")) {
                    notLive.add(ctrl.getFileName() + " " + state);
                }
            }
            if (notLive.isEmpty() || System.nanoTime() > deadline) {
                return notLive;
            }
            sleep(Duration.ofMillis(500));
        }
    }

    private static void sleep(Duration duration) {
        try {
            Thread.sleep(duration.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while the live controllers re-authenticate", e);
        }
    }

    private List<Path> controllers() {
        if (!Files.isDirectory(root)) {
            return List.of();
        }
        try (Stream<Path> entries = Files.list(root)) {
            return entries.filter(p -> p.getFileName().toString().matches("nvme[0-9]+")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list NVMe controllers in " + root + ": " + e.getMessage(), e);
        }
    }

    /** The attribute's value without its newline; null when the controller or attribute is gone. */
    private static String read(Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8).strip();
        } catch (NoSuchFileException e) {
            return null;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    private static void write(Path file, String secret) {
        try {
            Files.writeString(file, secret, StandardCharsets.UTF_8);
        } catch (IOException e) {
            // The exception names the file and the kernel's answer (e.g. EINVAL), never the key written.
            throw new UncheckedIOException("cannot write a DH-HMAC-CHAP key to " + file + ": "
                    + e.getClass().getSimpleName() + " " + e.getMessage(), e);
        }
    }
}
