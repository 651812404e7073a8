package io.ferry.agent.spdk;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.InputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The JSON-RPC 2.0 transport to the SPDK target's Unix socket, under {@link SpdkClient}'s typed calls.
 *
 * <p>One connection per call and one call at a time: SPDK answers on the connection that asked,
 * and management calls are rare, so simplicity wins over pipelining. A call that gets no answer
 * within the timeout has its connection closed and fails. Calls block; make them from workers.
 */
final class SpdkRpc {

    /** Builds the parameters of every call and reads every answer. */
    static final ObjectMapper JSON = new ObjectMapper();
    private static final ScheduledExecutorService WATCHDOG = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "spdk-rpc-timeout");
        t.setDaemon(true);
        return t;
    });

    private final Path socket;
    private final Duration timeout;
    private final AtomicLong ids = new AtomicLong();
    private final ReentrantLock lock = new ReentrantLock();

    SpdkRpc(Path socket, Duration timeout) {
        this.socket = socket;
        this.timeout = timeout;
    }

    /**
     * Sends one request and returns its {@code result}; an {@code error} becomes {@link SpdkException}.
     * A null {@code params} sends no {@code params} member.
     */
    JsonNode call(String method, ObjectNode params) {
        long id = ids.incrementAndGet();
        ObjectNode request = JSON.createObjectNode().put("jsonrpc", "2.0").put("method", method).put("id", id);
        if (params != null) {
            // Some RPCs (spdk_get_version, rpc_get_methods' siblings) refuse any params object.
            request.set("params", params);
        }
        lock.lock();
        try (SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ScheduledFuture<?> guard = WATCHDOG.schedule(() -> {
                try {
                    channel.close();
                } catch (IOException e) {
                    // Closing is all the watchdog can do.
                }
            }, timeout.toMillis(), TimeUnit.MILLISECONDS);
            try {
                channel.connect(UnixDomainSocketAddress.of(socket));
                ByteBuffer out = ByteBuffer.wrap(JSON.writeValueAsBytes(request));
                while (out.hasRemaining()) {
                    channel.write(out);
                }
                // SPDK does not frame its answers: read exactly one JSON value off the stream.
                InputStream in = Channels.newInputStream(channel);
                JsonNode response;
                try (JsonParser parser = JSON.getFactory().createParser(in)) {
                    response = JSON.readTree(parser);
                }
                if (response == null) {
                    throw new SpdkException("SPDK closed the connection without answering " + method, null);
                }
                if (response.hasNonNull("error")) {
                    JsonNode err = response.get("error");
                    throw new SpdkException(method, err.path("code").asInt(), err.path("message").asText());
                }
                if (response.path("id").asLong(-1) != id) {
                    throw new SpdkException("SPDK answered " + method + " with id " + response.path("id")
                            + " instead of " + id, null);
                }
                return response.path("result");
            } finally {
                guard.cancel(false);
            }
        } catch (IOException e) {
            throw new SpdkException("SPDK " + method + " via " + socket + " failed (no answer within "
                    + timeout.toMillis() + " ms or socket error): " + e.getMessage(), e);
        } finally {
            lock.unlock();
        }
    }
}
