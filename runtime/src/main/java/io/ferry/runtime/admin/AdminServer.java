package io.ferry.runtime.admin;

import io.ferry.etcd.store.EtcdUnavailableException;
import io.ferry.model.Json;
import io.ferry.model.ValidationException;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The admin HTTP endpoint every Ferry process serves: {@code /healthz} (the process answers),
 * {@code /readyz} (it can do its job: for a controller, leader or standby with etcd reachable),
 * {@code /metrics} (Prometheus text), and whatever {@code /api/v1/...} routes the owner adds to
 * {@link #router()} before {@link #start()}.
 *
 * <p>Mutating requests (anything but GET/HEAD/OPTIONS) need {@code Authorization: Bearer <token>};
 * without a configured token the API is read-only and such requests get 403. With a token, reads
 * under {@code /api/} need it too: they name host NQNs, addresses and attachments, which is what an
 * initiator on the storage network needs to claim a volume. Probes and scrapers
 * ({@code /healthz}, {@code /readyz}, {@code /metrics}) stay open.
 */
public final class AdminServer {

    /** What {@code /readyz} reports. */
    public record Readiness(boolean ready, String detail) {
    }

    private static final Logger log = LoggerFactory.getLogger(AdminServer.class);

    private final Vertx vertx;
    private final AdminOptions options;
    private final Router router;
    private HttpServer server;

    public AdminServer(Vertx vertx, AdminOptions options, PrometheusMeterRegistry registry, Supplier<Readiness> readiness) {
        this.vertx = vertx;
        this.options = options;
        this.router = Router.router(vertx);
        router.route().handler(this::authorize);
        router.get("/healthz").handler(ctx -> ctx.response().putHeader("content-type", "text/plain").end("ok\n"));
        router.get("/readyz").handler(ctx -> {
            Readiness r = readiness.get();
            respond(ctx, r.ready() ? 200 : 503, Map.of("ready", r.ready(), "detail", r.detail()));
        });
        router.get("/metrics").handler(ctx -> ctx.response()
                .putHeader("content-type", "text/plain; version=0.0.4; charset=utf-8")
                .end(registry.scrape()));
    }

    /** Add {@code /api/v1/...} routes here before starting. */
    public Router router() {
        return router;
    }

    public Future<Integer> start() {
        router.route().last().handler(ctx -> error(ctx, 404, "no such endpoint: " + ctx.request().path()));
        return vertx.createHttpServer().requestHandler(router).listen(options.port(), options.host()).map(s -> {
            server = s;
            log.info("admin API listening on http://{}:{}", options.host(), s.actualPort());
            return s.actualPort();
        });
    }

    public int port() {
        return server == null ? -1 : server.actualPort();
    }

    public String url() {
        return "http://" + options.host() + ":" + port();
    }

    public Future<Void> close() {
        return server == null ? Future.succeededFuture() : server.close();
    }

    private void authorize(RoutingContext ctx) {
        HttpMethod method = ctx.request().method();
        boolean read = method == HttpMethod.GET || method == HttpMethod.HEAD || method == HttpMethod.OPTIONS;
        if (read && (options.bearerToken() == null || !ctx.request().path().startsWith("/api/"))) {
            ctx.next();
            return;
        }
        if (options.bearerToken() == null) {
            error(ctx, 403, "the admin API is read-only: start the process with an admin token to allow changes");
            return;
        }
        String header = ctx.request().getHeader("Authorization");
        String expected = "Bearer " + options.bearerToken();
        if (header == null || !MessageDigest.isEqual(header.getBytes(StandardCharsets.UTF_8), expected.getBytes(StandardCharsets.UTF_8))) {
            error(ctx, 401, "missing or wrong bearer token");
            return;
        }
        ctx.next();
    }

    /** Writes a model value (or any Jackson-serializable value) as JSON. */
    public static void respond(RoutingContext ctx, int status, Object body) {
        ctx.response().setStatusCode(status).putHeader("content-type", "application/json")
                .end(Buffer.buffer(Json.encode(body)));
    }

    public static void error(RoutingContext ctx, int status, String message) {
        respond(ctx, status, Map.of("error", message));
    }

    /**
     * Wraps an async handler so that a failed future becomes a JSON error: 400 for a validation
     * error, 503 when etcd is unreachable, 500 otherwise. No handler failure escapes as a hang.
     */
    public static Handler<RoutingContext> json(Function<RoutingContext, Future<?>> handler) {
        return ctx -> {
            Future<?> result;
            try {
                result = handler.apply(ctx);
            } catch (RuntimeException e) {
                result = Future.failedFuture(e);
            }
            result.onComplete(ar -> {
                if (ctx.response().ended()) {
                    return;
                }
                if (ar.succeeded()) {
                    if (ar.result() == null) {
                        error(ctx, 404, "not found: " + ctx.request().path());
                    } else {
                        respond(ctx, 200, ar.result());
                    }
                } else if (ar.cause() instanceof ValidationException) {
                    error(ctx, 400, ar.cause().getMessage());
                } else if (ar.cause() instanceof EtcdUnavailableException) {
                    error(ctx, 503, ar.cause().getMessage());
                } else {
                    log.warn("admin request {} failed", ctx.request().path(), ar.cause());
                    error(ctx, 500, String.valueOf(ar.cause().getMessage()));
                }
            });
        };
    }
}
