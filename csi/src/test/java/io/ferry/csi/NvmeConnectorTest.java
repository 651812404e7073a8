package io.ferry.csi;

import io.ferry.model.ExportInfo;
import io.ferry.model.NvmeAuth;
import io.ferry.runtime.auth.HostKeyFile;
import io.ferry.runtime.exec.Command;
import io.ferry.runtime.exec.CommandResult;
import io.ferry.runtime.exec.FakeCommandRunner;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Command lines and sysfs lookups of the NVMe/TCP path; the real kernel path is the VM testbed's. */
class NvmeConnectorTest {

    static final String NQN = "nqn.2026-11.io.ferry:vol:data-1";
    static final String HOST = "nqn.2014-08.org.nvmexpress:uuid:6c1f2a64-8b8e-4d62-9d0e-0f1b5e0c1a77";
    static final ExportInfo EXPORT = ExportInfo.tcp(NQN, "10.0.1.11", 4420, "87d69e7e86ef0f4dab92", Set.of(HOST));

    @TempDir
    Path sys;

    NvmeConnector connector(FakeCommandRunner runner) {
        return new NvmeConnector(runner, sys, Path.of("/dev"), new NvmeConnector.Options(3, 120, Duration.ofSeconds(2)));
    }

    void controller(String name, String nqn, String serial, String namespace) throws Exception {
        Path ctrl = Files.createDirectories(sys.resolve("class/nvme").resolve(name));
        Files.writeString(ctrl.resolve("subsysnqn"), nqn + "\n");
        Files.writeString(ctrl.resolve("serial"), serial + "  \n");
        if (namespace != null) {
            Files.createDirectories(ctrl.resolve(namespace));
        }
    }

    @Test
    void connectsWithTheHostNqnAndTimeoutsThenFindsTheNamespaceBySerial() throws Exception {
        FakeCommandRunner runner = new FakeCommandRunner();
        runner.on(List.of("nvme", "connect"), c -> {
            try {
                controller("nvme3", NQN, "87d69e7e86ef0f4dab92", "nvme3n1");
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
            return new CommandResult(c, 0, "", "", Duration.ZERO);
        });
        Path device = connector(runner).connect(EXPORT, HOST, NvmeAuth.OFF);
        assertThat(device).isEqualTo(Path.of("/dev/nvme3n1"));
        assertThat(runner.commandLines()).containsExactly("nvme connect -t tcp -a 10.0.1.11 -s 4420 -n " + NQN
                + " --hostnqn " + HOST + " --reconnect-delay 3 --ctrl-loss-tmo 120");
    }

    @Test
    void doesNotConnectTwice() throws Exception {
        controller("nvme0", "nqn.other", "ffff", "nvme0n1");
        controller("nvme1", NQN, "87d69e7e86ef0f4dab92", "nvme1c1n1");
        FakeCommandRunner runner = new FakeCommandRunner();
        assertThat(connector(runner).connect(EXPORT, HOST, NvmeAuth.OFF)).isEqualTo(Path.of("/dev/nvme1n1"));
        assertThat(runner.commandLines()).isEmpty();
    }

    @Test
    void refusesTheExportsSerialUnderAnotherSubsystemAndConnectsToTheRightOne() throws Exception {
        // Any target this host reaches can announce any serial: an already connected controller of
        // another subsystem showing the volume's serial must not be taken for the volume.
        controller("nvme0", "nqn.2014-08.org.evil:disk", "87d69e7e86ef0f4dab92", "nvme0n1");
        FakeCommandRunner runner = new FakeCommandRunner().on(List.of("nvme", "connect"), "");
        assertThatThrownBy(() -> connector(runner).connect(EXPORT, HOST, NvmeAuth.OFF))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
                    assertThat(e.getStatus().getDescription()).contains(NQN).contains("87d69e7e86ef0f4dab92")
                            .contains("nvme0 (subsystem nqn.2014-08.org.evil:disk)");
                });
        assertThat(runner.commandLines()).hasSize(1).allMatch(l -> l.startsWith("nvme connect ") && l.contains(" -n " + NQN));

