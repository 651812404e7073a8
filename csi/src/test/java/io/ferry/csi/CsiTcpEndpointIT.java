package io.ferry.csi;

import io.ferry.csi.v1.GetPluginInfoRequest;
import io.ferry.csi.v1.GetPluginInfoResponse;
import io.ferry.csi.v1.IdentityGrpc;
import io.ferry.csi.v1.NodeGetInfoRequest;
import io.ferry.csi.v1.NodeGrpc;
import io.ferry.csi.v1.ProbeRequest;
import io.ferry.runtime.informer.InformerOptions;
import io.ferry.etcd.store.EtcdStore;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.runtime.exec.ProcessCommandRunner;
import io.grpc.ManagedChannel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The plugin served over TCP (the testbed drives a node plugin inside a VM this way) answers real calls. */
class CsiTcpEndpointIT {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    private final EventLoopGroup clientGroup = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    private CsiServer server;
    private ManagedChannel channel;

    @AfterEach
    void tearDown() {
        if (channel != null) {
            channel.shutdownNow();
        }
        if (server != null) {
            server.close();
        }
        clientGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }

    private CsiEndpoint start(String host) throws IOException {
        server = new CsiServer(new CsiServer.Options(CsiServer.Mode.BOTH, new CsiEndpoint.Tcp(host, 0),
                NodeService.Options.defaults("node-tcp"), InformerOptions.defaults()),
                EtcdStore.connect(etcd.options(EtcdExtension.uniquePrefix())), true, new ProcessCommandRunner()).start();
        CsiEndpoint bound = server.endpoint();
        channel = bound.channelBuilder(clientGroup).build();
        return bound;
    }

    @Test
    void identityAndNodeCallsWorkOverIpv4Loopback() throws IOException {
        CsiEndpoint bound = start("127.0.0.1");
        assertThat(bound).isInstanceOf(CsiEndpoint.Tcp.class);
        assertThat(((CsiEndpoint.Tcp) bound).port()).isPositive();
        // What an operator types reaches the same server.
        assertThat(CsiEndpoint.parse(bound.url())).isEqualTo(bound);

        IdentityGrpc.IdentityBlockingStub identity = IdentityGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
        GetPluginInfoResponse info = identity.getPluginInfo(GetPluginInfoRequest.getDefaultInstance());
        assertThat(info.getName()).isEqualTo(Driver.NAME);
        assertThat(identity.probe(ProbeRequest.getDefaultInstance()).getReady().getValue()).isTrue();
        assertThat(NodeGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
                .nodeGetInfo(NodeGetInfoRequest.getDefaultInstance()).getNodeId()).isEqualTo("node-tcp");
    }

    @Test
    void identityCallsWorkOverIpv6Loopback() throws IOException {
        assumeTrue(ipv6LoopbackWorks(), "this machine has no IPv6 loopback");
        CsiEndpoint bound = start("::1");
        assertThat(bound.url()).startsWith("tcp://[::1]:");
        assertThat(IdentityGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
                .getPluginInfo(GetPluginInfoRequest.getDefaultInstance()).getName()).isEqualTo(Driver.NAME);
    }

    @Test
    void aPortInUseIsAClearError() throws IOException {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            CsiServer refused = new CsiServer(new CsiServer.Options(CsiServer.Mode.CONTROLLER,
                    new CsiEndpoint.Tcp("127.0.0.1", taken.getLocalPort()), null, InformerOptions.defaults()),
                    EtcdStore.connect(etcd.options(EtcdExtension.uniquePrefix())), true, new ProcessCommandRunner());
            try {
                assertThatThrownBy(refused::start).isInstanceOf(IOException.class)
                        .hasMessageContaining("cannot listen on tcp://127.0.0.1:" + taken.getLocalPort());
            } finally {
                refused.close();
            }
        }
    }

    private static boolean ipv6LoopbackWorks() {
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getByName("::1"))) {
            return probe.getLocalPort() > 0;
        } catch (IOException e) {
            return false;
        }
    }
}
