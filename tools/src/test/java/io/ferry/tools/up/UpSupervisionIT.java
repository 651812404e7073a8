package io.ferry.tools.up;

import io.ferry.etcd.LocalEtcdProbe;
import java.io.IOException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code ferry up --processes} as a supervisor, run as a real process (as {@code bin/ferry up} runs
 * it) with a real etcd and real component JVMs: what a kill -9 of it leaves, how it restarts a
 * killed component, and what it says when the controller cannot start.
 */
@Timeout(value = 150, unit = TimeUnit.SECONDS)
class UpSupervisionIT {

    @TempDir
    Path dir;

    private final List<Process> ups = new ArrayList<>();
    /** Children of a killed ferry up: stopped after the test whatever it found, so that a failure leaves nothing behind. */
    private final List<ProcessHandle> orphans = new ArrayList<>();

    @AfterEach
    void stopEverything() throws Exception {
        for (Process up : ups) {
            List<ProcessHandle> children = up.descendants().toList();
            up.destroy();
            if (!up.waitFor(40, TimeUnit.SECONDS)) {
                up.destroyForcibly();
            }
            children.forEach(ProcessHandle::destroyForcibly);
        }
        orphans.forEach(ProcessHandle::destroyForcibly);
    }

    @Test
    void killNineOfFerryUpLeavesNoChildAliveAndTheNextUpStartsOnTheSamePorts() throws Exception {
        int etcdPort = freeRange(2);
        int adminPort = freeRange(2);
        Process first = up("first.out", etcdPort, adminPort);
        awaitOutput("first.out", text -> text.contains("Ferry is up"), Duration.ofSeconds(100));
        List<ProcessHandle> children = first.descendants().toList();
        orphans.addAll(children);
        assertThat(children).as("etcd, the controller, the agent and the CSI endpoint")
                .anyMatch(commandContains("etcd")).anyMatch(commandContains("io.ferry.controller.ControllerMain"))
                .anyMatch(commandContains("io.ferry.agent.AgentMain")).anyMatch(commandContains("io.ferry.csi.CsiMain"));

        first.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(25);
        while (children.stream().anyMatch(ProcessHandle::isAlive) && System.nanoTime() < deadline) {
            Thread.sleep(200);
        }
        assertThat(children.stream().filter(ProcessHandle::isAlive).map(p -> p.pid() + " " + p.info().command().orElse("?")))
                .as("children of the killed ferry up still alive").isEmpty();

        up("second.out", etcdPort, adminPort, "--no-csi");
        String second = awaitOutput("second.out", text -> text.contains("Ferry is up") || text.contains("error"),
                Duration.ofSeconds(100));
        assertThat(second).contains("Ferry is up").doesNotContain("already in use");
    }

    @Test
    void aComponentKilledWithSigkillIsRestartedAndReported() throws Exception {
        Process up = up("up.out", freeRange(2), freeRange(2), "--no-csi");
        awaitOutput("up.out", text -> text.contains("Ferry is up"), Duration.ofSeconds(100));
        ProcessHandle agent = up.descendants().filter(commandContains("io.ferry.agent.AgentMain")).findFirst().orElseThrow();

        agent.destroyForcibly();

        String text = awaitOutput("up.out", t -> t.contains("node-1 restarted"), Duration.ofSeconds(30));
        assertThat(text).contains("node-1 exited with status 137 (SIGKILL)").contains("Last lines of")
                .contains("node-1 restarted (1 restart so far)");
        assertThat(up.descendants().filter(commandContains("io.ferry.agent.AgentMain")).filter(ProcessHandle::isAlive))
                .as("a new agent process").hasSize(1).noneMatch(p -> p.pid() == agent.pid());
    }

    @Test
    void aControllerThatExitsAtStartIsReportedAndFerryIsNotSaidToBeUp() throws Exception {
        int adminPort = freeRange(2);
        // The controller's admin port is taken: it exits with status 1 at every start.
        try (ServerSocket taken = new ServerSocket(adminPort, 1, InetAddress.getLoopbackAddress())) {
            up("up.out", freeRange(2), adminPort, "--no-csi", "--ready-timeout", "25");
            String text = awaitOutput("up.out", t -> t.contains("Ferry is NOT up") || t.contains("Ferry is up"),
                    Duration.ofSeconds(100));
            assertThat(text).doesNotContain("Ferry is up").contains("ferry up: controller exited with status 1")
                    .containsPattern("  controller: .*exited with status 1 after \\d+ s \\(\\d+ restart\\(s\\) so far\\); last log line: ");
        }
    }

    private Process up(String output, int etcdPort, int adminPort, String... extra) throws Exception {
        List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                "-cp", System.getProperty("java.class.path"), FerryMain.class.getName(), "up", "--processes",
                "--agents", "1", "--data-dir", dir.resolve("data").toString(), "--etcd-port", String.valueOf(etcdPort),
                "--admin-port", String.valueOf(adminPort)));
        command.addAll(List.of(extra));
        if (!command.contains("--ready-timeout")) {
            command.addAll(List.of("--ready-timeout", "90"));
        }
        Process up = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(dir.resolve(output).toFile()).start();
        ups.add(up);
        return up;
    }

    private String awaitOutput(String output, Predicate<String> done, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        String text = "";
        while (System.nanoTime() < deadline) {
            text = Files.exists(dir.resolve(output)) ? Files.readString(dir.resolve(output)) : "";
            if (done.test(text)) {
                return text;
            }
            Thread.sleep(250);
        }
        throw new AssertionError("ferry up did not get there within " + timeout.toSeconds() + " s; it printed:\n" + text);
    }

    /** Read from /proc: ProcessHandle.Info drops the arguments of a command line as long as a JVM's. */
    private static Predicate<ProcessHandle> commandContains(String part) {
        return p -> {
            try {
                return new String(Files.readAllBytes(Path.of("/proc", Long.toString(p.pid()), "cmdline"))).contains(part);
            } catch (IOException e) {
                return false;
            }
        };
    }

    /** The first of {@code n} consecutive ports that are free on loopback now. */
    static int freeRange(int n) throws Exception {
        for (int attempt = 0; attempt < 50; attempt++) {
            int base = LocalEtcdProbe.freePort();
            boolean free = base + n < 65535;
            for (int i = 0; free && i < n; i++) {
                free = !LocalEtcd.portInUse(base + i);
            }
            if (free) {
                return base;
            }
        }
        throw new IllegalStateException("no " + n + " consecutive free ports");
    }
}
