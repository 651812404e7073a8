package io.ferry.agent.spdk;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The SPDK client against a JSON-RPC server on a real Unix socket that checks every request the
 * way SPDK's decoders do: required parameters present, no unknown parameter, right JSON types.
 * The parameter tables are SPDK 24.x's (python/spdk/rpc and the C decoders behind them); the
 * keyring and DH-HMAC-CHAP ones are those of SPDK 24.09 (lib/nvmf/nvmf_rpc.c,
 * module/keyring/file/keyring_rpc.c). SPDK decodes {@code nvmf_subsystem_add_host} and
 * {@code keyring_file_add_key} relaxed (unknown names ignored); these tables refuse them anyway,
 * because a misspelt {@code dhchap_key} ignored would let a host in without authentication.
 */
class SpdkClientTest {

    record Spec(Set<String> required, Set<String> optional) {
    }

    static final Map<String, Spec> RPCS = Map.ofEntries(
            Map.entry("bdev_lvol_create", new Spec(Set.of("lvol_name", "size_in_mib"),
                    Set.of("thin_provision", "uuid", "lvs_name", "clear_method"))),
            Map.entry("bdev_lvol_delete", new Spec(Set.of("name"), Set.of())),
            Map.entry("bdev_lvol_resize", new Spec(Set.of("name", "size_in_mib"), Set.of())),
            Map.entry("bdev_lvol_snapshot", new Spec(Set.of("lvol_name", "snapshot_name"), Set.of())),
            Map.entry("bdev_lvol_clone", new Spec(Set.of("snapshot_name", "clone_name"), Set.of())),
            Map.entry("bdev_lvol_rename", new Spec(Set.of("old_name", "new_name"), Set.of())),
            Map.entry("bdev_get_bdevs", new Spec(Set.of(), Set.of("name", "timeout"))),
            Map.entry("nvmf_create_subsystem", new Spec(Set.of("nqn"), Set.of("serial_number", "model_number",
                    "allow_any_host", "max_namespaces", "tgt_name", "ana_reporting", "min_cntlid", "max_cntlid"))),
            Map.entry("nvmf_subsystem_add_ns", new Spec(Set.of("nqn", "namespace"), Set.of("tgt_name"))),
            Map.entry("nvmf_subsystem_add_listener", new Spec(Set.of("nqn", "listen_address"),
                    Set.of("tgt_name", "secure_channel"))),
            Map.entry("nvmf_subsystem_add_host", new Spec(Set.of("nqn", "host"), Set.of("tgt_name", "psk",
                    "dhchap_key", "dhchap_ctrlr_key"))),
            Map.entry("nvmf_subsystem_set_keys", new Spec(Set.of("nqn", "host"), Set.of("tgt_name", "dhchap_key",
                    "dhchap_ctrlr_key"))),
            Map.entry("keyring_file_add_key", new Spec(Set.of("name", "path"), Set.of())),
            Map.entry("keyring_file_remove_key", new Spec(Set.of("name"), Set.of())),
            Map.entry("keyring_get_keys", new Spec(Set.of(), Set.of())),
            Map.entry("nvmf_subsystem_remove_host", new Spec(Set.of("nqn", "host"), Set.of("tgt_name"))),
            Map.entry("nvmf_delete_subsystem", new Spec(Set.of("nqn"), Set.of("tgt_name"))),
            Map.entry("nvmf_get_subsystems", new Spec(Set.of(), Set.of("nqn", "tgt_name"))),
            Map.entry("bdev_lvol_create_lvstore", new Spec(Set.of("bdev_name", "lvs_name"),
                    Set.of("cluster_sz", "clear_method", "num_md_pages_per_cluster_ratio"))),
            Map.entry("bdev_lvol_get_lvstores", new Spec(Set.of(), Set.of("uuid", "lvs_name"))),
            Map.entry("nvmf_subsystem_remove_ns", new Spec(Set.of("nqn", "nsid"), Set.of("tgt_name"))),
            Map.entry("nvmf_subsystem_allow_any_host", new Spec(Set.of("nqn", "allow_any_host"), Set.of("tgt_name"))),
            Map.entry("spdk_get_version", new Spec(Set.of(), Set.of())));

