package io.ferry.csi;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code kubectl apply --dry-run=client --validate=false} over every manifest: each document must
 * decode as a Kubernetes object of a kind the cluster serves. kubectl needs an API server for the
 * kinds (discovery) and to look each object up; this test serves both itself on loopback, with
 * the built-in kinds of Kubernetes 1.24+ and the VolumeSnapshot CRDs, answers every lookup with
 * 404 and fails on any write. It is skipped when there is no kubectl (Debian's kubernetes-client;
 * .ci/run installs it); {@code -Dferry.kubectl=/path/to/kubectl} picks another one.
 */
class ManifestsKubectlTest {

    /** group/version, kind, plural, namespaced: what the emulated cluster serves. */
    record Kind(String groupVersion, String kind, String plural, boolean namespaced) {
        String group() {
            return groupVersion.contains("/") ? groupVersion.substring(0, groupVersion.indexOf('/')) : "";
        }
    }

    static final List<Kind> KINDS = List.of(
            new Kind("v1", "Namespace", "namespaces", false),
            new Kind("v1", "ConfigMap", "configmaps", true),
            new Kind("v1", "Secret", "secrets", true),
            new Kind("v1", "Service", "services", true),
            new Kind("v1", "ServiceAccount", "serviceaccounts", true),
            new Kind("v1", "PersistentVolumeClaim", "persistentvolumeclaims", true),
            new Kind("apps/v1", "Deployment", "deployments", true),
            new Kind("apps/v1", "DaemonSet", "daemonsets", true),
            new Kind("apps/v1", "StatefulSet", "statefulsets", true),
            new Kind("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets", true),
            new Kind("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", false),
            new Kind("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", false),
            new Kind("rbac.authorization.k8s.io/v1", "Role", "roles", true),
            new Kind("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings", true),
            new Kind("storage.k8s.io/v1", "CSIDriver", "csidrivers", false),
            new Kind("storage.k8s.io/v1", "StorageClass", "storageclasses", false),
            new Kind("scheduling.k8s.io/v1", "PriorityClass", "priorityclasses", false),
            new Kind("snapshot.storage.k8s.io/v1", "VolumeSnapshotClass", "volumesnapshotclasses", false));

    static final ObjectMapper JSON = new ObjectMapper();
    static final List<String> writes = new CopyOnWriteArrayList<>();
    static HttpServer server;
    static String kubectl;

    @BeforeAll
    static void start() throws IOException {
        kubectl = findKubectl();
        if (kubectl == null) {
            return;
        }
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", ManifestsKubectlTest::serve);
        server.start();
    }

