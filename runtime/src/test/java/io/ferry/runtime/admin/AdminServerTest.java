package io.ferry.runtime.admin;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

import static io.ferry.etcd.testing.Await.result;
import static org.assertj.core.api.Assertions.assertThat;

class AdminServerTest {

    final Vertx vertx = Vertx.vertx();
    final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    final HttpClient http = HttpClient.newHttpClient();
    final AtomicBoolean ready = new AtomicBoolean();

    @AfterEach
    void stop() {
        result(vertx.close());
    }

    private AdminServer start(String token) {
        AdminServer server = new AdminServer(vertx, new AdminOptions("127.0.0.1", 0, token), registry,
                () -> new AdminServer.Readiness(ready.get(), ready.get() ? "leader" : "waiting for etcd"));
        server.router().get("/api/v1/things").handler(AdminServer.json(ctx -> Future.succeededFuture(Map.of("n", 1))));
        server.router().post("/api/v1/things").handler(AdminServer.json(ctx -> Future.succeededFuture(Map.of("created", true))));
        result(server.start());
        return server;
    }

    private HttpResponse<String> send(HttpRequest.Builder request) throws Exception {
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void servesHealthReadinessAndPrometheusMetrics() throws Exception {
        AdminServer server = start(null);
        registry.counter("ferry.placements").increment();
        assertThat(send(HttpRequest.newBuilder(URI.create(server.url() + "/healthz"))).statusCode()).isEqualTo(200);
        HttpResponse<String> notReady = send(HttpRequest.newBuilder(URI.create(server.url() + "/readyz")));
        assertThat(notReady.statusCode()).isEqualTo(503);
        assertThat(notReady.body()).contains("waiting for etcd");
        ready.set(true);
        assertThat(send(HttpRequest.newBuilder(URI.create(server.url() + "/readyz"))).statusCode()).isEqualTo(200);
        assertThat(send(HttpRequest.newBuilder(URI.create(server.url() + "/metrics"))).body()).contains("ferry_placements_total 1.0");
        assertThat(send(HttpRequest.newBuilder(URI.create(server.url() + "/api/v1/things"))).body()).isEqualTo("{\"n\":1}");
        assertThat(send(HttpRequest.newBuilder(URI.create(server.url() + "/nope"))).statusCode()).isEqualTo(404);
    }

    @Test
    void isReadOnlyWithoutATokenAndChecksTheTokenWhenOneIsSet() throws Exception {
        AdminServer open = start(null);
        HttpResponse<String> refused = send(HttpRequest.newBuilder(URI.create(open.url() + "/api/v1/things"))
                .POST(HttpRequest.BodyPublishers.noBody()));
        assertThat(refused.statusCode()).isEqualTo(403);
        assertThat(refused.body()).contains("read-only");

        AdminServer guarded = start("s3cret");
        assertThat(send(HttpRequest.newBuilder(URI.create(guarded.url() + "/api/v1/things"))
                .POST(HttpRequest.BodyPublishers.noBody())).statusCode()).isEqualTo(401);
        assertThat(send(HttpRequest.newBuilder(URI.create(guarded.url() + "/api/v1/things"))
                .header("Authorization", "Bearer wrong").POST(HttpRequest.BodyPublishers.noBody())).statusCode()).isEqualTo(401);
        HttpResponse<String> accepted = send(HttpRequest.newBuilder(URI.create(guarded.url() + "/api/v1/things"))
                .header("Authorization", "Bearer s3cret").POST(HttpRequest.BodyPublishers.noBody()));
        assertThat(accepted.statusCode()).isEqualTo(200);
        assertThat(accepted.body()).contains("created");
        assertThat(send(HttpRequest.newBuilder(URI.create(open.url() + "/api/v1/things"))).statusCode())
                .as("reads of an API without a token need none").isEqualTo(200);
    }

    @Test
    void withATokenReadsOfTheApiNeedItTooButProbesAndMetricsDoNot() throws Exception {
        AdminServer guarded = start("s3cret");
        assertThat(send(HttpRequest.newBuilder(URI.create(guarded.url() + "/api/v1/things"))).statusCode())
                .as("the API names host NQNs and addresses").isEqualTo(401);
        assertThat(send(HttpRequest.newBuilder(URI.create(guarded.url() + "/api/v1/things"))
                .header("Authorization", "Bearer wrong")).statusCode()).isEqualTo(401);
        assertThat(send(HttpRequest.newBuilder(URI.create(guarded.url() + "/api/v1/things"))
                .header("Authorization", "Bearer s3cret")).body()).isEqualTo("{\"n\":1}");
        ready.set(true);
        for (String open : List.of("/healthz", "/readyz", "/metrics")) {
            assertThat(send(HttpRequest.newBuilder(URI.create(guarded.url() + open))).statusCode()).as(open).isEqualTo(200);
        }
    }
}