    /** RPCs whose handlers refuse any params member at all (SPDK: "... requires no parameters"). */
    static final Set<String> NO_PARAMS = Set.of("spdk_get_version");

    static final Spec LISTEN_ADDRESS = new Spec(Set.of("trtype", "traddr"), Set.of("adrfam", "trsvcid"));
    static final Spec NAMESPACE = new Spec(Set.of("bdev_name"), Set.of("nsid", "nguid", "eui64", "uuid", "ptpl_file",
            "anagrpid"));

    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;
    Path socket;
    SpdkRpcServer server;
    List<JsonNode> requests;
    volatile Function<JsonNode, JsonNode> responder = req -> JSON.createObjectNode().put("jsonrpc", "2.0")
            .put("id", req.path("id").asLong()).put("result", true);
    SpdkClient client;

    @BeforeEach
    void startServer() throws IOException {
        socket = dir.resolve("spdk.sock");
        server = new SpdkRpcServer(socket, "fake-spdk", request -> responder.apply(request));
        requests = server.requests;
        client = new SpdkClient(socket, Duration.ofSeconds(2));
    }

    @AfterEach
    void stopServer() throws IOException {
        server.close();
    }

    static JsonNode error(JsonNode request, int code, String message) {
        ObjectNode e = JSON.createObjectNode().put("jsonrpc", "2.0").put("id", request.path("id").asLong());
        e.set("error", JSON.createObjectNode().put("code", code).put("message", message));
        return e;
    }

    /** SPDK's decoders reject a missing required or an unknown parameter with "Invalid parameters". */
    static String check(JsonNode request) {
        if (!"2.0".equals(request.path("jsonrpc").asText())) {
            return "not JSON-RPC 2.0";
        }
        Spec spec = RPCS.get(request.path("method").asText());
        if (spec == null) {
            return "Method not found: " + request.path("method").asText();
        }
        if (NO_PARAMS.contains(request.path("method").asText())) {
            return request.has("params") ? request.path("method").asText() + " method requires no parameters" : null;
        }
        String p = checkObject(request.path("params"), spec);
        if (p != null) {
            return p;
        }
        if (request.path("params").has("listen_address")) {
            return checkObject(request.path("params").path("listen_address"), LISTEN_ADDRESS);
        }
        if (request.path("params").has("namespace")) {
            return checkObject(request.path("params").path("namespace"), NAMESPACE);
        }
        for (String size : List.of("size_in_mib")) {
            if (request.path("params").has(size) && !request.path("params").get(size).isIntegralNumber()) {
                return size + " must be an integer";
            }
        }
        return null;
    }

