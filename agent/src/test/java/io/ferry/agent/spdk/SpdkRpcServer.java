package io.ferry.agent.spdk;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;

/**
 * A JSON-RPC server on a real Unix socket, one request per connection as SPDK's clients send them.
 * It keeps every request, refuses with SPDK's -32602 one that SPDK's decoders would refuse
 * ({@link SpdkClientTest#check}), and answers the others with the handler's answer; a null answer
 * is no answer at all, so that the client's timeout is what ends the call.
 */
final class SpdkRpcServer implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Every request received, in order; a test may clear it. */
    final List<JsonNode> requests = new CopyOnWriteArrayList<>();
    private final ServerSocketChannel server;
    private final Function<JsonNode, JsonNode> handler;

    SpdkRpcServer(Path socket, String threadName, Function<JsonNode, JsonNode> handler) throws IOException {
        this.handler = handler;
        server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(socket));
        Thread thread = new Thread(this::serve, threadName);
        thread.setDaemon(true);
        thread.start();
    }

    private void serve() {
        while (server.isOpen()) {
            try (SocketChannel c = server.accept()) {
                // Not closed: closing the parser would close the connection before the answer.
                JsonParser p = JSON.getFactory().createParser(Channels.newInputStream(c));
                JsonNode request = JSON.readTree(p);
                requests.add(request);
                String problem = SpdkClientTest.check(request);
                JsonNode response = problem == null ? handler.apply(request)
                        : SpdkClientTest.error(request, -32602, problem);
                if (response != null) {
                    c.write(ByteBuffer.wrap(JSON.writeValueAsBytes(response)));
                } else {
                    Thread.sleep(5000);
                }
            } catch (IOException | InterruptedException e) {
                return;
            }
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
    }
}
