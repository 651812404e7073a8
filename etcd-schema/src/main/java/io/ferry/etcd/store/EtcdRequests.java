package io.ferry.etcd.store;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.KeyValue;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * How {@link EtcdStore} talks to jetcd: every request bounded by the request timeout, answered on
 * the caller's Vert.x context, and failing with an {@link EtcdUnavailableException} that names the
 * operation; plus the byte conversions between Ferry's string keys and jetcd's.
 */
final class EtcdRequests {

    private final Duration requestTimeout;

    EtcdRequests(Duration requestTimeout) {
        this.requestTimeout = requestTimeout;
    }

    Duration requestTimeout() {
        return requestTimeout;
    }

    /**
     * Adapts a jetcd future to a Vert.x future on the caller's context, bounded by the request
     * timeout, with failures that say which operation did not complete.
     */
    <R> Future<R> call(CompletableFuture<R> pending, String what) {
        Context context = Vertx.currentContext();
        // Completed directly (not through a dependent stage) so that callers see our exception itself,
        // not a CompletionException around it.
        CompletableFuture<R> outcome = new CompletableFuture<>();
        pending.orTimeout(requestTimeout.toMillis(), TimeUnit.MILLISECONDS).whenComplete((value, err) -> {
            if (err == null) {
                outcome.complete(value);
            } else {
                outcome.completeExceptionally(describe(err, what));
            }
        });
        return onCallerContext(outcome, context);
    }

    /** A jetcd future as a Vert.x future completing on {@code context} when there is one. */
    static <R> Future<R> onCallerContext(CompletableFuture<R> outcome, Context context) {
        return context == null ? Future.fromCompletionStage(outcome) : Future.fromCompletionStage(outcome, context);
    }

    private Throwable describe(Throwable err, String what) {
        Throwable cause = err;
        while (cause instanceof CompletionException && cause.getCause() != null) {
            cause = cause.getCause();
        }
        if (cause instanceof TimeoutException) {
            return new EtcdUnavailableException("etcd did not answer '" + what + "' within " + requestTimeout.toMillis() + " ms", cause);
        }
        String detail = cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
        return new EtcdUnavailableException("etcd request '" + what + "' failed: " + detail, cause);
    }

    static ByteSequence bytes(String s) {
        return ByteSequence.from(s, StandardCharsets.UTF_8);
    }

    /** The first key after every key starting with {@code prefix}, as etcd's range end wants it. */
    static ByteSequence rangeEnd(String prefix) {
        byte[] b = prefix.getBytes(StandardCharsets.UTF_8);
        byte[] end = b.clone();
        for (int i = end.length - 1; i >= 0; i--) {
            if (end[i] != (byte) 0xff) {
                end[i]++;
                return ByteSequence.from(Arrays.copyOf(end, i + 1));
            }
        }
        return ByteSequence.from(new byte[] {0});
    }

    static RawEntry raw(KeyValue kv) {
        return new RawEntry(kv.getKey().toString(StandardCharsets.UTF_8), kv.getValue().getBytes(),
                kv.getCreateRevision(), kv.getModRevision(), kv.getVersion(), kv.getLease());
    }
}
