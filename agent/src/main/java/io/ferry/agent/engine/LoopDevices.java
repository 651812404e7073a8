package io.ferry.agent.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.ferry.runtime.exec.Command;
import io.ferry.runtime.exec.CommandRunner;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The loop devices of this host, through {@code losetup}. A loop device is the only record of which
 * device serves which file: nothing is remembered in memory, so a restarted agent finds the devices
 * its predecessor attached instead of attaching a second one.
 */
public final class LoopDevices {

    /** One attached loop device. {@code backingFile} has the kernel's " (deleted)" suffix removed. */
    public record Loop(String device, String backingFile, boolean backingFileDeleted) {
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String DELETED = " (deleted)";

    private final CommandRunner runner;
    private final Duration timeout;

    public LoopDevices(CommandRunner runner, Duration timeout) {
        this.runner = runner;
        this.timeout = timeout;
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
        String out = runner.run(command("losetup", "--find", "--show", file.toString()).serializedBy(lockKey))
                .stdout().strip();
        if (!out.startsWith("/dev/")) {
            throw new IllegalStateException("losetup --find --show printed no device for " + file + ": " + out);
        }
        return out;
    }

    public void detach(String device, String lockKey) {
        runner.run(command("losetup", "--detach", device).serializedBy(lockKey));
    }

    /** Makes the device pick up the file's new length after the file grew. */
    public void refreshCapacity(String device, String lockKey) {
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