    static String checkObject(JsonNode params, Spec spec) {
        if (!params.isObject()) {
            return "params must be an object";
        }
        for (String r : spec.required()) {
            if (!params.has(r)) {
                return "Invalid parameters: missing " + r;
            }
        }
        for (var it = params.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!spec.required().contains(f) && !spec.optional().contains(f)) {
                return "Invalid parameters: unknown " + f;
            }
        }
        return null;
    }

    JsonNode last() {
        return requests.get(requests.size() - 1).path("params");
    }

    @Test
    void createsResizesSnapshotsClonesAndDeletesLvolsWithSpdkParameterNames() {
        responder = req -> JSON.createObjectNode().put("jsonrpc", "2.0").put("id", req.path("id").asLong())
                .put("result", "1b4c6a58-0000-4000-8000-000000000001");
        assertThat(client.createLvol("lvs0", "vol-a", 10 * (1L << 20) + 1, true))
                .isEqualTo("1b4c6a58-0000-4000-8000-000000000001");
        assertThat(last().path("size_in_mib").asLong()).isEqualTo(11);
        assertThat(last().path("thin_provision").asBoolean()).isTrue();
        assertThat(last().path("lvs_name").asText()).isEqualTo("lvs0");

        client.resizeLvol("lvs0/vol-a", 1L << 30);
        assertThat(last().path("size_in_mib").asLong()).isEqualTo(1024);
        client.snapshotLvol("lvs0/vol-a", "snap-1");
        assertThat(last().path("snapshot_name").asText()).isEqualTo("snap-1");
        client.cloneSnapshot("lvs0/snap-1", "vol-b");
        assertThat(last().path("clone_name").asText()).isEqualTo("vol-b");
        client.deleteLvol("lvs0/vol-b");
        assertThat(requests).extracting(r -> r.path("method").asText()).containsExactly("bdev_lvol_create",
                "bdev_lvol_resize", "bdev_lvol_snapshot", "bdev_lvol_clone", "bdev_lvol_delete");
    }

    @Test
    void exportsASubsystemWithoutAnyHostAccessThenAllowsOneHost() {
        String nqn = "nqn.2026-11.io.ferry:vol:vol-a";
        client.createSubsystem(nqn, "87d69e7e86ef0f4dab92", "Ferry");
        assertThat(last().path("allow_any_host").asBoolean(true)).isFalse();
        client.addNamespace(nqn, "lvs0/vol-a", 1);
        assertThat(last().path("namespace").path("bdev_name").asText()).isEqualTo("lvs0/vol-a");
        client.addListener(nqn, "10.0.1.11", 4420);
        assertThat(last().path("listen_address").path("trsvcid").asText()).isEqualTo("4420");
        assertThat(last().path("listen_address").path("adrfam").asText()).isEqualTo("IPv4");
        client.addHost(nqn, "nqn.2014-08.org.nvmexpress:uuid:6c1f2a64-8b8e-4d62-9d0e-0f1b5e0c1a77");
        client.deleteSubsystem(nqn);
        assertThat(requests).allMatch(r -> check(r) == null);
    }

    @Test
    void readsBdevsAndTreatsAMissingOneAsEmpty() {
        responder = req -> {
            if (req.path("params").has("name")) {
                return error(req, -19, "No such device");
            }
            ObjectNode ok = JSON.createObjectNode().put("jsonrpc", "2.0").put("id", req.path("id").asLong());
            ok.set("result", JSON.valueToTree(List.of(Map.of("name", "1b4c", "aliases", List.of("lvs0/vol-a"),
                    "block_size", 4096, "num_blocks", 256))));
            return ok;
        };
        assertThat(client.getBdevs(null)).containsExactly(new SpdkClient.Bdev("1b4c", List.of("lvs0/vol-a"), 1 << 20));
        assertThat(client.getBdevs("lvs0/nope")).isEmpty();
    }

    @Test
    void turnsSpdkErrorsIntoExceptionsCarryingTheirCodeAndMessage() {
        responder = req -> error(req, -17, "File exists");
        assertThatThrownBy(() -> client.createSubsystem("nqn.2026-11.io.ferry:vol:x", "s", "m"))
                .isInstanceOf(SpdkException.class).hasMessageContaining("nvmf_create_subsystem")
                .hasMessageContaining("File exists").extracting(e -> ((SpdkException) e).code()).isEqualTo(-17);
        responder = req -> error(req, -19, "No such device");
        assertThatThrownBy(() -> client.deleteLvol("lvs0/gone")).matches(e -> ((SpdkException) e).notFound());
    }

    @Test
    void failsACallThatGetsNoAnswerInsteadOfHanging() {
        client = new SpdkClient(socket, Duration.ofMillis(300));
        responder = req -> null;
        long t0 = System.nanoTime();
        assertThatThrownBy(() -> client.deleteSubsystem("nqn.2026-11.io.ferry:vol:x"))
                .isInstanceOf(SpdkException.class).hasMessageContaining("no answer within 300 ms");
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(3));
    }

    @Test
    void failsClearlyWhenTheTargetIsNotRunning() {
        assertThatThrownBy(() -> new SpdkClient(dir.resolve("absent.sock"), Duration.ofSeconds(1)).getBdevs(null))
                .isInstanceOf(SpdkException.class).hasMessageContaining("absent.sock");
    }
}
