package io.ferry.agent;

import io.ferry.model.DhchapKey;
import io.ferry.runtime.auth.HostKeyFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
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

    @Test
    void writesTheNewPairIntoTheControllersOfThisHostThatUseTheOldOneAndNowhereElse() throws Exception {
        Path ours = controller("nvme0", NQN, old.hostKey().value(), old.ctrlKey().value());
        Path oneWay = controller("nvme3", NQN, old.hostKey().value(), "none");
        Path otherHost = controller("nvme1", OTHER, old.hostKey().value(), old.ctrlKey().value());
        Path otherSecret = controller("nvme2", NQN, "DHHC-1:00:someone-elses:", "none");
        Path noAuth = controller("nvme4", NQN, "none", "none");
        Files.createDirectories(sys.resolve("nvme-subsys0"));

        assertThat(new LiveControllerKeys(sys).switchTo(NQN, old, next)).isEqualTo(2);

        assertThat(read(ours.resolve("dhchap_secret"))).isEqualTo(next.hostKey().value());
        assertThat(read(ours.resolve("dhchap_ctrl_secret"))).isEqualTo(next.ctrlKey().value());
        assertThat(read(oneWay.resolve("dhchap_secret"))).isEqualTo(next.hostKey().value());
        assertThat(read(oneWay.resolve("dhchap_ctrl_secret"))).as("a one-way controller gets no controller key")
                .isEqualTo("none");
        assertThat(read(otherHost.resolve("dhchap_secret"))).isEqualTo(old.hostKey().value());
        assertThat(read(otherSecret.resolve("dhchap_secret"))).isEqualTo("DHHC-1:00:someone-elses:");
        assertThat(read(noAuth.resolve("dhchap_secret"))).isEqualTo("none");
    }

    @Test
    void aSwitchInterruptedHalfwayIsFinishedByTheNextOne() throws Exception {
        // The controller key was written, then the agent stopped before the host key.
        Path ours = controller("nvme0", NQN, old.hostKey().value(), next.ctrlKey().value());
        assertThat(new LiveControllerKeys(sys).switchTo(NQN, old, next)).isEqualTo(1);
        assertThat(read(ours.resolve("dhchap_secret"))).isEqualTo(next.hostKey().value());
        assertThat(new LiveControllerKeys(sys).switchTo(NQN, old, next)).as("already switched: counted, unchanged")
                .isEqualTo(1);
    }

    @Test
    void aRefusedWriteNamesTheFileButNotTheKey() throws Exception {
        Path ours = controller("nvme0", NQN, old.hostKey().value(), old.ctrlKey().value());
        // An attribute the agent cannot use (as a kernel refusing it): the switch stops there.
        Files.delete(ours.resolve("dhchap_ctrl_secret"));
        Files.createDirectories(ours.resolve("dhchap_ctrl_secret"));
        Files.writeString(ours.resolve("dhchap_ctrl_secret").resolve("x"), "");
        assertThatThrownBy(() -> new LiveControllerKeys(sys).switchTo(NQN, old, next))
                .isInstanceOf(UncheckedIOException.class)
                .hasMessageContaining(ours.resolve("dhchap_ctrl_secret").toString())
                .hasMessageNotContaining(next.ctrlKey().value())
                .hasMessageNotContaining(next.hostKey().value());
        assertThat(read(ours.resolve("dhchap_secret"))).as("the host key is not written after a failure")
                .isEqualTo(old.hostKey().value());
    }
}
