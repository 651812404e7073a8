package io.ferry.agent.export;

import io.ferry.agent.spdk.SpdkClient;
import io.ferry.model.HostSecret;
import io.ferry.model.NvmeAuth;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * The DH-HMAC-CHAP keys Ferry hands the SPDK target: one file per key under the agent's state
 * directory, registered in SPDK's keyring with {@code keyring_file_add_key}, so that no RPC ever
 * carries key material (SPDK reads the file itself; requests, answers and their errors name files
 * and key names only).
 *
 * <p>A key's name is {@code ferry-<cluster id>-<node>-<generation>-host} (or {@code -ctrl}): the
 * prefix {@code ferry-<cluster id>-} is the ownership marker, and only keys and files carrying it
 * are ever removed. The generation is in the name so that a new pair is a new key, which a host's
 * entry switches to with {@code nvmf_subsystem_set_keys} while the old one stays valid until no host
 * uses it. The file is also named after the key.
 *
 * <p>SPDK's file keyring refuses a file that group or others can read, or that another user owns:
 * the files are created 0600 (in a 0700 directory) by the agent, so SPDK must run as the agent's
 * user (root on a storage node).
 */
final class SpdkKeyring {

    private static final String HOST = "-host";
    private static final String CTRL = "-ctrl";
    private static final String TEMP_SUFFIX = ".tmp";

    private final SpdkClient client;
    private final Path dir;
    private final String marker;

    SpdkKeyring(SpdkClient client, Path dir, String cluster) {
        this.client = client;
        this.dir = dir;
        this.marker = "ferry-" + cluster + "-";
    }

    /** The key names a host's entry should carry for {@code pair} in {@code mode} (no RPC, no file). */
    SpdkClient.HostKeys namesFor(HostSecret pair, NvmeAuth mode) {
        // Each key is named by its own generation: half-way through a rotation the pair mixes two.
        String base = marker + pair.node() + "-";
        return new SpdkClient.HostKeys(base + pair.hostKeyGeneration() + HOST,
                mode == NvmeAuth.BIDIRECTIONAL ? base + pair.generation() + CTRL : null);
    }

    /**
     * Makes sure the pair's keys are in files and in SPDK's keyring, and returns their names. A
     * repeat after a crash rewrites a file only when its content differs and registers only what
     * SPDK does not list.
     */
    SpdkClient.HostKeys ensure(HostSecret pair, NvmeAuth mode) {
        SpdkClient.HostKeys names = namesFor(pair, mode);
        Set<String> registered = new TreeSet<>();
        client.keys().stream().filter(k -> !k.removed()).forEach(k -> registered.add(k.name()));
        ensureKey(names.dhchapKey(), pair.hostKey(), registered);
        if (names.ctrlrKey() != null) {
            ensureKey(names.ctrlrKey(), pair.ctrlKey(), registered);
        }
        return names;
    }

    private void ensureKey(String name, String secret, Set<String> registered) {
        Path file = dir.resolve(name);
        if (!secret.equals(read(file))) {
            writeSecret(file, secret);
        }
        if (!registered.contains(name)) {
            client.addKeyFile(name, file.toAbsolutePath());
        }
    }

    /**
     * Unregisters every key of ours that no host entry in {@code subsystems} uses any more and
     * deletes its file, then deletes files of ours SPDK does not know (left by a crash between the
     * two). A key still used elsewhere stays: SPDK reads the file at each authentication.
     */
    List<String> prune(List<SpdkClient.Subsystem> subsystems) {
        Set<String> used = new TreeSet<>();
        for (SpdkClient.Subsystem s : subsystems) {
            for (SpdkClient.HostKeys k : s.hostKeys().values()) {
                if (k.dhchapKey() != null) {
                    used.add(k.dhchapKey());
                }
                if (k.ctrlrKey() != null) {
                    used.add(k.ctrlrKey());
                }
            }
        }
        List<String> removed = new ArrayList<>();
        Set<String> known = new TreeSet<>();
        for (SpdkClient.Key k : client.keys()) {
            known.add(k.name());
            if (!ours(k.name()) || used.contains(k.name())) {
                continue;
            }
            if (!k.removed()) {
                client.removeKeyFile(k.name());
            }
            delete(dir.resolve(k.name()));
            removed.add(k.name());
        }
        for (Path file : list(dir)) {
            String name = file.getFileName().toString();
            boolean temp = name.startsWith("." + marker) && name.endsWith(TEMP_SUFFIX);
            if (temp || (ours(name) && !known.contains(name))) {
                delete(file);
            }
        }
        return removed;
    }

    boolean ours(String keyName) {
        return keyName.startsWith(marker) && (keyName.endsWith(HOST) || keyName.endsWith(CTRL));
    }

    /**
     * Writes the key so that no reader ever sees a partial file or a file others could read: a
     * temporary file created 0600 in the same directory, forced to disk, then renamed over the name.
     * Errors name the file, never the key.
     */
    private void writeSecret(Path file, String secret) {
        Path temp = null;
        try {
            if (!Files.isDirectory(dir)) {
                Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            }
            temp = Files.createTempFile(dir, "." + file.getFileName(), TEMP_SUFFIX,
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                ByteBuffer bytes = ByteBuffer.wrap(secret.getBytes(StandardCharsets.US_ASCII));
                while (bytes.hasRemaining()) {
                    ch.write(bytes);
                }
                ch.force(true);
            }
            Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            if (temp != null) {
                delete(temp);
            }
            throw new UncheckedIOException("cannot write the DH-HMAC-CHAP key file " + file + ": "
                    + e, e);
        }
    }

    private static String read(Path file) {
        try {
            return Files.readString(file, StandardCharsets.US_ASCII);
        } catch (NoSuchFileException e) {
            return null;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the DH-HMAC-CHAP key file " + file + ": "
                    + e, e);
        }
    }

    private static void delete(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete the DH-HMAC-CHAP key file " + file + ": "
                    + e, e);
        }
    }

    private static List<Path> list(Path dir) {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        List<Path> out = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            entries.forEach(out::add);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir + ": " + e.getMessage(), e);
        }
        return out;
    }
}
