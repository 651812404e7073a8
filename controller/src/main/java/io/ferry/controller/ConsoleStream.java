package io.ferry.controller;

import io.ferry.runtime.admin.AdminServer;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.RoutingContext;

import java.util.LinkedHashSet;
import java.util.Set;

/**
 * Tells open web consoles that the cluster changed, as server-sent events: one {@code changed}
 * event at most every {@link #COALESCE_MS} however many keys changed, after which a console reads
 * the views it shows again. It carries no data, so it reveals nothing the API's reads would not,
 * and a console that misses one catches up with the next. A comment line every
 * {@link #KEEPALIVE_MS} keeps proxies from closing an idle stream.
 *
 * <p>Runs on the controller's context, like the informers that call {@link #changed()}.
 */
final class ConsoleStream {

    static final long COALESCE_MS = 250;
    static final long KEEPALIVE_MS = 15_000;
    /** Each open console holds a connection; beyond this many, new ones are refused. */
    static final int MAX_STREAMS = 64;

    private final Vertx vertx;
    private final Set<HttpServerResponse> open = new LinkedHashSet<>();
    private boolean pending;
    private long keepalive = -1;
    private long sequence;

    ConsoleStream(Vertx vertx) {
        this.vertx = vertx;
    }

    void handle(RoutingContext ctx) {
        if (open.size() >= MAX_STREAMS) {
            AdminServer.error(ctx, 503, "too many open console streams (" + MAX_STREAMS + ")");
            return;
        }
        HttpServerResponse response = ctx.response();
        response.setChunked(true).putHeader("content-type", "text/event-stream").putHeader("cache-control", "no-store");
        response.write("retry: 2000\nevent: changed\ndata: " + sequence + "\n\n");
        open.add(response);
        response.closeHandler(v -> open.remove(response));
        response.exceptionHandler(err -> open.remove(response));
        if (keepalive < 0) {
            keepalive = vertx.setPeriodic(KEEPALIVE_MS, t -> {
                for (HttpServerResponse r : Set.copyOf(open)) {
                    send(r, ": keepalive\n\n");
                }
            });
        }
    }

    /** Something a console shows changed. */
    void changed() {
        if (pending || open.isEmpty()) {
            return;
        }
        pending = true;
        vertx.setTimer(COALESCE_MS, t -> {
            pending = false;
            sequence++;
            for (HttpServerResponse r : Set.copyOf(open)) {
                send(r, "event: changed\ndata: " + sequence + "\n\n");
            }
        });
    }

    private void send(HttpServerResponse r, String text) {
        if (r.closed() || r.ended()) {
            open.remove(r);
            return;
        }
        // A console that does not read is dropped rather than buffered without bound.
        if (r.writeQueueFull()) {
            open.remove(r);
            r.reset();
            return;
        }
        r.write(text);
    }

    void close() {
        if (keepalive >= 0) {
            vertx.cancelTimer(keepalive);
        }
        for (HttpServerResponse r : Set.copyOf(open)) {
            if (!r.ended() && !r.closed()) {
                r.end();
            }
        }
        open.clear();
    }
}
