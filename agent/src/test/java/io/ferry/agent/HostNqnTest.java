package io.ferry.agent;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class HostNqnTest {

    @TempDir
    Path dir;

    @Test
    void prefersTheHostsOwnNqn() throws Exception {
        Path own = dir.resolve("hostnqn");
        Files.writeString(own, "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555\n");
        assertThat(HostNqn.resolve(own, dir.resolve("state")))
                .isEqualTo("nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555");
        assertThat(dir.resolve("state")).doesNotExist();
    }

    @Test
    void generatesOneNqnAndKeepsItAcrossRestarts() {
        String first = HostNqn.resolve(dir.resolve("absent"), dir.resolve("state"));
        assertThat(first).startsWith("nqn.2014-08.org.nvmexpress:uuid:");
        assertThat(HostNqn.resolve(dir.resolve("absent"), dir.resolve("state"))).isEqualTo(first);
    }

    @Test
    void ignoresAHostFileThatIsNotAnNqn() throws Exception {
        Path own = dir.resolve("hostnqn");
        Files.writeString(own, "garbage; rm -rf /\n");
        assertThat(HostNqn.resolve(own, dir.resolve("state"))).startsWith("nqn.2014-08.org.nvmexpress:uuid:");
    }

    @Test
    void readsAgentSettingsFromArgumentsOverTheEnvironment() throws Exception {
        Map<String, String> s = AgentMain.settings(new String[] {"--node=worker-9", "--labels=zone=z1,rack=r2"},
                Map.of("FERRY_NODE", "worker-1", "FERRY_DATA_ADDRESS", "10.0.0.9", "PATH", "/bin"));
        AgentOptions o = AgentMain.options(s);
        assertThat(o.node()).isEqualTo("worker-9");
        assertThat(o.dataAddress()).isEqualTo("10.0.0.9");
        assertThat(o.labels()).containsEntry("zone", "z1").containsEntry("rack", "r2");
        assertThatThrownBy(() -> AgentMain.settings(new String[] {"node"}, Map.of()))
                .hasMessageContaining("--name=value");
        assertThatThrownBy(() -> AgentMain.options(Map.of("node", "n1")))
                .hasMessageContaining("--data-address");
    }
}
