package io.ferry.tools.cli;

import io.ferry.csi.CsiEndpoint;
import io.ferry.csi.v1.ControllerGrpc;
import io.ferry.csi.v1.IdentityGrpc;
import io.ferry.csi.v1.NodeGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import java.io.FileNotFoundException;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/** A channel to one CSI plugin; each stub it hands out carries a fresh deadline of {@code timeout}. */
final class CsiConnection implements AutoCloseable {

    private final CsiEndpoint endpoint;
    private final Duration timeout;
    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    private final ManagedChannel channel;

    CsiConnection(CsiEndpoint endpoint, Duration timeout) {
        this.endpoint = endpoint;
        this.timeout = timeout;
        this.channel = endpoint.channelBuilder(group).build();
    }

    CsiEndpoint endpoint() {
        return endpoint;
    }

    IdentityGrpc.IdentityBlockingStub identity() {
        return IdentityGrpc.newBlockingStub(channel).withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    NodeGrpc.NodeBlockingStub node() {
        return NodeGrpc.newBlockingStub(channel).withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    ControllerGrpc.ControllerBlockingStub controller() {
        return ControllerGrpc.newBlockingStub(channel).withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Runs one RPC; a gRPC failure becomes a one-line error with its status code and ferryctl's exit code. */
    <T> T call(String method, Supplier<T> rpc) {
        try {
            return rpc.get();
        } catch (StatusRuntimeException e) {
            throw failure(method, e.getStatus());
        }
    }

    CliException failure(String method, Status status) {
        String description = status.getDescription() != null ? status.getDescription()
                : status.getCause() != null ? String.valueOf(status.getCause().getMessage()) : "no details";
        String code = status.getCode().name();
        return switch (status.getCode()) {
            case UNAVAILABLE -> new CliException(ExitCodes.ETCD_UNAVAILABLE, "cannot reach the CSI plugin at "
                    + endpoint.url() + " (" + code + ": " + description
                    + socketError(status.getCause())
                    + "); is it running, and are --endpoint / FERRY_CSI_ENDPOINT right?");
            case DEADLINE_EXCEEDED -> new CliException(ExitCodes.TIMEOUT, method + " did not finish within "
                    + human(timeout) + " (" + code + ": " + description + "); calling again continues where it stopped,"
                    + " or raise --timeout");
            case UNIMPLEMENTED -> new CliException(ExitCodes.FAILED, method + ": the plugin at " + endpoint.url()
                    + " does not serve it (" + code + "); a plugin started with --mode node has no controller"
                    + " service, one with --mode controller no node service");
            default -> new CliException(CsiCommands.exitCode(status.getCode()), method + " failed: " + code + ": " + description);
        };
    }

    @Override
    public void close() {
        channel.shutdownNow();
        try {
            channel.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** What the operating system said about the connection ("Connection refused"), buried in the cause chain. */
    private static String socketError(Throwable cause) {
        String message = null;
        for (Throwable t = cause; t != null && t.getCause() != t; t = t.getCause()) {
            if (t.getMessage() != null) {
                message = t.getMessage();
            } else if (message == null) {
                // netty reports a missing Unix socket file as a FileNotFoundException without a message.
                message = t instanceof FileNotFoundException ? "the socket file does not exist" : t.getClass().getSimpleName();
            }
        }
        return message == null ? "" : ": " + message;
    }

    private static String human(Duration d) {
        return d.toMillis() % 1000 != 0 ? d.toMillis() + "ms" : d.toSeconds() + "s";
    }
}