    @BeforeEach
    void needsKubectl() {
        // Skipped, each test saying why, rather than failed: kubectl is not part of the JDK build.
        Assumptions.assumeTrue(kubectl != null,
                "kubectl not found (install Debian's kubernetes-client, or pass -Dferry.kubectl=...): manifests not checked by kubectl");
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.stop(0);
        }
    }

    static String findKubectl() {
        String given = System.getProperty("ferry.kubectl");
        if (given != null && !given.isBlank()) {
            return Files.isExecutable(Path.of(given)) ? given : null;
        }
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(File.pathSeparator)) {
            Path candidate = Path.of(dir, "kubectl");
            if (Files.isExecutable(candidate)) {
                return candidate.toString();
            }
        }
        return null;
    }

    static void serve(HttpExchange exchange) throws IOException {
        String path = exchange.getRequestURI().getPath();
        if (!exchange.getRequestMethod().equals("GET")) {
            // A client-side dry run never writes; a write means the flags are wrong.
            writes.add(exchange.getRequestMethod() + " " + path);
            respond(exchange, 500, status(500, "InternalError", "this test's API server takes no writes"));
            return;
        }
        Object body = discovery(path);
        if (body == null) {
            respond(exchange, 404, status(404, "NotFound", path + " not found"));
        } else {
            respond(exchange, 200, body);
        }
    }

    /** The discovery documents of the emulated cluster, or null for any other path. */
    static Object discovery(String path) {
        Map<String, List<Kind>> byGroupVersion = new LinkedHashMap<>();
        KINDS.forEach(k -> byGroupVersion.computeIfAbsent(k.groupVersion(), gv -> new ArrayList<>()).add(k));
        if (path.equals("/version")) {
            return Map.of("major", "1", "minor", "28", "gitVersion", "v1.28.0");
        }
        if (path.equals("/api")) {
            return Map.of("kind", "APIVersions", "versions", List.of("v1"));
        }
        if (path.equals("/apis")) {
            ObjectNode list = JSON.createObjectNode().put("kind", "APIGroupList").put("apiVersion", "v1");
            ArrayNode groups = list.putArray("groups");
            byGroupVersion.forEach((gv, kinds) -> {
                if (!gv.contains("/")) {
                    return;
                }
                ObjectNode version = JSON.createObjectNode().put("groupVersion", gv).put("version", gv.substring(gv.indexOf('/') + 1));
                ObjectNode group = groups.addObject().put("name", kinds.get(0).group());
                group.putArray("versions").add(version);
                group.set("preferredVersion", version);
            });
            return list;
        }
        String gv = path.equals("/api/v1") ? "v1" : path.startsWith("/apis/") ? path.substring("/apis/".length()) : null;
        List<Kind> kinds = gv == null ? null : byGroupVersion.get(gv);
        if (kinds == null) {
            return null;
        }
        ObjectNode list = JSON.createObjectNode().put("kind", "APIResourceList").put("apiVersion", "v1").put("groupVersion", gv);
        ArrayNode resources = list.putArray("resources");
        for (Kind k : kinds) {
            ObjectNode r = resources.addObject().put("name", k.plural()).put("singularName", k.kind().toLowerCase())
                    .put("namespaced", k.namespaced()).put("kind", k.kind());
            r.putArray("verbs").add("get").add("list").add("create").add("patch").add("update").add("delete");
        }
        return list;
    }

    static Map<String, Object> status(int code, String reason, String message) {
        return Map.of("kind", "Status", "apiVersion", "v1", "status", "Failure", "reason", reason, "message", message, "code", code);
    }

    static void respond(HttpExchange exchange, int code, Object body) throws IOException {
        byte[] bytes = JSON.writeValueAsBytes(body);
        exchange.getResponseHeaders().add("Content-Type", "application/json");
        exchange.sendResponseHeaders(code, bytes.length);
        exchange.getResponseBody().write(bytes);
        exchange.close();
    }

    record Result(int exitCode, String output) {
    }

    static Result dryRun(Path manifests, Path home) throws Exception {
        Path cache = Files.createDirectories(home.resolve("cache"));
        ProcessBuilder pb = new ProcessBuilder(kubectl, "--server=http://127.0.0.1:" + server.getAddress().getPort(),
                "--cache-dir=" + cache, "apply", "--dry-run=client", "--validate=false", "--recursive",
                "-f", manifests.toString()).redirectErrorStream(true);
        // No kubeconfig of the machine's user may point kubectl elsewhere.
        pb.environment().put("HOME", home.toString());
        pb.environment().put("KUBECONFIG", home.resolve("no-kubeconfig").toString());
        Process p = pb.start();
        p.getOutputStream().close();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("kubectl did not finish in 120 s");
        }
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }

    @Test
    void everyManifestDecodesAsAKubernetesObjectOfAServedKind(@TempDir Path home) throws Exception {
        Path dir = Path.of(System.getProperty("ferry.deploy.dir", "../deploy/kubernetes"));
        int documents = ManifestsTest.readAll(dir).size();
        Result result = dryRun(dir, home);
        assertThat(result.exitCode()).as("kubectl apply --dry-run=client:\n" + result.output()).isZero();
        long created = result.output().lines().filter(l -> l.endsWith("(dry run)")).count();
        assertThat(created).as(result.output()).isEqualTo(documents);
        assertThat(writes).isEmpty();
    }

    @Test
    void kubectlRefusesAManifestOfAnUnknownKindOrWithoutAName(@TempDir Path home) throws Exception {
        // The check above is worth something only if kubectl, against this server, can say no.
        Path dir = Files.createDirectories(home.resolve("broken"));
        Files.writeString(dir.resolve("a.yaml"), "apiVersion: apps/v1\nkind: Deploymnet\nmetadata:\n  name: x\n  namespace: ferry-system\n");
        Result unknownKind = dryRun(dir, home);
        assertThat(unknownKind.exitCode()).as(unknownKind.output()).isNotZero();
        assertThat(unknownKind.output()).contains("Deploymnet");
        Files.writeString(dir.resolve("a.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  namespace: ferry-system\ndata:\n  a: b\n");
        Result noName = dryRun(dir, home);
        assertThat(noName.exitCode()).as(noName.output()).isNotZero();
        Files.writeString(dir.resolve("a.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n   namespace: ferry-system\n");
        Result badYaml = dryRun(dir, home);
        assertThat(badYaml.exitCode()).as(badYaml.output()).isNotZero();
    }
}
