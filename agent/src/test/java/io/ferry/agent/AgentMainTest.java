package io.ferry.agent;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class AgentMainTest {

    @Test
    void aMisspeltArgumentIsRefusedNamingTheKnownOnes() {
        assertThatThrownBy(() -> AgentMain.parse(List.of("--data-address=10.0.0.1", "--state-dri=/var/lib/ferry"), Map.of()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("unknown argument --state-dri")
                .hasMessageContaining("--state-dir");
    }

    @Test
    void everyDocumentedArgumentIsAccepted() throws Exception {
        AgentOptions o = AgentMain.parse(List.of("--node=worker-1", "--data-address=10.0.0.1", "--admin=127.0.0.1:9091",
                "--labels=rack=r1", "--state-dir=/var/lib/ferry", "--cluster=c1", "--spdk-socket=/var/tmp/spdk.sock",
                "--nvmet-root=/sys/kernel/config/nvmet", "--host-nqn-file=/etc/nvme/hostnqn", "--concurrency=4",
                "--loop-devices=losetup", "--machine-id=rack7-host3"), Map.of());
        assertThat(o.node()).isEqualTo("worker-1");
        assertThat(o.machineId()).isEqualTo("rack7-host3");
        assertThat(o.concurrency()).isEqualTo(4);
        assertThat(o.cluster()).isEqualTo("c1");
    }

    @Test
    void aMachineIdThatNoRegistrationCouldCarryIsRefused() {
        assertThatThrownBy(() -> AgentMain.parse(List.of("--data-address=10.0.0.1", "--machine-id=two words"), Map.of()))
                .hasMessageContaining("machineId");
    }

    @Test
    void environmentVariablesAreNotCheckedAgainstTheArguments() throws Exception {
        // FERRY_* also carries the etcd settings every Ferry process reads.
        AgentOptions o = AgentMain.parse(List.of("--node=worker-1"),
                Map.of("FERRY_DATA_ADDRESS", "10.0.0.1", "FERRY_ETCD_ENDPOINTS", "http://etcd:2379"));
        assertThat(o.dataAddress()).isEqualTo("10.0.0.1");
    }
}
