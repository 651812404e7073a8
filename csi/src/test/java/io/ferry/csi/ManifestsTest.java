package io.ferry.csi;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** Every manifest under deploy/kubernetes parses, and its names and sockets agree with the binary. */
class ManifestsTest {

    static final List<JsonNode> docs = new ArrayList<>();

    @BeforeAll
    static void load() throws Exception {
        Path dir = Path.of(System.getProperty("ferry.deploy.dir", "../deploy/kubernetes"));
        ObjectMapper yaml = new YAMLMapper();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path file : files.filter(f -> f.toString().endsWith(".yaml")).sorted().toList()) {
                try (var parser = new YAMLFactory().createParser(file.toFile())) {
                    for (var it = yaml.readValues(parser, JsonNode.class); it.hasNext(); ) {
                        JsonNode doc = it.next();
                        if (doc != null && !doc.isNull() && !doc.isEmpty()) {
                            assertThat(doc.path("apiVersion").asText()).as(file + " apiVersion").isNotEmpty();
                            assertThat(doc.path("metadata").path("name").asText()).as(file + " name").isNotEmpty();
                            docs.add(doc);
                        }
                    }
                }
            }
        }
        assertThat(docs).hasSizeGreaterThan(10);
    }

    static List<JsonNode> kind(String kind) {
        return docs.stream().filter(d -> d.path("kind").asText().equals(kind)).toList();
    }

    static JsonNode named(String kind, String name) {
        return kind(kind).stream().filter(d -> d.path("metadata").path("name").asText().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no " + kind + " " + name));
    }

    static List<String> args(JsonNode container) {
        List<String> out = new ArrayList<>();
        container.path("args").forEach(a -> out.add(a.asText()));
        return out;
    }

    static String flag(JsonNode container, String name) {
        return args(container).stream().filter(a -> a.startsWith(name + "=")).map(a -> a.substring(name.length() + 1))
                .findFirst().orElse(null);
    }

    static JsonNode container(JsonNode workload, String name) {
        for (JsonNode c : workload.path("spec").path("template").path("spec").path("containers")) {
            if (c.path("name").asText().equals(name)) {
                return c;
            }
        }
        throw new AssertionError("no container " + name);
    }

    /** Container mount path of a volume, or null. */
    static String mountPath(JsonNode container, String volume) {
        for (JsonNode m : container.path("volumeMounts")) {
            if (m.path("name").asText().equals(volume)) {
                return m.path("mountPath").asText();
            }
        }
        return null;
    }

    static JsonNode volume(JsonNode workload, String name) {
        for (JsonNode v : workload.path("spec").path("template").path("spec").path("volumes")) {
            if (v.path("name").asText().equals(name)) {
                return v;
            }
        }
        throw new AssertionError("no volume " + name);
    }

    @Test
    void driverNameIsTheSameEverywhere() {
        assertThat(named("CSIDriver", Driver.NAME).path("spec").path("attachRequired").asBoolean()).isTrue();
        assertThat(named("CSIDriver", Driver.NAME).path("spec").path("storageCapacity").asBoolean()).isTrue();
        assertThat(kind("StorageClass")).hasSizeGreaterThanOrEqualTo(4)
                .allSatisfy(sc -> assertThat(sc.path("provisioner").asText()).isEqualTo(Driver.NAME));
        assertThat(kind("VolumeSnapshotClass")).isNotEmpty()
                .allSatisfy(c -> assertThat(c.path("driver").asText()).isEqualTo(Driver.NAME));
    }

    @Test
    void storageClassParametersAreAllUnderstood() {
        for (JsonNode sc : kind("StorageClass")) {
            Map<String, String> params = new HashMap<>();
            sc.path("parameters").fields().forEachRemaining(e -> params.put(e.getKey(), e.getValue().asText()));
            params.put("csi.storage.k8s.io/pvc/name", "data-db-0");
            StorageClassParameters.parse(params);
        }
    }

    @Test
    void controllerSidecarsTalkToThePluginSocket() {
        JsonNode deployment = named("Deployment", "ferry-csi-controller");
        JsonNode plugin = container(deployment, "ferry-csi");
        assertThat(CsiMain.parseMode(flag(plugin, "--mode"))).isEqualTo(CsiServer.Mode.CONTROLLER);
        Path socket = CsiMain.socketPath(flag(plugin, "--endpoint"));
        assertThat(mountPath(plugin, "socket-dir")).isEqualTo(socket.getParent().toString());
        for (String sidecar : List.of("csi-provisioner", "csi-attacher", "csi-snapshotter", "csi-resizer")) {
            JsonNode c = container(deployment, sidecar);
            Path address = Path.of(flag(c, "--csi-address"));
            assertThat(mountPath(c, "socket-dir")).as(sidecar).isEqualTo(address.getParent().toString());
            assertThat(address.getFileName()).isEqualTo(socket.getFileName());
        }
        List<String> provisioner = args(container(deployment, "csi-provisioner"));
        assertThat(provisioner).contains("--feature-gates=Topology=true", "--enable-capacity", "--extra-create-metadata");
        assertThat(volume(deployment, "socket-dir").has("emptyDir")).isTrue();
        etcdWiring(plugin, deployment);
    }

    @Test
    void nodePluginSocketIsWhereTheRegistrarTellsTheKubelet() {
        JsonNode daemonSet = named("DaemonSet", "ferry-node");
        JsonNode plugin = container(daemonSet, "ferry-csi");
        assertThat(CsiMain.parseMode(flag(plugin, "--mode"))).isEqualTo(CsiServer.Mode.NODE);
        assertThat(flag(plugin, "--node-id")).isNotBlank();
        Path socket = CsiMain.socketPath(flag(plugin, "--endpoint"));
        assertThat(mountPath(plugin, "plugin-dir")).isEqualTo(socket.getParent().toString());
        String hostDir = volume(daemonSet, "plugin-dir").path("hostPath").path("path").asText();
        assertThat(hostDir).isEqualTo("/var/lib/kubelet/plugins/" + Driver.NAME);
        JsonNode registrar = container(daemonSet, "node-driver-registrar");
        assertThat(flag(registrar, "--kubelet-registration-path")).isEqualTo(hostDir + "/" + socket.getFileName());
        assertThat(Path.of(flag(registrar, "--csi-address")).getParent().toString()).isEqualTo(mountPath(registrar, "plugin-dir"));
        assertThat(mountPath(registrar, "registration-dir")).isEqualTo("/registration");
        assertThat(container(daemonSet, "ferry-agent").path("securityContext").path("privileged").asBoolean()).isTrue();
        assertThat(plugin.path("securityContext").path("privileged").asBoolean()).isTrue();
        etcdWiring(plugin, daemonSet);
        etcdWiring(container(daemonSet, "ferry-agent"), daemonSet);
    }

    private static void etcdWiring(JsonNode container, JsonNode workload) {
        String configMap = container.path("envFrom").get(0).path("configMapRef").path("name").asText();
        JsonNode data = named("ConfigMap", configMap).path("data");
        assertThat(data.path("FERRY_ETCD_ENDPOINTS").asText()).isNotEmpty();
        String tlsDir = mountPath(container, "etcd-tls");
        assertThat(data.path("FERRY_ETCD_CA").asText()).startsWith(tlsDir + "/");
        String secret = volume(workload, "etcd-tls").path("secret").path("secretName").asText();
        JsonNode keys = named("Secret", secret).path("stringData");
        for (String var : List.of("FERRY_ETCD_CA", "FERRY_ETCD_CERT", "FERRY_ETCD_KEY")) {
            String file = Path.of(data.path(var).asText()).getFileName().toString();
            assertThat(keys.has(file)).as(var + " -> " + file).isTrue();
        }
    }

    @Test
    void serviceAccountsExistAndAreBound() {
        for (JsonNode workload : List.of(named("Deployment", "ferry-csi-controller"), named("DaemonSet", "ferry-node"))) {
            String account = workload.path("spec").path("template").path("spec").path("serviceAccountName").asText();
            named("ServiceAccount", account);
            assertThat(kind("ClusterRoleBinding")).anySatisfy(b ->
                    assertThat(b.path("subjects").get(0).path("name").asText()).isEqualTo(account));
        }
    }

    /** The verbs the controller's ClusterRole grants on a core resource. */
    static List<String> controllerVerbs(String resource) {
        List<String> verbs = new ArrayList<>();
        for (JsonNode rule : named("ClusterRole", "ferry-csi-controller").path("rules")) {
            boolean core = false;
            for (JsonNode group : rule.path("apiGroups")) {
                core |= group.asText().isEmpty();
            }
            boolean matches = false;
            for (JsonNode r : rule.path("resources")) {
                matches |= r.asText().equals(resource);
            }
            if (core && matches) {
                rule.path("verbs").forEach(v -> verbs.add(v.asText()));
            }
        }
        return verbs;
    }

    @Test
    void theControllerMayListAndWatchPodsAsExternalResizerDoes() {
        // external-resizer keeps an informer on pods (which pods use a volume); with only "get" it
        // logs forbidden errors forever and never resizes.
        assertThat(controllerVerbs("pods")).contains("get", "list", "watch");
    }
}