        controller("nvme1", NQN, "87d69e7e86ef0f4dab92", "nvme1n1");
        assertThat(connector(runner).connect(EXPORT, HOST, NvmeAuth.OFF)).isEqualTo(Path.of("/dev/nvme1n1"));
    }

    @Test
    void carriesStderrWhenConnectFails() {
        FakeCommandRunner runner = new FakeCommandRunner().fail(List.of("nvme", "connect"), 1,
                "Failed to write to /dev/nvme-fabrics: Connection refused");
        assertThatThrownBy(() -> connector(runner).connect(EXPORT, HOST, NvmeAuth.OFF)).hasMessageContaining("Connection refused");
    }

    NvmeConnector connector(FakeCommandRunner runner, Path keys) {
        return new NvmeConnector(runner, sys, Path.of("/dev"),
                new NvmeConnector.Options(3, 120, Duration.ofSeconds(2)).withAuthKeys(keys));
    }

    @Test
    void withAuthItConnectsWithTheHostsPairAndTheCommandLineNeverShowsIt() throws Exception {
        Path keys = sys.resolve("state").resolve(HostKeyFile.FILE_NAME);
        HostKeyFile.Pair pair = HostKeyFile.ensure(keys, Instant.EPOCH);
        FakeCommandRunner runner = new FakeCommandRunner();
        List<Command> seen = new ArrayList<>();
        runner.on(List.of("nvme", "connect"), c -> {
            seen.add(c);
            try {
                controller("nvme3", NQN, "87d69e7e86ef0f4dab92", "nvme3n1");
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
            return new CommandResult(c, 0, "", "", Duration.ZERO);
        });
        connector(runner, keys).connect(EXPORT, HOST, NvmeAuth.BIDIRECTIONAL);
        assertThat(seen).singleElement().satisfies(c -> {
            assertThat(c.argv()).containsSubsequence("--dhchap-secret", pair.hostKey().value());
            assertThat(c.argv()).containsSubsequence("--dhchap-ctrl-secret", pair.ctrlKey().value());
        });
        assertThat(runner.commandLines()).singleElement().asString()
                .endsWith("--dhchap-secret " + Command.MASK + " --dhchap-ctrl-secret " + Command.MASK)
                .doesNotContain(pair.hostKey().value()).doesNotContain(pair.ctrlKey().value());

        // Unidirectional: the host does not ask the target to prove anything.
        Command one = connector(runner, keys).connectCommand(EXPORT, HOST, NvmeAuth.UNIDIRECTIONAL, Optional.of(pair));
        assertThat(one.argv()).contains("--dhchap-secret").doesNotContain("--dhchap-ctrl-secret", pair.ctrlKey().value());
    }

    @Test
    void aFailedAuthenticatedConnectSaysWhyWithoutTheKeys() throws Exception {
        Path keys = sys.resolve(HostKeyFile.FILE_NAME);
        HostKeyFile.Pair pair = HostKeyFile.ensure(keys, Instant.EPOCH);
        FakeCommandRunner runner = new FakeCommandRunner().fail(List.of("nvme", "connect"), 1,
                "Failed to write to /dev/nvme-fabrics: Operation not permitted");
        assertThatThrownBy(() -> connector(runner, keys).connect(EXPORT, HOST, NvmeAuth.BIDIRECTIONAL))
                .hasMessageContaining("Operation not permitted").hasMessageContaining("--dhchap-secret " + Command.MASK)
                .hasMessageNotContaining(pair.hostKey().value()).hasMessageNotContaining(pair.ctrlKey().value());
    }

    @Test
    void withAuthAndNoKeysNothingIsTriedAndTheErrorNamesTheFile() {
        Path keys = sys.resolve("missing").resolve(HostKeyFile.FILE_NAME);
        FakeCommandRunner runner = new FakeCommandRunner();
        assertThatThrownBy(() -> connector(runner, keys).connect(EXPORT, HOST, NvmeAuth.UNIDIRECTIONAL))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
                    assertThat(e.getStatus().getDescription()).contains(keys.toString()).contains("agent");
                });
        assertThat(runner.commandLines()).isEmpty();
    }

    @Test
    void disconnectIsIdempotent() throws Exception {
        FakeCommandRunner runner = new FakeCommandRunner().on(List.of("nvme", "disconnect"), "");
        connector(runner).disconnect(NQN);
        assertThat(runner.commandLines()).isEmpty();
        controller("nvme2", NQN, "87d69e7e86ef0f4dab92", "nvme2n1");
        connector(runner).disconnect(NQN);
        assertThat(runner.commandLines()).containsExactly("nvme disconnect -n " + NQN);
    }
}
