package io.ferry.agent;

import io.ferry.model.Nqn;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.UUID;

/**
 * The node's NVMe host NQN: the host's own ({@code /etc/nvme/hostnqn}, written by nvme-cli) when it
 * has one, otherwise one generated once and kept in the agent's state directory. It must never
 * change between restarts: exports on other nodes allow this exact NQN.
 */
public final class HostNqn {

    static final String STATE_FILE = "hostnqn";

    private HostNqn() {
    }

    public static String resolve(Path hostFile, Path stateDir) {
        String own = readValid(hostFile);
        if (own != null) {
            return own;
        }
        Path state = stateDir.resolve(STATE_FILE);
        String kept = readValid(state);
        if (kept != null) {
            return kept;
        }
        String generated = "nqn.2014-08.org.nvmexpress:uuid:" + UUID.randomUUID();
        try {
            Files.createDirectories(stateDir);
            Path tmp = stateDir.resolve(STATE_FILE + ".tmp");
            Files.writeString(tmp, generated + "\n", StandardCharsets.US_ASCII);
            // Rename so that a crash never leaves a half-written NQN that the next start would replace.
            Files.move(tmp, state, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot keep the generated host NQN in " + state + ": " + e.getMessage(), e);
        }
        return generated;
    }

    private static String readValid(Path file) {
        if (file == null || !Files.isRegularFile(file)) {
            return null;
        }
        try {
            String value = Files.readString(file, StandardCharsets.US_ASCII).strip();
            return Nqn.isValid(value) ? value : null;
        } catch (IOException e) {
            return null;
        }
    }
}
