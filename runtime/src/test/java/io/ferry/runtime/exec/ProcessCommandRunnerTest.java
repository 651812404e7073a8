package io.ferry.runtime.exec;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ProcessCommandRunnerTest {

    final ProcessCommandRunner runner = new ProcessCommandRunner();

    @Test
    void passesArgumentsVerbatimWithoutAShellInterpretingThem() {
        String tricky = "a b; echo pwned $(id) `id` * | cat > /tmp/x";
        CommandResult result = runner.run(Command.of("printf", "%s", tricky));
        assertThat(result.stdout()).isEqualTo(tricky);
    }

    @Test
    void aNonZeroExitFailsWithTheCommandLineExitCodeAndStderr() {
        assertThatThrownBy(() -> runner.run(Command.of("ls", "/definitely/not/here")))
                .isInstanceOf(CommandFailedException.class)
                .hasMessageContaining("'ls /definitely/not/here' exited with 2")
                .hasMessageContaining("No such file or directory");
        CommandResult result = runner.execute(Command.of("ls", "/definitely/not/here"));
        assertThat(result.succeeded()).isFalse();
        assertThat(result.stderr()).contains("No such file");
    }

    @Test
    void aSecretArgumentIsMaskedInTheCommandLineItsOutputAndTheErrorOfAFailedRun() {
        String secret = "DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:";
        // The program echoes its argument to both streams and fails, as a usage error might.
        Command command = Command.of("sh", "-c", "echo \"bad key $1\"; echo \"bad key $1\" >&2; exit 3", "sh",
                "--dhchap-secret=" + secret).withSecrets(secret);
        assertThat(command.display()).doesNotContain(secret).contains("--dhchap-secret=" + Command.MASK);
        assertThat(command.toString()).doesNotContain(secret);
        assertThatThrownBy(() -> runner.run(command)).isInstanceOf(CommandFailedException.class)
                .hasMessageContaining("exited with 3").hasMessageContaining("bad key --dhchap-secret=" + Command.MASK)
                .hasMessageNotContaining(secret);
        CommandResult result = runner.execute(command);
        assertThat(result.stdout() + result.stderr()).doesNotContain(secret);
        // The process itself got the real value.
        assertThat(runner.run(Command.of("printf", "%s", secret).withSecrets(secret)).stdout()).isEqualTo(Command.MASK);
        assertThat(runner.run(Command.of("sh", "-c", "test \"$1\" = " + "'" + secret + "'", "sh", secret)
                .withSecrets(secret)).succeeded()).isTrue();
    }

    @Test
    void aCommandThatOverrunsItsTimeoutIsKilledAndReported() {
        long start = System.nanoTime();
        assertThatThrownBy(() -> runner.run(Command.of("sleep", "30").withTimeout(Duration.ofMillis(300))))
                .isInstanceOf(CommandFailedException.class)
                .hasMessageContaining("did not finish within 300 ms")
                .matches(e -> ((CommandFailedException) e).timedOut());
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
    }

    @Test
    void aMissingProgramFailsClearly() {
        assertThatThrownBy(() -> runner.run(Command.of("/nonexistent/ferry-tool")))
                .isInstanceOf(CommandFailedException.class).hasMessageContaining("could not start");
    }

    @Test
    void feedsStdinAndCapturesLargeOutputWithoutDeadlocking() {
        byte[] input = "x".repeat(1 << 20).getBytes(StandardCharsets.UTF_8);
        CommandResult result = runner.run(Command.of("cat").withStdin(input));
        assertThat(result.stdout()).hasSize(1 << 20);
    }

    @Test
    void commandsSharingALockKeyRunOneAfterAnother() throws Exception {
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            threads.add(new Thread(() -> runner.run(Command.of("sleep", "0.1").serializedBy("vg0"))));
        }
        long start = System.nanoTime();
        threads.forEach(Thread::start);
        for (Thread t : threads) {
            t.join();
        }
        // A lower bound only: it holds however loaded the machine is.
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofMillis(400));
    }
}
