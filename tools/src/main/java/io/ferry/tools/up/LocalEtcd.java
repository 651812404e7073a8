package io.ferry.tools.up;

import io.ferry.etcd.LocalEtcdMember;
import io.ferry.etcd.LocalEtcdProbe;
import io.ferry.runtime.exec.Command;
import io.ferry.runtime.exec.CommandRunner;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * etcd on loopback: the one {@code ferry up} runs for a single machine (its data under Ferry's data
 * directory, so volumes survive a restart), as one member or as a cluster of three or five members
 * (each its own process, so that one can fail while the cluster keeps its quorum), and throw-away ones
 * for benchmarks.
 */
public final class LocalEtcd implements AutoCloseable {

    /** Member counts {@code ferry up} accepts: an even count tolerates no more failures than the odd one below it. */
    static final List<Integer> MEMBER_COUNTS = List.of(1, 3, 5);

    private final List<LocalEtcdMember> members;
    private final Path logDir;
    private final String logName;
    private final List<String> extraArgs;
    private final Path temporaryDir;
    /**
     * Where {@code ferry up}'s etcd keeps its lock and pid files (not in etcd's data directory, where
     * etcd warns of every file it does not know); null for the etcds of tests and benchmarks.
     */
    private final Path runDir;
    private final List<Process> processes = new ArrayList<>();
    private Path binary;
    private FileChannel lock;

    private LocalEtcd(List<LocalEtcdMember> members, Path logDir, String logName, List<String> extraArgs,
            Path temporaryDir, Path runDir) {
        this.members = List.copyOf(members);
        this.logDir = logDir;
        this.logName = logName;
        this.extraArgs = List.copyOf(extraArgs);
        this.temporaryDir = temporaryDir;
        this.runDir = runDir;
    }

    /**
     * The etcd of {@code ferry up}: {@code memberCount} members whose client ports are
     * {@code clientPort}, {@code clientPort + 2}, ... (each peer port is the next one). One member
     * keeps its data directly in {@code dataDir}, as Ferry always did; several keep theirs in
     * {@code dataDir/member-<n>}. A data directory made for another member count is refused: etcd
     * would start a second, empty cluster beside the first.
     *
     * @param runDir where the members' pid files and the lock go ({@link #claim})
     */
    static LocalEtcd forUp(Path dataDir, Path logFile, int clientPort, int memberCount, Path runDir) {
        if (!MEMBER_COUNTS.contains(memberCount)) {
            throw new IllegalArgumentException("--etcd-members must be one of " + MEMBER_COUNTS + ", got " + memberCount);
        }
        boolean single = memberCount == 1;
        boolean hasSingle = Files.isDirectory(dataDir.resolve("member"));
        boolean hasCluster = Files.isDirectory(dataDir.resolve("member-1"));
        if ((single && hasCluster) || (!single && hasSingle)) {
            throw new IllegalStateException("the etcd data in " + dataDir + " belongs to a " + (hasSingle ? "1" : "multi")
                    + "-member etcd; start ferry up with the same --etcd-members as before, or give a new --etcd-data-dir"
                    + " (moving a cluster between member counts is an etcd member add/remove, not a restart)");
        }
        if (!single) {
            long existing;
            try (Stream<Path> dirs = Files.list(dataDir)) {
                existing = dirs.filter(d -> d.getFileName().toString().matches("member-\\d+")).count();
            } catch (IOException e) {
                existing = 0;
            }
            if (existing != 0 && existing != memberCount) {
                throw new IllegalStateException("the etcd data in " + dataDir + " belongs to a " + existing
                        + "-member etcd; start ferry up with --etcd-members " + existing + ", or give a new --etcd-data-dir");
            }
        }
        List<LocalEtcdMember> members = new ArrayList<>();
        for (int i = 1; i <= memberCount; i++) {
            int client = clientPort + 2 * (i - 1);
            members.add(single ? new LocalEtcdMember("ferry-up", client, client + 1, dataDir)
                    : new LocalEtcdMember("ferry-up-" + i, client, client + 1, dataDir.resolve("member-" + i)));
        }
        String name = logFile.getFileName().toString();
        return new LocalEtcd(members, logFile.getParent(), name.endsWith(".log") ? name.substring(0, name.length() - 4)
                : name, List.of(), null, runDir);
    }

