package io.ferry.agent.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.ferry.runtime.exec.Command;
import io.ferry.runtime.exec.CommandRunner;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The loop devices of this host. A loop device is the only record of which device serves which
 * file: nothing is remembered in memory, so a restarted agent finds the devices its predecessor
 * attached instead of attaching a second one.
 *
 * <p>Listing goes through {@code losetup --json}. Attaching, detaching and resizing use the loop
 * ioctls directly where they are available ({@link #forHost}), and {@code losetup} otherwise.
 */
public final class LoopDevices {

    /** One attached loop device. {@code backingFile} has the kernel's " (deleted)" suffix removed. */
    public record Loop(String device, String backingFile, boolean backingFileDeleted) {
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String DELETED = " (deleted)";

    private static final Logger log = LoggerFactory.getLogger(LoopDevices.class);

    private final CommandRunner runner;
    private final Duration timeout;
    private final LoopIoctls ioctls;

    /** Changes devices with {@code losetup} (and its per-lock-key serialization). */
    public LoopDevices(CommandRunner runner, Duration timeout) {
        this(runner, timeout, null);
    }

    private LoopDevices(CommandRunner runner, Duration timeout, LoopIoctls ioctls) {
        this.runner = runner;
        this.timeout = timeout;
        this.ioctls = ioctls;
    }

    /** How devices are attached, detached and resized. */
    public enum Mechanism {
        /** The ioctls where this host allows them, else {@code losetup}. */
        AUTO,
        /** The ioctls; refuses to start where they are unavailable. */
        IOCTL,
        /** {@code losetup}, a process per change, serialized per pool. */
        LOSETUP
    }

    /** Changes devices with the loop ioctls when this host allows it, else with {@code losetup}. */
    public static LoopDevices forHost(CommandRunner runner, Duration timeout) {
        return forHost(runner, timeout, Mechanism.AUTO);
    }

    public static LoopDevices forHost(CommandRunner runner, Duration timeout, Mechanism mechanism) {
        if (mechanism == Mechanism.LOSETUP) {
            return new LoopDevices(runner, timeout, null);
        }
        Path control = Path.of("/dev/loop-control");
        Optional<String> unavailable = LoopIoctls.unavailable(control);
        if (unavailable.isPresent()) {
            if (mechanism == Mechanism.IOCTL) {
                throw new IllegalStateException("loop devices cannot be attached with ioctls here: " + unavailable.get()
                        + "; use --loop-devices=losetup or auto");
            }
            log.info("loop devices are attached with losetup: {}", unavailable.get());
            return new LoopDevices(runner, timeout, null);
        }
        return new LoopDevices(runner, timeout, new LoopIoctls(control));
    }

    /** {@code ioctl} or {@code losetup}: how this instance changes devices. */
    public String mechanism() {
        return ioctls != null ? "ioctl" : "losetup";
    }

    public List<Loop> all() {
        return parse(runner.run(command("losetup", "--json", "--list")).stdout());
    }

    /** Loop devices whose backing file is {@code file} (losetup compares device and inode too). */
    public List<Loop> backedBy(Path file) {
        return parse(runner.run(command("losetup", "--json", "--list", "--associated", file.toString())).stdout());
    }

    /** Attaches a free loop device to {@code file} and returns its path. */
    public String attach(Path file, String lockKey) {
        if (ioctls != null) {
            return ioctls.attach(file);
        }
        String out = runner.run(command("losetup", "--find", "--show", file.toString()).serializedBy(lockKey))
                .stdout().strip();
        if (!out.startsWith("/dev/")) {
            throw new IllegalStateException("losetup --find --show printed no device for " + file + ": " + out);
        }
        return out;
    }

    public void detach(String device, String lockKey) {
        if (ioctls != null) {
            ioctls.detach(device);
            return;
        }
        runner.run(command("losetup", "--detach", device).serializedBy(lockKey));
    }

    /** Makes the device pick up the file's new length after the file grew. */
    public void refreshCapacity(String device, String lockKey) {
        if (ioctls != null) {
            ioctls.refreshCapacity(device);
            return;
        }
        runner.run(command("losetup", "--set-capacity", device).serializedBy(lockKey));
    }

    private Command command(String... argv) {
        return Command.of(argv).withTimeout(timeout);
    }

    /** Parses {@code losetup --json --list}; empty output (no devices at all) is an empty list. */
    public static List<Loop> parse(String json) {
        List<Loop> loops = new ArrayList<>();
        if (json == null || json.isBlank()) {
            return loops;
        }
        try {
            JsonNode root = JSON.readTree(json);
            for (JsonNode d : root.path("loopdevices")) {
                String name = d.path("name").asText(null);
                String back = d.path("back-file").asText(null);
                if (name == null || back == null || d.path("back-file").isNull()) {
                    continue;
                }
                boolean deleted = back.endsWith(DELETED);
                loops.add(new Loop(name, deleted ? back.substring(0, back.length() - DELETED.length()) : back, deleted));
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot parse losetup --json output: " + e.getMessage(), e);
        }
        return loops;
    }
}
