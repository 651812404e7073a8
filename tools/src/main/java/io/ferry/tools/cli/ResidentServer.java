package io.ferry.tools.cli;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A warm JVM that runs ferryctl commands for {@code bin/ferryctl}, so that a one-shot command costs
 * a connection instead of a JVM start (docs/ferryctl.md, "Resident server").
 *
 * <p>It listens on loopback only, on a port chosen by the kernel, and answers only a client that
 * sends the random token it wrote beside the port into a file only its user can read: another local
 * user reaching the port learns nothing and runs nothing. Each command runs through
 * {@link FerryCtl#run} with the client's own environment, as a fresh JVM would; a server serves one
 * working directory (its own), since Java cannot resolve a relative path against another one.
 *
 * <p>The request, all fields ending with a NUL byte (bash's {@code printf '%s\0'} writes them):
 * the token, the path of the file that receives stderr and then the exit status, the number of
 * arguments, the arguments, the number of environment entries, and the entries as {@code NAME=value}.
 * stdout flows back over the connection as it is written; the server closes the connection after
 * it has written the exit status, as the last line of the stderr file after a NUL byte.
 */
public final class ResidentServer {

    /** How a client finds this server: the state file's name within the state directory. */
    static final String ADDRESS_SUFFIX = ".addr";
    private static final int MAX_FIELD_BYTES = 1 << 20;
    private static final int MAX_FIELDS = 4096;

    private final Path addressFile;
    private final long idleMillis;
    private final String token;
    private final ServerSocket socket;
    private final Path jar;
    private final long jarModified;
    private final AtomicLong lastUse = new AtomicLong(System.currentTimeMillis());
    private final AtomicInteger active = new AtomicInteger();
    private final ExecutorService workers = Executors.newFixedThreadPool(4, r -> {
        Thread t = new Thread(r, "ferryctl-resident");
        t.setDaemon(true);
        return t;
    });

    ResidentServer(Path addressFile, long idleMillis) throws IOException {
        this.addressFile = addressFile;
        this.idleMillis = idleMillis;
        byte[] secret = new byte[24];
        new SecureRandom().nextBytes(secret);
        this.token = HexFormat.of().formatHex(secret);
        this.socket = new ServerSocket(0, 16, InetAddress.getLoopbackAddress());
        this.socket.setSoTimeout(1000);
        this.jar = ownJar();
        this.jarModified = modified(jar);
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 2) {
            System.err.println("usage: ResidentServer ADDRESS_FILE IDLE_SECONDS");
            System.exit(2);
        }
        if (System.getenv("FERRY_LOG_LEVEL") == null) {
            System.setProperty("FERRY_LOG_LEVEL", "WARN");
        }
        ResidentServer server = new ResidentServer(Path.of(args[0]), TimeUnit.SECONDS.toMillis(Long.parseLong(args[1])));
        server.warmUp();
        server.publish();
        server.serve();
        System.exit(0);
    }

    /** Writes "port token pid" where clients look, readable by this user only, renamed into place whole. */
    void publish() throws IOException {
        Path dir = addressFile.getParent();
        Files.createDirectories(dir);
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        Path tmp = dir.resolve(addressFile.getFileName() + "." + ProcessHandle.current().pid() + ".tmp");
        Files.deleteIfExists(tmp);
        Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        // The directory holds the token: it must be this user's alone, not one someone else prepared.
        if (!Files.getOwner(dir, LinkOption.NOFOLLOW_LINKS).equals(Files.getOwner(tmp, LinkOption.NOFOLLOW_LINKS))) {
            Files.deleteIfExists(tmp);
            throw new IOException(dir + " belongs to another user");
        }
        Files.writeString(tmp, socket.getLocalPort() + " " + token + " " + ProcessHandle.current().pid() + "\n");
        Files.move(tmp, addressFile, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /**
     * Parses and prints the help of every command a few times before the server is announced, so
     * that the first clients meet loaded classes and compiled code rather than pay for them.
     */
    void warmUp() {
        PrintWriter sink = new PrintWriter(OutputStream.nullOutputStream());
        for (int i = 0; i < 5; i++) {
            for (String command : List.of("volume", "pool", "node", "snapshot", "status", "events")) {
                FerryCtl.run(new String[] {command, "--help"}, Map.of(), sink, sink);
            }
        }
    }

    /** Accepts clients until nobody has come for the idle time, then withdraws its address and returns. */
    void serve() throws IOException {
        try (socket) {
            // A command still running (a long `volume wait`) keeps the server up past its idle time.
            while (active.get() > 0 || System.currentTimeMillis() - lastUse.get() < idleMillis) {
                Socket client;
                try {
                    client = socket.accept();
                } catch (SocketTimeoutException e) {
                    continue;
                } catch (SocketException e) {
                    if (socket.isClosed()) {
                        break;
                    }
                    throw e;
                }
                lastUse.set(System.currentTimeMillis());
                active.incrementAndGet();
                workers.execute(() -> {
                    try {
                        handle(client);
                    } finally {
                        active.decrementAndGet();
                    }
                });
            }
        } finally {
            withdraw();
            workers.shutdown();
        }
    }

    void close() throws IOException {
        lastUse.set(0);
        socket.close();
    }

    /** Removes the address file unless a newer server has replaced it meanwhile. */
    private void withdraw() {
        try {
            String current = Files.readString(addressFile);
            if (current.contains(" " + token + " ")) {
                Files.deleteIfExists(addressFile);
            }
        } catch (IOException e) {
            // Nothing to withdraw: a client that finds no server starts a new one.
        }
    }

    private void handle(Socket client) {
        try (client) {
            client.setSoTimeout(10_000);
            InputStream in = new BufferedInputStream(client.getInputStream());
            if (!MessageDigest.isEqual(token.getBytes(StandardCharsets.US_ASCII),
                    field(in).getBytes(StandardCharsets.US_ASCII))) {
                return;
            }
            Path errFile = Path.of(field(in));
            String[] args = new String[count(in)];
            for (int i = 0; i < args.length; i++) {
                args[i] = field(in);
            }
            int envCount = count(in);
            Map<String, String> env = new HashMap<>();
            for (int i = 0; i < envCount; i++) {
                String entry = field(in);
                int eq = entry.indexOf('=');
                if (eq > 0) {
                    env.put(entry.substring(0, eq), entry.substring(eq + 1));
                }
            }
            client.setSoTimeout(0);
            if (jarModified != modified(jar)) {
                // Rebuilt since this server started: it would run old code. The client runs the
                // command in a JVM of its own, which starts the next server.
                stale(errFile);
                close();
                return;
            }
            run(args, env, client.getOutputStream(), errFile);
        } catch (IOException | RuntimeException e) {
            // A client that went away or sent garbage gets nothing; the server stays up for the next one.
        } finally {
            lastUse.set(System.currentTimeMillis());
        }
    }

    private static void run(String[] args, Map<String, String> env, OutputStream stdout, Path errFile) throws IOException {
        // The file was made by the client (mktemp, its user, mode 0600); a link could point anywhere.
        if (!Files.isRegularFile(errFile, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (OutputStream errStream = Files.newOutputStream(errFile)) {
            PrintWriter out = new PrintWriter(new OutputStreamWriter(stdout, StandardCharsets.UTF_8), true);
            PrintWriter err = new PrintWriter(new OutputStreamWriter(errStream, StandardCharsets.UTF_8), true);
            int code;
            try {
                code = FerryCtl.run(args, env, out, err);
            } catch (RuntimeException e) {
                err.println("error: " + e.getMessage());
                code = ExitCodes.FAILED;
            }
            out.flush();
            err.print('\0');
            err.println(code);
            err.flush();
        }
    }

    private static void stale(Path errFile) throws IOException {
        if (Files.isRegularFile(errFile, LinkOption.NOFOLLOW_LINKS)) {
            Files.writeString(errFile, "\0stale\n");
        }
    }

    private static Path ownJar() {
        try {
            return Path.of(ResidentServer.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (URISyntaxException | RuntimeException e) {
            return null;
        }
    }

    private static long modified(Path file) {
        try {
            return file == null ? 0 : Files.getLastModifiedTime(file).toMillis();
        } catch (IOException e) {
            return -1;
        }
    }

    private static int count(InputStream in) throws IOException {
        int n = Integer.parseInt(field(in));
        if (n < 0 || n > MAX_FIELDS) {
            throw new IOException("bad count " + n);
        }
        return n;
    }

    private static String field(InputStream in) throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        while (true) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("request ends early");
            }
            if (b == 0) {
                return buf.toString(StandardCharsets.UTF_8);
            }
            if (buf.size() >= MAX_FIELD_BYTES) {
                throw new IOException("field too long");
            }
            buf.write(b);
        }
    }
}
