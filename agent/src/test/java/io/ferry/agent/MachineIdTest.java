package io.ferry.agent;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

class MachineIdTest {

    @Test
    void theKernelsBootIdNamesTheMachineUnlessTheOperatorNamesIt(@TempDir Path dir) throws Exception {
        Path bootId = Files.writeString(dir.resolve("boot_id"), "5d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6\n");
        assertThat(MachineId.resolve(null, bootId)).isEqualTo("5d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6");
        assertThat(MachineId.resolve("rack7-host3", bootId)).isEqualTo("rack7-host3");
    }

    @Test
    void anUnreadableOrMalformedBootIdNamesNoMachine(@TempDir Path dir) throws Exception {
        assertThat(MachineId.resolve(null, dir.resolve("missing"))).isNull();
        assertThat(MachineId.resolve(null, Files.writeString(dir.resolve("odd"), "not a token\n"))).isNull();
    }

    @Test
    void everyAgentOfThisKernelReadsTheSameId() {
        // Two agents of one ferry up, in one JVM or as processes, read one file of one kernel.
        String first = MachineId.resolve(null, MachineId.BOOT_ID);
        assertThat(first).isNotNull().isEqualTo(MachineId.resolve(null, MachineId.BOOT_ID));
    }
}