    /**
     * Starts an etcd on free ports with a temporary data directory that {@link #close()} deletes.
     * The binary is {@code FERRY_ETCD_BINARY}, or etcd from the PATH.
     *
     * @param extraArgs more etcd flags, e.g. {@code --quota-backend-bytes} for large benchmarks
     */
    public static LocalEtcd temporary(String... extraArgs) throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory("ferry-etcd-");
        LocalEtcd etcd = new LocalEtcd(List.of(new LocalEtcdMember("ferry-temporary", LocalEtcdProbe.freePort(),
                LocalEtcdProbe.freePort(), dir.resolve("data"))), dir, "etcd", List.of(extraArgs), dir, null);
        etcd.start(binary());
        return etcd;
    }

    /**
     * A cluster of {@code memberCount} members on free loopback ports, each keeping its data in
     * {@code dir/member-<n>} and logging to {@code logDir/etcd-<member>.log}; for runs that kill and
     * restart members ({@link #killMember}, {@link #startMember}). {@code dir} is left to the caller.
     */
    public static LocalEtcd cluster(Path dir, Path logDir, int memberCount) throws IOException {
        List<LocalEtcdMember> members = new ArrayList<>();
        for (int i = 1; i <= memberCount; i++) {
            members.add(new LocalEtcdMember("ferry-" + i, LocalEtcdProbe.freePort(), LocalEtcdProbe.freePort(),
                    dir.resolve("member-" + i)));
        }
        return new LocalEtcd(members, logDir, "etcd", List.of(), null, null);
    }

    /** {@code FERRY_ETCD_BINARY}, or etcd from the PATH. */
    public static Path binary() {
        String override = System.getenv("FERRY_ETCD_BINARY");
        return override != null ? Path.of(override) : find().orElseThrow(() ->
                new IllegalStateException("etcd is not installed: sudo apt-get install -y etcd-server"));
    }

    public int memberCount() {
        return members.size();
    }

    /** SIGKILL to member {@code index} (0-based): what a crashed or powered-off etcd host looks like. */
    public synchronized void killMember(int index) throws InterruptedException {
        Process p = processes.get(index);
        if (p.isAlive()) {
            p.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
        }
    }

    /** Starts member {@code index} again with its own data (a no-op while it runs); does not wait for it. */
    public synchronized void startMember(int index) throws IOException {
        if (processes.get(index).isAlive()) {
            return;
        }
        processes.set(index, launch(members.get(index)));
    }

    public synchronized boolean memberAlive(int index) {
        return processes.get(index).isAlive();
    }

    /** Member {@code index}'s current process, for a supervisor that reports its exit; empty before the start. */
    synchronized Optional<Process> memberProcess(int index) {
        return index < processes.size() ? Optional.of(processes.get(index)) : Optional.empty();
    }

    /**
     * Takes this etcd's data directory for this process, and stops what a {@code ferry up} killed
     * before it could stop its etcd left running there (its pid file names the process; it is
     * stopped only when that pid's command line is etcd on this very member's data directory, so a
     * reused pid is never touched). Without the lock a second {@code ferry up} on the same data
     * would take the first one's etcd for a leftover.
     */
    synchronized void claim(PrintWriter out) throws IOException {
        if (runDir == null || lock != null) {
            return;
        }
        Files.createDirectories(runDir);
        Path lockFile = runDir.resolve("etcd.lock");
        lock = FileLocks.exclusive(lockFile, "the etcd of " + runDir + " is in use by another ferry up (it holds " + lockFile
                + "); stop that one first");
        for (LocalEtcdMember m : members) {
            Path pidFile = pidFile(m);
            Optional<ProcessHandle> leftover = readPid(pidFile).flatMap(ProcessHandle::of).filter(ProcessHandle::isAlive);
            if (leftover.isPresent() && isEtcdOn(leftover.get().pid(), m.dataDir())) {
                out.println("stopping etcd " + m.name() + " (pid " + leftover.get().pid() + "), left running on "
                        + m.dataDir() + " by a ferry up that did not stop it");
                out.flush();
                stopProcess(leftover.get());
            }
            Files.deleteIfExists(pidFile);
        }
    }

    /** The pid file of member {@code m}, written when it starts and removed when it is stopped. */
    Path pidFile(LocalEtcdMember m) {
        return runDir.resolve("etcd-" + m.name() + ".pid");
    }

    private static Optional<Long> readPid(Path pidFile) {
        try {
            return Optional.of(Long.parseLong(Files.readString(pidFile).trim()));
        } catch (IOException | NumberFormatException e) {
            // No pid file, or one cut short by a crash: nothing to recognise.
            return Optional.empty();
        }
    }

    /** Whether process {@code pid} is an etcd whose {@code --data-dir} is {@code dataDir}, read from /proc. */
    static boolean isEtcdOn(long pid, Path dataDir) {
        List<String> args;
        try {
            args = List.of(new String(Files.readAllBytes(Path.of("/proc", Long.toString(pid), "cmdline")),
                    StandardCharsets.UTF_8).split("\0"));
        } catch (IOException e) {
            return false;
        }
        if (args.isEmpty() || !Path.of(args.get(0)).getFileName().toString().equals("etcd")) {
            return false;
        }
        int flag = args.indexOf("--data-dir");
        return flag >= 0 && flag + 1 < args.size() && args.get(flag + 1).equals(dataDir.toString());
    }

    private static void stopProcess(ProcessHandle process) {
        process.destroy();
        try {
            process.onExit().get(15, TimeUnit.SECONDS);
        } catch (Exception e) {
            process.destroyForcibly();
            try {
                process.onExit().get(5, TimeUnit.SECONDS);
            } catch (Exception ignored) {
                // Reported by the port check that follows, which names the port still taken.
            }
        }
    }

    /** The client endpoints of every member, comma-separated. */
    public String endpoint() {
        return LocalEtcdMember.endpoints(members, false);
    }

    List<LocalEtcdMember> members() {
        return members;
    }

    /**
     * Finds etcd, installing Debian's etcd-server when running as root and it is missing; otherwise
     * explains how to install it.
     */
    static Path findOrInstall(CommandRunner runner, PrintWriter out) {
        Optional<Path> found = find();
        if (found.isPresent()) {
            return found.get();
        }
        if (!"root".equals(System.getProperty("user.name"))) {
            throw new IllegalStateException("etcd is not installed. Install Debian's etcd-server package:"
                    + " sudo apt-get install -y etcd-server   (then run ferry up again)");
        }
        out.println("installing etcd-server with apt-get (etcd was not found)...");
        out.flush();
        runner.run(Command.of("apt-get", "update", "-qq").withTimeout(Duration.ofMinutes(5)));
        runner.run(new Command(List.of("apt-get", "install", "-y", "-qq", "--no-install-recommends", "etcd-server"),
                Duration.ofMinutes(10), null, null));
        return find().orElseThrow(() -> new IllegalStateException("apt-get installed etcd-server but no etcd binary was found"));
    }

    static Optional<Path> find() {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(":")) {
            Path candidate = Path.of(dir, "etcd");
            if (!dir.isEmpty() && Files.isExecutable(candidate)) {
                return Optional.of(candidate);
            }
        }
        Path debian = Path.of("/usr/bin/etcd");
        return Files.isExecutable(debian) ? Optional.of(debian) : Optional.empty();
    }

    /**
     * Starts every member at once (a member of a cluster becomes healthy only once a quorum of them
     * runs) and waits until all are healthy.
     */
    public synchronized void start(Path binary) throws IOException, InterruptedException {
        claim(new PrintWriter(System.out, true));
        for (LocalEtcdMember m : members) {
            if (portInUse(m.clientPort()) || portInUse(m.peerPort())) {
                throw new IllegalStateException("port " + m.clientPort() + " or " + m.peerPort() + " on 127.0.0.1 is"
                        + " already in use (another ferry up or etcd?); stop it or choose --etcd-port");
            }
        }
        Files.createDirectories(logDir);
        this.binary = binary;
        for (LocalEtcdMember m : members) {
            processes.add(launch(m));
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30 + 10L * (members.size() - 1));
        while (System.nanoTime() < deadline) {
            for (int i = 0; i < members.size(); i++) {
                Process p = processes.get(i);
                if (!p.isAlive()) {
                    close();
                    throw new IllegalStateException("etcd " + members.get(i).name() + " exited with " + p.exitValue()
                            + " while starting; see " + logFile(members.get(i)));
                }
            }
            if (members.stream().allMatch(m -> LocalEtcdProbe.healthy(m.clientUrl(false)))) {
                return;
            }
            Thread.sleep(100);
        }
        close();
        throw new IllegalStateException("etcd did not become healthy within the start timeout; see " + logFile(members.get(0)));
    }

    private Process launch(LocalEtcdMember m) throws IOException {
        Files.createDirectories(m.dataDir());
        String token = "ferry-" + members.get(0).name() + "-" + members.get(0).clientPort();
        List<String> command = new ArrayList<>(m.command(binary, members, token, false));
        command.addAll(extraArgs);
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.redirectErrorStream(true);
        pb.redirectOutput(ProcessBuilder.Redirect.appendTo(logFile(m).toFile()));
        Process process = Spawner.start(pb);
        if (runDir != null) {
            Files.writeString(pidFile(m), process.pid() + "\n");
        }
        return process;
    }

    /** Where member {@code m} logs: the one log file of a single etcd, or one per member. */
    Path logFile(LocalEtcdMember m) {
        return logDir.resolve(members.size() == 1 ? logName + ".log" : logName + "-" + m.name() + ".log");
    }

    static boolean portInUse(int port) {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", port), 200);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    @Override
    public void close() {
        stop();
        if (temporaryDir != null) {
            try (Stream<Path> files = Files.walk(temporaryDir)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            } catch (IOException e) {
                // A leftover temporary directory is not worth failing a run for.
            }
        }
    }

    private synchronized void stop() {
        for (Process process : processes) {
            if (process.isAlive()) {
                process.destroy();
            }
        }
        for (Process process : processes) {
            try {
                if (!process.waitFor(15, TimeUnit.SECONDS)) {
                    process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
        processes.clear();
        if (lock != null) {
            for (LocalEtcdMember m : members) {
                try {
                    Files.deleteIfExists(pidFile(m));
                } catch (IOException e) {
                    // A stale pid file is harmless: the next claim checks the pid's command line.
                }
            }
            try {
                lock.close();
            } catch (IOException e) {
                // Closing releases the lock; the process ending does too.
            }
            lock = null;
        }
    }
}
