package io.ferry.etcd;

import com.google.common.util.concurrent.MoreExecutors;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.ClientBuilder;
import io.ferry.model.ValidationException;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.MethodDescriptor;

import javax.net.ssl.SSLException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.TimeUnit;

/** Builds jetcd clients from {@link EtcdOptions}; the only place that knows jetcd's builder. */
public final class EtcdClients {

    /**
     * The largest single response a client accepts (jetcd's default is gRPC's 4 MiB).
     *
     * <p>etcd's {@code --max-request-bytes} (1.5 MiB by default) bounds every value, and with it
     * every watch response for one revision, but not a range response: a listing page holds many
     * values, and three values near the limit already passed 4 MiB, after which no component could
     * list or watch that prefix again. No fixed bound covers a page of values at the limit (2,000 of
     * them would be 3 GiB), so this bound is set to what a Ferry process can hold in memory at once
     * with room to spare, far above any one value etcd accepts, and {@code EtcdStore} pages listings
     * by bytes, shrinking a page that does not fit (see {@code EtcdStore.listRaw}). The margin also
     * covers a watch that resumes behind: etcd then sends up to 1,000 revisions of events in one
     * response, which jetcd 0.8.7 cannot ask it to fragment.
     */
    public static final int MAX_INBOUND_BYTES = 64 << 20;

    private EtcdClients() {
    }

    /**
     * Builds a client. The application's Vert.x instance is deliberately NOT handed to jetcd:
     * jetcd 0.8.7 closes the Vert.x it was given when the client closes, which would take down every
     * verticle sharing it. jetcd then starts a small daemon Vert.x of its own.
     *
     * <p>Both of jetcd's hand-offs between threads are removed: requests start on the caller's thread
     * instead of a cached pool's, and gRPC delivers responses and watch events on its network thread
     * instead of a second cached pool's. Every caller here is asynchronous and never blocks in a
     * callback (results reach Vert.x contexts through {@code runOnContext}), so running inline is
     * safe, and the hand-offs were a third of the CPU a Ferry process spent on etcd traffic: each one
     * parks and wakes a thread through the kernel.
     */
    public static Client create(EtcdOptions options) {
        ClientBuilder builder = Client.builder()
                .endpoints(options.endpoints().toArray(URI[]::new))
                .connectTimeout(options.connectTimeout())
                // jetcd retries unary calls itself; bound it so callers see failures instead of hanging.
                .retryMaxDuration(options.requestTimeout())
                .keepaliveWithoutCalls(false)
                .maxInboundMessageSize(MAX_INBOUND_BYTES)
                .executorService(new InlineExecutor())
                .interceptor(CALLBACKS_ON_NETWORK_THREAD);
        if (options.user() != null) {
            builder.user(bytes(options.user())).password(bytes(options.password()));
        }
        if (options.tls()) {
            try {
                builder.sslContext(ssl -> {
                    if (options.caFile() != null) {
                        ssl.trustManager(options.caFile().toFile());
                    }
                    if (options.certFile() != null) {
                        ssl.keyManager(options.certFile().toFile(), options.keyFile().toFile());
                    }
                });
            } catch (SSLException | IllegalArgumentException e) {
                throw new ValidationException("tls", "cannot load etcd TLS material: " + e.getMessage());
            }
        }
        return builder.build();
    }

    private static final ClientInterceptor CALLBACKS_ON_NETWORK_THREAD = new ClientInterceptor() {
        @Override
        public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
            return next.newCall(method, options.withExecutor(MoreExecutors.directExecutor()));
        }
    };

    /** Runs each task on the thread that submits it; one per client, so closing one affects no other. */
    private static final class InlineExecutor extends AbstractExecutorService {
        private volatile boolean shutdown;

        @Override
        public void execute(Runnable task) {
            task.run();
        }

        @Override
        public void shutdown() {
            shutdown = true;
        }

        @Override
        public List<Runnable> shutdownNow() {
            shutdown = true;
            return List.of();
        }

        @Override
        public boolean isShutdown() {
            return shutdown;
        }

        @Override
        public boolean isTerminated() {
            return shutdown;
        }

        @Override
        public boolean awaitTermination(long timeout, TimeUnit unit) {
            return true;
        }
    }

    static ByteSequence bytes(String s) {
        return ByteSequence.from(s, StandardCharsets.UTF_8);
    }
}
