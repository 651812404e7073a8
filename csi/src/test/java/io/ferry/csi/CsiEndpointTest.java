package io.ferry.csi;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class CsiEndpointTest {

    @Test
    void unixEndpointsAreAbsoluteSocketPaths() {
        assertThat(CsiEndpoint.parse("unix:///csi/csi.sock")).isEqualTo(new CsiEndpoint.Unix(Path.of("/csi/csi.sock")));
        assertThat(CsiEndpoint.parse("/var/lib/kubelet/plugins/ferry.csi.io/csi.sock"))
                .isEqualTo(new CsiEndpoint.Unix(Path.of("/var/lib/kubelet/plugins/ferry.csi.io/csi.sock")));
        assertThat(CsiEndpoint.parse("unix:///csi/csi.sock").url()).isEqualTo("unix:///csi/csi.sock");
    }

    @Test
    void tcpEndpointsTakeHostNamesIpv4AndBracketedIpv6() {
        assertThat(CsiEndpoint.parse("tcp://0.0.0.0:10000")).isEqualTo(new CsiEndpoint.Tcp("0.0.0.0", 10000));
        assertThat(CsiEndpoint.parse("tcp://localhost:65535")).isEqualTo(new CsiEndpoint.Tcp("localhost", 65535));
        assertThat(CsiEndpoint.parse("TCP://10.0.2.15:1/")).isEqualTo(new CsiEndpoint.Tcp("10.0.2.15", 1));
        CsiEndpoint v6 = CsiEndpoint.parse("tcp://[::1]:10000");
        assertThat(v6).isEqualTo(new CsiEndpoint.Tcp("::1", 10000));
        assertThat(v6.url()).isEqualTo("tcp://[::1]:10000");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "unix://csi.sock|must be absolute",
            "unix:///|names a directory",
            "csi.sock|not a URL",
            "http://127.0.0.1:10000|unsupported scheme http",
            "dns:///host:10000|unsupported scheme dns",
            "tcp://127.0.0.1|missing port",
            "tcp://127.0.0.1:|missing port after the colon",
            "tcp://:10000|missing host",
            "tcp://127.0.0.1:http|port http is not a number",
            "tcp://127.0.0.1:0|port 0 is not a number from 1 to 65535",
            "tcp://127.0.0.1:65536|port 65536",
            "tcp://127.0.0.1:-5|port -5",
            "tcp://127.0.0.1:99999999999|port 99999999999",
            "tcp://::1:10000|in brackets",
            "tcp://[::1|missing ]",
            "tcp://[::1]10000|missing port",
            "tcp://127.0.0.1:10000/csi|only host:port",
    })
    void badEndpointsAreRefusedWithTheReason(String endpoint, String reason) {
        assertThatThrownBy(() -> CsiEndpoint.parse(endpoint)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(endpoint).hasMessageContaining(reason);
    }

    @Test
    void emptyEndpointsAreRefused() {
        assertThatThrownBy(() -> CsiEndpoint.parse(" ")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("empty");
    }
}
