package io.ferry.agent;

import io.ferry.runtime.auth.HostKeyFile;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * Gives this host's live NVMe-oF controllers a new pair through sysfs
 * ({@code /sys/class/nvme/nvme<N>/dhchap_secret} and {@code dhchap_ctrl_secret}). The kernel takes
 * a written secret as the controller's key and starts a re-authentication of the live controller
 * with it ("re-authenticating controller"); I/O goes on meanwhile. The kernel refuses the write on a
 * controller connected without a secret, so only controllers that authenticate with one of this
 * host's generations are touched: those whose {@code dhchap_secret} holds the old host key (or the
 * new one already, which a restart mid-switch leaves; those are written again only where a key
 * still differs). Controllers of other hosts or other secrets are never touched.
 *
 * <p>The controller key goes first: each write starts a re-authentication, and the one started by
 * the last write (the host key) runs with both new keys. The one in between may fail (the target
 * expects the new host key already); the kernel logs it and keeps the controller, and the next one
 * succeeds. Messages name the file and the kernel's answer, never a key.
 */
final class LiveControllerKeys {

    static final Path DEFAULT_ROOT = Path.of("/sys/class/nvme");

    private final Path root;

    LiveControllerKeys(Path root) {
        this.root = root;
    }

    /**
     * Writes {@code next} into every controller that uses {@code old} or a part of {@code next}.
     *
     * @return how many controllers carry {@code next} afterwards
     */
    int switchTo(String hostNqn, HostKeyFile.Pair old, HostKeyFile.Pair next) {
        int switched = 0;
        for (Path ctrl : controllers()) {
            String secret = read(ctrl.resolve("dhchap_secret"));
            if (secret == null || !hostNqn.equals(read(ctrl.resolve("hostnqn")))) {
                continue;
            }
            String oldHost = old.hostKey().value();
            String newHost = next.hostKey().value();
            if (!secret.equals(oldHost) && !secret.equals(newHost)) {
                continue;
            }
            Path ctrlSecret = ctrl.resolve("dhchap_ctrl_secret");
            String ctrlKey = read(ctrlSecret);
            // A controller connected without a controller key (unidirectional) keeps none.
            if (ctrlKey != null && !ctrlKey.equals("none") && !ctrlKey.equals(next.ctrlKey().value())) {
                write(ctrlSecret, next.ctrlKey().value());
            }
            if (!secret.equals(newHost)) {
                write(ctrl.resolve("dhchap_secret"), newHost);
            }
            switched++;
        }
        return switched;
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
