package io.ferry.agent;

import io.ferry.model.DhchapKey;
import io.ferry.runtime.auth.HostKeyFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class LiveControllerKeysTest {

    static final String NQN = "nqn.2014-08.org.nvmexpress:uuid:bbbbbbbb-0000-4000-8000-000000000002";
    static final String OTHER = "nqn.2014-08.org.nvmexpress:uuid:cccccccc-0000-4000-8000-000000000003";

    @TempDir
    Path sys;

    final HostKeyFile.Pair old = pair(1);
    final HostKeyFile.Pair next = pair(2);

    static HostKeyFile.Pair pair(long generation) {
        return new HostKeyFile.Pair(generation, DhchapKey.generate(), DhchapKey.generate(), Instant.EPOCH);
    }

    Path controller(String name, String hostNqn, String secret, String ctrlSecret) throws IOException {
        Path dir = Files.createDirectories(sys.resolve(name));
        Files.writeString(dir.resolve("hostnqn"), hostNqn + "\n");
        Files.writeString(dir.resolve("dhchap_secret"), secret + "\n");
        Files.writeString(dir.resolve("dhchap_ctrl_secret"), ctrlSecret + "\n");
        return dir;
    }

    static String read(Path file) throws IOException {
        return Files.readString(file).strip();
    }

    static LiveControllerKeys keys(Path sys) {
        return new LiveControllerKeys(sys, Duration.ZERO, Duration.ofMillis(300));
    }

    @Test
    void theControllerKeyStepWritesOnlyTheControllerKeyIntoTheControllersOfThisHostThatUseTheOldPair() throws Exception {
        Path ours = controller("nvme0", NQN, old.hostKey().value(), old.ctrlKey().value());
        Path oneWay = controller("nvme3", NQN, old.hostKey().value(), "none");
        Path otherHost = controller("nvme1", OTHER, old.hostKey().value(), old.ctrlKey().value());
        Path otherSecret = controller("nvme2", NQN, "DHHC-1:00:someone-elses:", "none");
        Path noAuth = controller("nvme4", NQN, "none", "none");
        Files.createDirectories(sys.resolve("nvme-subsys0"));

        assertThat(keys(sys).useCtrlKey(NQN, old, next).controllers()).isEqualTo(2);

        assertThat(read(ours.resolve("dhchap_ctrl_secret"))).isEqualTo(next.ctrlKey().value());
        assertThat(read(ours.resolve("dhchap_secret"))).as("the host key waits for the targets to serve it")
                .isEqualTo(old.hostKey().value());
        assertThat(read(oneWay.resolve("dhchap_ctrl_secret"))).as("a one-way controller gets no controller key")
                .isEqualTo("none");
        assertThat(read(otherHost.resolve("dhchap_ctrl_secret"))).isEqualTo(old.ctrlKey().value());
        assertThat(read(otherSecret.resolve("dhchap_secret"))).isEqualTo("DHHC-1:00:someone-elses:");
        assertThat(read(noAuth.resolve("dhchap_secret"))).isEqualTo("none");

        assertThat(keys(sys).useHostKey(NQN, old, next).controllers()).isEqualTo(2);

        assertThat(read(ours.resolve("dhchap_secret"))).isEqualTo(next.hostKey().value());
        assertThat(read(ours.resolve("dhchap_ctrl_secret"))).isEqualTo(next.ctrlKey().value());
        assertThat(read(oneWay.resolve("dhchap_secret"))).isEqualTo(next.hostKey().value());
        assertThat(read(oneWay.resolve("dhchap_ctrl_secret"))).isEqualTo("none");
        assertThat(read(otherHost.resolve("dhchap_secret"))).isEqualTo(old.hostKey().value());
        assertThat(read(otherSecret.resolve("dhchap_secret"))).isEqualTo("DHHC-1:00:someone-elses:");
        assertThat(read(noAuth.resolve("dhchap_secret"))).isEqualTo("none");
    }

    @Test
    void aStepRepeatedAfterARestartWritesNothingAgainAndAControllerMissingTheControllerKeyGetsItFirst() throws Exception {
        Path done = controller("nvme0", NQN, next.hostKey().value(), next.ctrlKey().value());
        // Connected with the old pair in between the steps (or switched before the steps existed).
        Path late = controller("nvme1", NQN, old.hostKey().value(), old.ctrlKey().value());
        Files.setLastModifiedTime(done.resolve("dhchap_secret"), FileTime.fromMillis(0));

        assertThat(keys(sys).useHostKey(NQN, old, next).controllers()).isEqualTo(2);

        assertThat(Files.getLastModifiedTime(done.resolve("dhchap_secret")).toMillis()).as("not written again").isZero();
        assertThat(read(late.resolve("dhchap_ctrl_secret"))).isEqualTo(next.ctrlKey().value());
        assertThat(read(late.resolve("dhchap_secret"))).isEqualTo(next.hostKey().value());
    }

    @Test
    void aStepWaitsForTheControllersItWroteToBeLiveAgainAndNamesThoseThatAreNot() throws Exception {
        Path recovering = controller("nvme0", NQN, old.hostKey().value(), old.ctrlKey().value());
        Path stuck = controller("nvme1", NQN, old.hostKey().value(), old.ctrlKey().value());
        Files.writeString(recovering.resolve("state"), "resetting\n");
        Files.writeString(stuck.resolve("state"), "connecting\n");
        LiveControllerKeys slow = new LiveControllerKeys(sys, Duration.ZERO, Duration.ofSeconds(5));
        Thread reconnect = new Thread(() -> {
            try {
                Thread.sleep(200);
                Files.writeString(recovering.resolve("state"), "live\n");
                Files.writeString(stuck.resolve("state"), "live\n");
            } catch (IOException | InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        reconnect.start();
        assertThat(slow.useCtrlKey(NQN, old, next).notLive()).isEmpty();
        reconnect.join();

        Files.writeString(stuck.resolve("state"), "connecting\n");
        LiveControllerKeys.Switched switched = keys(sys).useHostKey(NQN, old, next);
        assertThat(switched.controllers()).isEqualTo(2);
        assertThat(switched.notLive()).containsExactly("nvme1 connecting");
        assertThat(switched.describe()).contains("nvme1 connecting").doesNotContain(next.hostKey().value());
    }

    @Test
    void aRefusedWriteNamesTheFileButNotTheKey() throws Exception {
        Path ours = controller("nvme0", NQN, old.hostKey().value(), old.ctrlKey().value());
        // An attribute the agent cannot use (as a kernel refusing it): the step stops there.
        Files.delete(ours.resolve("dhchap_ctrl_secret"));
        Files.createDirectories(ours.resolve("dhchap_ctrl_secret"));
        Files.writeString(ours.resolve("dhchap_ctrl_secret").resolve("x"), "");
        assertThatThrownBy(() -> keys(sys).useHostKey(NQN, old, next))
                .isInstanceOf(UncheckedIOException.class)
                .hasMessageContaining(ours.resolve("dhchap_ctrl_secret").toString())
                .hasMessageNotContaining(next.ctrlKey().value())
                .hasMessageNotContaining(next.hostKey().value());
        assertThat(read(ours.resolve("dhchap_secret"))).as("the host key is not written after a failure")
                .isEqualTo(old.hostKey().value());
    }
}
