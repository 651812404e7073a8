package io.ferry.csi;

import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Where a CSI plugin listens: a Unix domain socket (what the sidecars and the kubelet use) or a TCP
 * address (debugging, and driving a node plugin inside a VM from its host). This is the one place
 * that picks the netty transport for either side of the connection; both use native epoll, so one
 * kind of event loop group serves both.
 */
public sealed interface CsiEndpoint permits CsiEndpoint.Unix, CsiEndpoint.Tcp {

    String FORMS = "unix:///absolute/path/csi.sock or tcp://host:port (tcp://0.0.0.0:10000, tcp://[::1]:10000)";

    /** The endpoint as a URL, in the form {@link #parse} accepts. */
    String url();

    /** A server builder bound to this endpoint; the caller adds the services. */
    NettyServerBuilder serverBuilder(EventLoopGroup boss, EventLoopGroup workers);

    /** A plaintext client channel builder for this endpoint. */
    NettyChannelBuilder channelBuilder(EventLoopGroup group);

    /** @param socket absolute path of the socket file */
    record Unix(Path socket) implements CsiEndpoint {
        @Override
        public String url() {
            return "unix://" + socket;
        }

        @Override
        public NettyServerBuilder serverBuilder(EventLoopGroup boss, EventLoopGroup workers) {
            return NettyServerBuilder.forAddress(new DomainSocketAddress(socket.toString()))
                    .channelType(EpollServerDomainSocketChannel.class).bossEventLoopGroup(boss).workerEventLoopGroup(workers);
        }

        @Override
        public NettyChannelBuilder channelBuilder(EventLoopGroup group) {
            // grpc-netty asks every client channel for TCP keep-alive; a null value drops the option, which a
            // Unix socket does not have, instead of netty warning about it on every connection.
            return NettyChannelBuilder.forAddress(new DomainSocketAddress(socket.toString()))
                    .channelType(EpollDomainSocketChannel.class).eventLoopGroup(group).usePlaintext()
                    .withOption(ChannelOption.SO_KEEPALIVE, null);
        }
    }

    /**
     * @param host a host name or an IP address (IPv6 without brackets); 0.0.0.0 or :: listens on
     *             every interface
     * @param port 1 to 65535; 0 only for a server that lets the kernel pick (tests)
     */
    record Tcp(String host, int port) implements CsiEndpoint {
        @Override
        public String url() {
            return "tcp://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
        }

        @Override
        public NettyServerBuilder serverBuilder(EventLoopGroup boss, EventLoopGroup workers) {
            return NettyServerBuilder.forAddress(new InetSocketAddress(host, port))
                    .channelType(EpollServerSocketChannel.class).bossEventLoopGroup(boss).workerEventLoopGroup(workers);
        }

        @Override
        public NettyChannelBuilder channelBuilder(EventLoopGroup group) {
            return NettyChannelBuilder.forAddress(host, port)
                    .channelType(EpollSocketChannel.class).eventLoopGroup(group).usePlaintext();
        }
    }

    /**
     * Parses {@code unix:///abs/path}, a bare absolute path (the form older Ferry releases took), or
     * {@code tcp://host:port}; anything else throws {@link IllegalArgumentException} saying why.
     */
    static CsiEndpoint parse(String text) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("the CSI endpoint is empty; use " + FORMS);
        }
        String value = text.strip();
        String lower = value.toLowerCase(Locale.ROOT);
        if (lower.startsWith("unix://") || value.startsWith("/")) {
            String path = lower.startsWith("unix://") ? value.substring("unix://".length()) : value;
            if (!path.startsWith("/")) {
                throw new IllegalArgumentException("CSI endpoint " + text + ": the socket path must be absolute, as in "
                        + "unix:///csi/csi.sock (three slashes)");
            }
            if (path.length() == 1 || path.endsWith("/")) {
                throw new IllegalArgumentException("CSI endpoint " + text + " names a directory, not a socket file");
            }
            return new Unix(Path.of(path));
        }
        if (lower.startsWith("tcp://")) {
            return parseTcp(text, value.substring("tcp://".length()));
        }
        int scheme = value.indexOf("://");
        throw new IllegalArgumentException("CSI endpoint " + text + ": "
                + (scheme > 0 ? "unsupported scheme " + value.substring(0, scheme) : "not a URL")
                + "; use " + FORMS);
    }

    private static Tcp parseTcp(String text, String authority) {
        if (authority.endsWith("/")) {
            authority = authority.substring(0, authority.length() - 1);
        }
        if (authority.contains("/") || authority.contains("?") || authority.contains("@")) {
            throw new IllegalArgumentException("CSI endpoint " + text + ": a tcp endpoint is only host:port");
        }
        String host;
        String port;
        if (authority.startsWith("[")) {
            int close = authority.indexOf(']');
            if (close < 0) {
                throw new IllegalArgumentException("CSI endpoint " + text + ": missing ] after the IPv6 address");
            }
            host = authority.substring(1, close);
            String rest = authority.substring(close + 1);
            if (!rest.startsWith(":")) {
                throw new IllegalArgumentException("CSI endpoint " + text + ": missing port; use tcp://[" + host + "]:10000");
            }
            port = rest.substring(1);
        } else {
            int colon = authority.lastIndexOf(':');
            if (colon < 0) {
                throw new IllegalArgumentException("CSI endpoint " + text + ": missing port; use tcp://" + authority + ":10000");
            }
            host = authority.substring(0, colon);
            port = authority.substring(colon + 1);
            if (host.contains(":")) {
                throw new IllegalArgumentException("CSI endpoint " + text
                        + ": put an IPv6 address in brackets, as in tcp://[::1]:10000");
            }
        }
        if (host.isEmpty()) {
            throw new IllegalArgumentException("CSI endpoint " + text
                    + ": missing host; use 127.0.0.1 for loopback only or 0.0.0.0 for every interface");
        }
        if (port.isEmpty()) {
            throw new IllegalArgumentException("CSI endpoint " + text + ": missing port after the colon");
        }
        int number;
        try {
            number = port.length() > 5 ? -1 : Integer.parseInt(port);
        } catch (NumberFormatException e) {
            number = -1;
        }
        if (!port.chars().allMatch(Character::isDigit) || number < 1 || number > 65535) {
            throw new IllegalArgumentException("CSI endpoint " + text + ": port " + port + " is not a number from 1 to 65535");
        }
        return new Tcp(host, number);
    }
}
