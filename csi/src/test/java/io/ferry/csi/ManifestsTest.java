package io.ferry.csi;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.ferry.agent.AgentMain;
import io.ferry.agent.AgentOptions;
import io.ferry.controller.ControllerMain;
import io.ferry.etcd.EtcdOptions;
import io.ferry.model.VolumeIntent;
import io.ferry.runtime.admin.AdminOptions;
import java.util.HashSet;
import java.util.IdentityHashMap;
import org.assertj.core.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every manifest under deploy/kubernetes (and its etcd/ and etcd-tls/ options) parses, and its
 * names, flags, sockets, ports and probes agree with the binaries they run: the Ferry binaries'
 * own option parsers are called on each container's arguments and environment.
 */
class ManifestsTest {

    static final String NAMESPACE = "ferry-system";
    static final List<JsonNode> docs = new ArrayList<>();
    static final Map<JsonNode, Path> sources = new IdentityHashMap<>();
    static Path deployDir;

    /** Values the kubelet would give the downward-API variables of the manifests. */
    static final Map<String, String> FIELDS = Map.of(
            "spec.nodeName", "worker-1",
            "status.hostIP", "10.0.0.11",
            "metadata.name", "pod-0",
            "metadata.namespace", NAMESPACE);

    @BeforeAll
    static void load() throws Exception {
        deployDir = Path.of(System.getProperty("ferry.deploy.dir", "../deploy/kubernetes"));
        docs.clear();
        sources.clear();
        for (Map.Entry<JsonNode, Path> doc : readAll(deployDir)) {
            docs.add(doc.getKey());
            sources.put(doc.getKey(), doc.getValue());
        }
        assertThat(docs).hasSizeGreaterThan(10);
    }

    /** Every non-empty YAML document under the directory and its subdirectories, in file order, with its file. */
    static List<Map.Entry<JsonNode, Path>> readAll(Path dir) throws Exception {
        ObjectMapper yaml = new YAMLMapper();
        List<Path> files;
        try (Stream<Path> walk = Files.walk(dir)) {
            files = walk.filter(f -> f.toString().endsWith(".yaml") || f.toString().endsWith(".yml")).sorted().toList();
        }
        List<Map.Entry<JsonNode, Path>> out = new ArrayList<>();
        for (Path file : files) {
            try (var parser = new YAMLFactory().createParser(file.toFile())) {
                for (var it = yaml.readValues(parser, JsonNode.class); it.hasNext(); ) {
                    JsonNode doc = it.next();
                    if (doc != null && !doc.isNull() && !doc.isEmpty()) {
                        out.add(Map.entry(doc, file));
                    }
                }
            }
        }
        return out;
    }

    static List<JsonNode> kind(String kind) {
        return docs.stream().filter(d -> d.path("kind").asText().equals(kind)).toList();
    }

    static JsonNode named(String kind, String name) {
        return kind(kind).stream().filter(d -> d.path("metadata").path("name").asText().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no " + kind + " " + name));
    }

    static List<JsonNode> workloads() {
        return docs.stream().filter(d -> Set.of("Deployment", "DaemonSet", "StatefulSet").contains(d.path("kind").asText()))
                .toList();
    }

    static String describe(JsonNode doc) {
        return doc.path("kind").asText() + " " + doc.path("metadata").path("name").asText() + " (" + sources.get(doc) + ")";
    }

    static JsonNode podSpec(JsonNode workload) {
        return workload.path("spec").path("template").path("spec");
    }

    static List<JsonNode> containers(JsonNode workload) {
        List<JsonNode> out = new ArrayList<>();
        podSpec(workload).path("containers").forEach(out::add);
        return out;
    }

    static List<String> args(JsonNode container) {
        List<String> out = new ArrayList<>();
        container.path("command").forEach(a -> out.add(a.asText()));
        container.path("args").forEach(a -> out.add(a.asText()));
        return out;
    }

    static String flag(JsonNode container, String name) {
        return args(container).stream().filter(a -> a.startsWith(name + "=")).map(a -> a.substring(name.length() + 1))
                .findFirst().orElse(null);
    }

    static JsonNode container(JsonNode workload, String name) {
        for (JsonNode c : containers(workload)) {
            if (c.path("name").asText().equals(name)) {
                return c;
            }
        }
        throw new AssertionError("no container " + name + " in " + describe(workload));
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
        for (JsonNode v : podSpec(workload).path("volumes")) {
            if (v.path("name").asText().equals(name)) {
                return v;
            }
        }
        throw new AssertionError("no volume " + name + " in " + describe(workload));
    }

    /** Which Ferry binary an image runs (by the image's repository name), or null for another image. */
    static String ferryBinary(JsonNode container) {
        String repository = image(container)[0];
        String last = repository.substring(repository.lastIndexOf('/') + 1);
        return Set.of("ferry-csi", "ferry-controller", "ferry-agent").contains(last) ? last : null;
    }

    /** {repository, tag} of a container's image. */
    static String[] image(JsonNode container) {
        String image = container.path("image").asText();
        int colon = image.lastIndexOf(':');
        if (colon < 0 || colon < image.lastIndexOf('/')) {
            return new String[] {image, ""};
        }
        return new String[] {image.substring(0, colon), image.substring(colon + 1)};
    }

    /** The environment of a container in the base installation, without the optional ConfigMaps of etcd-tls/. */
    static Map<String, String> environment(JsonNode container) {
        return environment(container, false);
    }

    /**
     * The environment the kubelet gives a container: its ConfigMaps (envFrom, in order, later ones
     * winning; optional ones only with {@code withOptions}), then its own variables, with
     * downward-API fields filled in from {@link #FIELDS}.
     */
    static Map<String, String> environment(JsonNode container, boolean withOptions) {
        Map<String, String> env = new LinkedHashMap<>();
        for (JsonNode from : container.path("envFrom")) {
            JsonNode ref = from.path("configMapRef");
            String name = ref.path("name").asText();
            if (ref.path("optional").asBoolean() && !withOptions) {
                continue;
            }
            named("ConfigMap", name).path("data").fields().forEachRemaining(e -> env.put(e.getKey(), e.getValue().asText()));
        }
        for (JsonNode var : container.path("env")) {
            String value;
            if (var.has("value")) {
                value = expand(var.path("value").asText(), env);
            } else {
                String field = var.path("valueFrom").path("fieldRef").path("fieldPath").asText();
                value = FIELDS.get(field);
                assertThat(value).as("downward-API field " + field + " of " + container.path("name")).isNotNull();
            }
            env.put(var.path("name").asText(), value);
        }
        return env;
    }

    static final Pattern REFERENCE = Pattern.compile("\\$\\(([A-Za-z_][A-Za-z0-9_]*)\\)");

    /** Kubernetes' $(VAR) expansion; a reference to an undefined variable is an error here (the kubelet would pass it on verbatim). */
    static String expand(String text, Map<String, String> env) {
        Matcher m = REFERENCE.matcher(text);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String value = env.get(m.group(1));
            assertThat(value).as("$(" + m.group(1) + ") in " + text + " is not defined in the container's environment").isNotNull();
            m.appendReplacement(out, Matcher.quoteReplacement(value));
        }
        m.appendTail(out);
        return out.toString();
    }

    static List<String> expandedArgs(JsonNode container) {
        Map<String, String> env = environment(container);
        return args(container).stream().map(a -> expand(a, env)).toList();
    }

    /** Every (workload, container) pair running the given Ferry binary. */
    static List<JsonNode[]> ferryContainers(String binary) {
        List<JsonNode[]> out = new ArrayList<>();
        for (JsonNode w : workloads()) {
            for (JsonNode c : containers(w)) {
                if (binary.equals(ferryBinary(c))) {
                    out.add(new JsonNode[] {w, c});
                }
            }
        }
        return out;
    }

    // ---------------------------------------------------------------------------------------------

    @Test
    void everyDocumentIsANamedKubernetesObjectInFerrysNamespace() {
        Set<String> clusterScoped = Set.of("Namespace", "CSIDriver", "ClusterRole", "ClusterRoleBinding", "StorageClass",
                "VolumeSnapshotClass");
        for (JsonNode doc : docs) {
            assertThat(doc.path("apiVersion").asText()).as(describe(doc) + " apiVersion").matches("([a-z0-9.]+/)?v[0-9]+[a-z0-9]*");
            assertThat(doc.path("kind").asText()).as(describe(doc) + " kind").matches("[A-Z][A-Za-z]+");
            assertThat(doc.path("metadata").path("name").asText()).as(describe(doc) + " name").matches("[a-z0-9]([-a-z0-9.]*[a-z0-9])?");
            if (clusterScoped.contains(doc.path("kind").asText())) {
                assertThat(doc.path("metadata").has("namespace")).as(describe(doc) + " is cluster-scoped").isFalse();
            } else {
                assertThat(doc.path("metadata").path("namespace").asText()).as(describe(doc) + " namespace").isEqualTo(NAMESPACE);
            }
        }
        named("Namespace", NAMESPACE);
    }

    @Test
    void theWholeSystemIsThere() {
        JsonNode controller = named("Deployment", "ferry-controller");
        assertThat(controller.path("spec").path("replicas").asInt()).isEqualTo(2);
        JsonNode budget = named("PodDisruptionBudget", "ferry-controller");
        assertThat(budget.path("spec").path("selector").path("matchLabels"))
                .isEqualTo(controller.path("spec").path("selector").path("matchLabels"));
        assertThat(budget.path("spec").path("minAvailable").asInt()).isEqualTo(1);
        assertThat(ferryContainers("ferry-controller")).hasSize(1);
        assertThat(ferryContainers("ferry-agent")).hasSize(1);
        assertThat(ferryContainers("ferry-csi")).hasSize(2);
        named("StatefulSet", "ferry-etcd");
        named("ConfigMap", "ferry-etcd-tls");
        named("Secret", "ferry-etcd-tls");
        for (JsonNode w : workloads()) {
            JsonNode labels = w.path("spec").path("template").path("metadata").path("labels");
            w.path("spec").path("selector").path("matchLabels").fields().forEachRemaining(e ->
                    assertThat(labels.path(e.getKey()).asText()).as(describe(w) + " selector").isEqualTo(e.getValue().asText()));
        }
    }

    @Test
    void driverNameIsTheSameEverywhere() {
        assertThat(named("CSIDriver", Driver.NAME).path("spec").path("attachRequired").asBoolean()).isTrue();
        assertThat(named("CSIDriver", Driver.NAME).path("spec").path("storageCapacity").asBoolean()).isTrue();
        assertThat(kind("StorageClass")).hasSizeGreaterThanOrEqualTo(4)
                .allSatisfy(sc -> assertThat(sc.path("provisioner").asText()).isEqualTo(Driver.NAME));
        assertThat(kind("VolumeSnapshotClass")).isNotEmpty()
                .allSatisfy(c -> assertThat(c.path("driver").asText()).isEqualTo(Driver.NAME));
        String hostDir = volume(named("DaemonSet", "ferry-csi-node"), "plugin-dir").path("hostPath").path("path").asText();
        assertThat(hostDir).isEqualTo("/var/lib/kubelet/plugins/" + Driver.NAME);
    }

    @Test
    void storageClassParametersAreAllUnderstoodAndMakeValidIntents() {
        for (JsonNode sc : kind("StorageClass")) {
            Map<String, String> params = new HashMap<>();
            sc.path("parameters").fields().forEachRemaining(e -> params.put(e.getKey(), e.getValue().asText()));
            // The deprecated spelling: the sidecars only turn csi.storage.k8s.io/fstype into the
            // volume capability the plugin formats with.
            assertThat(params).as(describe(sc) + " uses csi.storage.k8s.io/fstype").doesNotContainKeys("fstype", "fsType");
            params.put("csi.storage.k8s.io/pvc/name", "data-db-0");
            StorageClassParameters p = StorageClassParameters.parse(params);
            String fsType = params.getOrDefault("csi.storage.k8s.io/fstype", Driver.DEFAULT_FS_TYPE);
            // Every class waits for the first consumer, whose node the provisioner passes on.
            assertThat(sc.path("volumeBindingMode").asText()).as(describe(sc)).isEqualTo("WaitForFirstConsumer");
            VolumeIntent.Builder intent = VolumeIntent.builder("vol-1", 1L << 30).consumerNode("worker-1")
                    .thin(p.thin()).engine(p.engine())
                    .spreadGroup(p.spreadGroup()).poolSelector(p.poolSelector()).nodeSelector(p.nodeSelector())
                    .fsType(fsType).mkfsOptions(p.mkfsOptions()).layout(p.layout()).parts(p.parts());
            if (p.positionAdvice() != null) {
                intent.positionAdvice(p.positionAdvice());
            }
            if (p.failureDomainLevel() != null) {
                intent.failureDomainLevel(p.failureDomainLevel());
            }
            intent.build();
        }
        // One class per engine, and one per position.
        for (String engine : List.of("lvm", "lvm-thin", "spdk", "file")) {
            assertThat(kind("StorageClass")).as("a StorageClass for " + engine)
                    .anySatisfy(sc -> assertThat(sc.path("parameters").path("engine").asText()).isEqualTo(engine));
        }
        for (String advice : List.of("PreferLocal", "MustLocal", "MustRemote")) {
            assertThat(kind("StorageClass")).as("a StorageClass for " + advice)
                    .anySatisfy(sc -> assertThat(sc.path("parameters").path("positionAdvice").asText()).isEqualTo(advice));
        }
        // One class per multi-part layout; they grow online like any other volume.
        for (String layout : List.of("mirror", "linear", "striped")) {
            assertThat(kind("StorageClass")).as("a StorageClass for " + layout)
                    .anySatisfy(sc -> assertThat(sc.path("parameters").path("layout").asText()).isEqualTo(layout));
        }
        assertThat(kind("StorageClass")).allSatisfy(sc -> assertThat(sc.path("allowVolumeExpansion").asBoolean())
                .as(sc.path("metadata").path("name").asText() + " allows expansion").isTrue());
    }

    // --- The Ferry binaries accept what the manifests pass them ----------------------------------

    @Test
    void everyFerryCsiContainerIsAcceptedByCsiMain() {
        for (JsonNode[] wc : ferryContainers("ferry-csi")) {
            CsiMain.Parsed parsed = CsiMain.parse(expandedArgs(wc[1]).toArray(String[]::new));
            assertThat(parsed.endpoint()).as(describe(wc[0])).isInstanceOf(CsiEndpoint.Unix.class);
            EtcdOptions.fromEnvironment(environment(wc[1]));
        }
        assertThat(CsiMain.parse(expandedArgs(container(named("DaemonSet", "ferry-csi-node"), "ferry-csi"))
                .toArray(String[]::new)).nodeId()).isEqualTo(FIELDS.get("spec.nodeName"));
    }

    @Test
    void everyFerryControllerContainerIsAcceptedByControllerMain() {
        for (JsonNode[] wc : ferryContainers("ferry-controller")) {
            ControllerMain main = ControllerMain.parse(expandedArgs(wc[1]).toArray(String[]::new));
            // Two replicas must not share an identity in the election.
            assertThat(main.id()).as(describe(wc[0]) + " --id").isEqualTo(FIELDS.get("metadata.name"));
            EtcdOptions.fromEnvironment(environment(wc[1]));
        }
    }

    @Test
    void everyFerryAgentContainerIsAcceptedByAgentMain() throws Exception {
        for (JsonNode[] wc : ferryContainers("ferry-agent")) {
            AgentOptions options = AgentMain.parse(expandedArgs(wc[1]), environment(wc[1]));
            assertThat(options.node()).isEqualTo(FIELDS.get("spec.nodeName"));
            assertThat(options.dataAddress()).isEqualTo(FIELDS.get("status.hostIP"));
            // Paths the agent works in exist in its container, from the host.
            for (Path path : List.of(options.stateDir(), options.nvmetRoot().getParent(), options.hostNqnFile().getParent(),
                    options.spdkSocket().getParent())) {
                assertThat(hostPathAt(wc[0], wc[1], path.toString())).as(describe(wc[0]) + " mounts " + path).isNotNull();
            }
            EtcdOptions.fromEnvironment(environment(wc[1]));
        }
    }

    /** The host path mounted at exactly this container path, or null. */
    static String hostPathAt(JsonNode workload, JsonNode container, String path) {
        for (JsonNode m : container.path("volumeMounts")) {
            if (m.path("mountPath").asText().equals(path)) {
                return volume(workload, m.path("name").asText()).path("hostPath").path("path").asText(null);
            }
        }
        return null;
    }

    @Test
    void aMisspeltFlagIsRefusedByEachParser() {
        // The checks above mean something only if the parsers refuse what they do not know.
        Assertions.assertThatThrownBy(() -> CsiMain.parse("--mode=node", "--node-ide=n1"))
                .hasMessageContaining("--node-ide");
        Assertions.assertThatThrownBy(() -> ControllerMain.parse("--admin-address=0.0.0.0:7360"))
                .hasMessageContaining("--admin-address");
        Assertions.assertThatThrownBy(() -> AgentMain.parse(List.of("--data-address=10.0.0.1",
                "--state-dri=/var/lib/ferry"), Map.of())).hasMessageContaining("--state-dri");
    }

    // --- Probes --------------------------------------------------------------------------------

    @Test
    void controllerProbesAskItsAdminApiWhereItListens() {
        JsonNode deployment = named("Deployment", "ferry-controller");
        JsonNode c = container(deployment, "ferry-controller");
        AdminOptions admin = ControllerMain.parse(expandedArgs(c).toArray(String[]::new)).admin(null);
        // The kubelet probes the pod's address, so loopback would fail every probe.
        assertThat(podSpec(deployment).path("hostNetwork").asBoolean()).isFalse();
        assertThat(admin.host()).isIn("0.0.0.0", "::");
        probe(c, "livenessProbe", "/healthz", admin.port(), null);
        probe(c, "readinessProbe", "/readyz", admin.port(), null);
    }

    @Test
    void agentProbesAskItsAdminApiOnTheNodesLoopback() throws Exception {
        JsonNode daemonSet = named("DaemonSet", "ferry-agent");
        JsonNode c = container(daemonSet, "ferry-agent");
        AgentOptions options = AgentMain.parse(expandedArgs(c), environment(c));
        // On the host network, loopback is the node's: the kubelet reaches it, the network does not.
        assertThat(podSpec(daemonSet).path("hostNetwork").asBoolean()).isTrue();
        assertThat(podSpec(daemonSet).path("dnsPolicy").asText()).isEqualTo("ClusterFirstWithHostNet");
        assertThat(options.adminHost()).isEqualTo("127.0.0.1");
        probe(c, "livenessProbe", "/healthz", options.adminPort(), "127.0.0.1");
        probe(c, "readinessProbe", "/readyz", options.adminPort(), "127.0.0.1");
    }

    @Test
    void csiPluginProbesReachTheLivenessSidecarOnThePluginsSocket() {
        for (JsonNode[] wc : ferryContainers("ferry-csi")) {
            JsonNode w = wc[0];
            JsonNode plugin = wc[1];
            JsonNode sidecar = containers(w).stream().filter(c -> image(c)[0].endsWith("/livenessprobe")).findFirst()
                    .orElseThrow(() -> new AssertionError("no livenessprobe sidecar in " + describe(w)));
            int port = Integer.parseInt(flag(sidecar, "--health-port"));
            probe(plugin, "livenessProbe", "/healthz", port, null);
            probe(plugin, "readinessProbe", "/healthz", port, null);
            assertSameSocket(w, plugin, sidecar);
            if (podSpec(w).path("hostNetwork").asBoolean()) {
                // Other drivers' node plugins listen on the default 9808 of the same host.
                assertThat(port).as(describe(w) + " health port on the host network").isNotEqualTo(9808);
            }
        }
    }

    /** The probe's path and port (a number or the name of a port of the container), and host. */
    static void probe(JsonNode container, String which, String path, int port, String host) {
        JsonNode get = container.path(which).path("httpGet");
        String what = container.path("name").asText() + " " + which;
        assertThat(get.path("path").asText()).as(what + " path").isEqualTo(path);
        JsonNode p = get.path("port");
        int actual = p.isInt() ? p.asInt() : namedPort(container, p.asText());
        assertThat(actual).as(what + " port").isEqualTo(port);
        assertThat(get.path("host").asText(null)).as(what + " host").isEqualTo(host);
    }

    static int namedPort(JsonNode container, String name) {
        for (JsonNode p : container.path("ports")) {
            if (p.path("name").asText().equals(name)) {
                return p.path("containerPort").asInt();
            }
        }
        throw new AssertionError("no port " + name + " in " + container.path("name"));
    }

    // --- Sockets, volumes and sidecars ---------------------------------------------------------

    /** The sidecar's --csi-address is the plugin's --endpoint socket, through the same volume. */
    static void assertSameSocket(JsonNode workload, JsonNode plugin, JsonNode sidecar) {
        Path socket = CsiMain.socketPath(flag(plugin, "--endpoint"));
        Path address = Path.of(flag(sidecar, "--csi-address"));
        String what = describe(workload) + " " + sidecar.path("name").asText();
        assertThat(address.getFileName()).as(what + " socket file").isEqualTo(socket.getFileName());
        String pluginVolume = volumeMountedAt(plugin, socket.getParent().toString());
        assertThat(pluginVolume).as(describe(workload) + " plugin socket directory is a volume").isNotNull();
        assertThat(mountPath(sidecar, pluginVolume)).as(what + " mounts " + pluginVolume).isEqualTo(address.getParent().toString());
    }

    static String volumeMountedAt(JsonNode container, String path) {
        for (JsonNode m : container.path("volumeMounts")) {
            if (m.path("mountPath").asText().equals(path)) {
                return m.path("name").asText();
            }
        }
        return null;
    }

    @Test
    void controllerSidecarsTalkToThePluginSocket() {
        JsonNode deployment = named("Deployment", "ferry-csi-controller");
        JsonNode plugin = container(deployment, "ferry-csi");
        assertThat(CsiMain.parse(expandedArgs(plugin).toArray(String[]::new)).mode()).isEqualTo(CsiServer.Mode.CONTROLLER);
        for (String sidecar : List.of("csi-provisioner", "csi-attacher", "csi-snapshotter", "csi-resizer", "liveness-probe")) {
            assertSameSocket(deployment, plugin, container(deployment, sidecar));
        }
        List<String> provisioner = args(container(deployment, "csi-provisioner"));
        assertThat(provisioner).contains("--feature-gates=Topology=true", "--enable-capacity", "--extra-create-metadata");
        // --enable-capacity with an owner reference needs the pod's name and namespace.
        assertThat(environment(container(deployment, "csi-provisioner"))).containsKeys("POD_NAME", "NAMESPACE");
        assertThat(volume(deployment, "socket-dir").has("emptyDir")).isTrue();
    }

    @Test
    void sidecarsElectLeadersUnderThePodName() {
        // Their identity is the host name: only outside the host network is that the pod's name.
        JsonNode deployment = named("Deployment", "ferry-csi-controller");
        assertThat(deployment.path("spec").path("replicas").asInt()).isGreaterThan(1);
        assertThat(podSpec(deployment).path("hostNetwork").asBoolean()).as("CSI controller on the host network").isFalse();
        for (JsonNode c : containers(deployment)) {
            if (args(c).contains("--leader-election")) {
                assertThat(flag(c, "--leader-election-namespace")).as(c.path("name").asText()).isEqualTo("$(NAMESPACE)");
                assertThat(expand(flag(c, "--leader-election-namespace"), environment(c))).isEqualTo(NAMESPACE);
            }
        }
    }

    @Test
    void nodePluginSocketIsWhereTheRegistrarTellsTheKubelet() {
        JsonNode daemonSet = named("DaemonSet", "ferry-csi-node");
        JsonNode plugin = container(daemonSet, "ferry-csi");
        assertThat(CsiMain.parse(expandedArgs(plugin).toArray(String[]::new)).mode()).isEqualTo(CsiServer.Mode.NODE);
        Path socket = CsiMain.socketPath(flag(plugin, "--endpoint"));
        assertThat(mountPath(plugin, "plugin-dir")).isEqualTo(socket.getParent().toString());
        String hostDir = volume(daemonSet, "plugin-dir").path("hostPath").path("path").asText();
        JsonNode registrar = container(daemonSet, "node-driver-registrar");
        String registration = flag(registrar, "--kubelet-registration-path");
        assertThat(registration).isEqualTo(hostDir + "/" + socket.getFileName());
        assertSameSocket(daemonSet, plugin, registrar);
        assertSameSocket(daemonSet, plugin, container(daemonSet, "liveness-probe"));
        assertThat(mountPath(registrar, "registration-dir")).isEqualTo("/registration");
        assertThat(volume(daemonSet, "registration-dir").path("hostPath").path("path").asText())
                .isEqualTo("/var/lib/kubelet/plugins_registry");
        // The registrar's own liveness probe checks the same registration.
        List<String> probe = new ArrayList<>();
        registrar.path("livenessProbe").path("exec").path("command").forEach(a -> probe.add(a.asText()));
        assertThat(probe).contains("--kubelet-registration-path=" + registration, "--mode=kubelet-registration-probe");
        assertThat(plugin.path("securityContext").path("privileged").asBoolean()).isTrue();
        assertThat(mountPath(plugin, "kubelet-dir")).isEqualTo("/var/lib/kubelet");
        // Pods with Ferry volumes may run on any node, tainted or not.
        assertThat(podSpec(daemonSet).path("tolerations")).anySatisfy(t -> {
            assertThat(t.path("operator").asText()).isEqualTo("Exists");
            assertThat(t.has("key")).isFalse();
        });
        assertThat(podSpec(daemonSet).has("nodeSelector")).isFalse();
    }

    @Test
    void theAgentRunsOnLabelledStorageNodesWithTheHostAccessItsEnginesNeed() throws Exception {
        JsonNode daemonSet = named("DaemonSet", "ferry-agent");
        JsonNode agent = container(daemonSet, "ferry-agent");
        JsonNode selector = podSpec(daemonSet).path("nodeSelector");
        assertThat(selector.size()).isEqualTo(1);
        String label = selector.fieldNames().next();
        String guide = Files.readString(deployDir.resolve("../../docs/kubernetes.md"));
        assertThat(guide).as("docs/kubernetes.md names the storage-node label").contains(label + "=" + selector.path(label).asText());
        assertThat(agent.path("securityContext").path("privileged").asBoolean()).isTrue();
        assertThat(environment(agent)).containsEntry("DM_DISABLE_UDEV", "1");
        Map<String, Boolean> needed = Map.of("/dev", false, "/sys/kernel/config", false, "/run/lvm", false,
                "/lib/modules", true, "/var/lib/ferry", false);
        needed.forEach((path, readOnly) -> {
            assertThat(hostPathAt(daemonSet, agent, path)).as("agent mounts the host's " + path).isEqualTo(path);
            JsonNode mount = mountNode(agent, path);
            assertThat(mount.path("readOnly").asBoolean()).as(path + " read-only").isEqualTo(readOnly);
        });
        // File pools under /var/lib/ferry hold loop-device mounts of their own only if the host sees them.
        assertThat(mountNode(agent, "/var/lib/ferry").path("mountPropagation").asText()).isEqualTo("Bidirectional");
        // The node plugin reads the same pool markers, read-only.
        JsonNode plugin = container(named("DaemonSet", "ferry-csi-node"), "ferry-csi");
        assertThat(mountNode(plugin, "/var/lib/ferry").path("readOnly").asBoolean()).isTrue();
    }

    static JsonNode mountNode(JsonNode container, String path) {
        for (JsonNode m : container.path("volumeMounts")) {
            if (m.path("mountPath").asText().equals(path)) {
                return m;
            }
        }
        throw new AssertionError(container.path("name").asText() + " mounts nothing at " + path);
    }

    @Test
    void everyMountNamesAVolumeOfItsPodAndEveryReferenceExists() {
        for (JsonNode w : workloads()) {
            Set<String> volumes = new HashSet<>();
            podSpec(w).path("volumes").forEach(v -> volumes.add(v.path("name").asText()));
            w.path("spec").path("volumeClaimTemplates").forEach(v -> volumes.add(v.path("metadata").path("name").asText()));
            for (JsonNode c : containers(w)) {
                for (JsonNode m : c.path("volumeMounts")) {
                    assertThat(volumes).as(describe(w) + " " + c.path("name").asText()).contains(m.path("name").asText());
                }
                environment(c);
            }
            for (JsonNode v : podSpec(w).path("volumes")) {
                JsonNode secret = v.path("secret");
                if (!secret.isMissingNode() && !secret.path("optional").asBoolean()) {
                    named("Secret", secret.path("secretName").asText());
                }
            }
            String account = podSpec(w).path("serviceAccountName").asText(null);
            if (account != null) {
                named("ServiceAccount", account);
            }
        }
    }

    @Test
    void theControllerMayListAndWatchPodsAsExternalResizerDoes() {
        // external-resizer watches pods (which ones use a volume); with "get" alone it is refused
        // forever and never resizes.
        List<String> verbs = new ArrayList<>();
        for (JsonNode rule : named("ClusterRole", "ferry-csi-controller").path("rules")) {
            boolean coreGroup = false;
            boolean pods = false;
            for (JsonNode g : rule.path("apiGroups")) {
                coreGroup |= g.asText().isEmpty();
            }
            for (JsonNode r : rule.path("resources")) {
                pods |= r.asText().equals("pods");
            }
            if (coreGroup && pods) {
                rule.path("verbs").forEach(v -> verbs.add(v.asText()));
            }
        }
        assertThat(verbs).contains("get", "list", "watch");
    }

    /** One permission an upstream sidecar needs: API group, resource, verbs. */
    record Permission(String group, String resource, List<String> verbs) {
    }

    static Permission perm(String group, String resource, String... verbs) {
        return new Permission(group, resource, List.of(verbs));
    }

    /**
     * What each sidecar version of the CSI controller asks of the API server, from the RBAC files of
     * its release (deploy/kubernetes/rbac.yaml of external-provisioner v3.4, external-attacher v4.2,
     * external-resizer v1.7; deploy/kubernetes/csi-snapshotter/rbac-csi-snapshotter.yaml of
     * external-snapshotter v6.2), leader election and the provisioner's capacity tracking included.
     * A sidecar without all of it waits for its informers' caches forever and does nothing.
     */
    static final Map<String, List<Permission>> SIDECAR_RBAC = Map.of(
            "registry.k8s.io/sig-storage/csi-provisioner", List.of(
                    perm("", "persistentvolumes", "get", "list", "watch", "create", "delete"),
                    perm("", "persistentvolumeclaims", "get", "list", "watch", "update"),
                    perm("storage.k8s.io", "storageclasses", "get", "list", "watch"),
                    perm("", "events", "list", "watch", "create", "update", "patch"),
                    perm("snapshot.storage.k8s.io", "volumesnapshots", "get", "list"),
                    perm("snapshot.storage.k8s.io", "volumesnapshotcontents", "get", "list"),
                    perm("storage.k8s.io", "csinodes", "get", "list", "watch"),
                    perm("", "nodes", "get", "list", "watch"),
                    perm("storage.k8s.io", "volumeattachments", "get", "list", "watch"),
                    perm("coordination.k8s.io", "leases", "get", "watch", "list", "delete", "update", "create"),
                    perm("storage.k8s.io", "csistoragecapacities", "get", "list", "watch", "create", "update", "patch", "delete"),
                    perm("", "pods", "get"),
                    perm("apps", "replicasets", "get")),
            "registry.k8s.io/sig-storage/csi-attacher", List.of(
                    perm("", "persistentvolumes", "get", "list", "watch", "patch"),
                    perm("storage.k8s.io", "csinodes", "get", "list", "watch"),
                    perm("storage.k8s.io", "volumeattachments", "get", "list", "watch", "patch"),
                    perm("storage.k8s.io", "volumeattachments/status", "patch"),
                    perm("coordination.k8s.io", "leases", "get", "watch", "list", "delete", "update", "create")),
            "registry.k8s.io/sig-storage/csi-resizer", List.of(
                    perm("", "persistentvolumes", "get", "list", "watch", "patch"),
                    perm("", "persistentvolumeclaims", "get", "list", "watch"),
                    perm("", "pods", "get", "list", "watch"),
                    perm("", "persistentvolumeclaims/status", "patch"),
                    perm("", "events", "list", "watch", "create", "update", "patch"),
                    perm("coordination.k8s.io", "leases", "get", "watch", "list", "delete", "update", "create")),
            "registry.k8s.io/sig-storage/csi-snapshotter", List.of(
                    perm("", "events", "list", "watch", "create", "update", "patch"),
                    perm("snapshot.storage.k8s.io", "volumesnapshotclasses", "get", "list", "watch"),
                    perm("snapshot.storage.k8s.io", "volumesnapshotcontents", "create", "get", "list", "watch", "update", "delete", "patch"),
                    perm("snapshot.storage.k8s.io", "volumesnapshotcontents/status", "update", "patch"),
                    perm("coordination.k8s.io", "leases", "get", "watch", "list", "delete", "update", "create")),
            "registry.k8s.io/sig-storage/livenessprobe", List.of());

    /** Whether one of the rules of a (Cluster)Role grants the verb on the group's resource. */
    static boolean grants(JsonNode role, String group, String resource, String verb) {
        for (JsonNode rule : role.path("rules")) {
            if (rule.has("resourceNames")) {
                continue;
            }
            if (contains(rule.path("apiGroups"), group) && contains(rule.path("resources"), resource)
                    && contains(rule.path("verbs"), verb)) {
                return true;
            }
        }
        return false;
    }

    static boolean contains(JsonNode list, String value) {
        for (JsonNode v : list) {
            if (v.asText().equals(value) || v.asText().equals("*")) {
                return true;
            }
        }
        return false;
    }

    /** The ClusterRoles bound to a service account of Ferry's namespace. */
    static List<JsonNode> clusterRolesOf(String account) {
        List<JsonNode> roles = new ArrayList<>();
        for (JsonNode binding : kind("ClusterRoleBinding")) {
            for (JsonNode subject : binding.path("subjects")) {
                if (subject.path("kind").asText().equals("ServiceAccount") && subject.path("name").asText().equals(account)
                        && subject.path("namespace").asText().equals(NAMESPACE)) {
                    assertThat(binding.path("roleRef").path("kind").asText()).isEqualTo("ClusterRole");
                    roles.add(named("ClusterRole", binding.path("roleRef").path("name").asText()));
                }
            }
        }
        return roles;
    }

    /**
     * The Roles of Ferry's namespace bound to one of its service accounts: what the account may do
     * in that namespace only (leader election, capacity objects), where a sidecar does it.
     */
    static List<JsonNode> namespacedRolesOf(String account) {
        List<JsonNode> roles = new ArrayList<>();
        for (JsonNode binding : kind("RoleBinding")) {
            for (JsonNode subject : binding.path("subjects")) {
                if (subject.path("kind").asText().equals("ServiceAccount") && subject.path("name").asText().equals(account)
                        && subject.path("namespace").asText().equals(NAMESPACE)) {
                    assertThat(binding.path("metadata").path("namespace").asText()).isEqualTo(NAMESPACE);
                    assertThat(binding.path("roleRef").path("kind").asText()).isEqualTo("Role");
                    JsonNode role = named("Role", binding.path("roleRef").path("name").asText());
                    assertThat(role.path("metadata").path("namespace").asText()).isEqualTo(NAMESPACE);
                    roles.add(role);
                }
            }
        }
        return roles;
    }

    @Test
    void everyControllerSidecarHasTheRbacItsReleaseNeeds() {
        JsonNode deployment = named("Deployment", "ferry-csi-controller");
        String account = podSpec(deployment).path("serviceAccountName").asText();
        // The sidecars act on leases, capacity objects and their ReplicaSet in this namespace only,
        // which a namespaced Role covers; the rest needs the ClusterRole.
        List<JsonNode> roles = new ArrayList<>(clusterRolesOf(account));
        roles.addAll(namespacedRolesOf(account));
        assertThat(roles).as("roles of the CSI controller's account").isNotEmpty();
        List<String> missing = new ArrayList<>();
        for (JsonNode c : containers(deployment)) {
            if (ferryBinary(c) != null) {
                continue;
            }
            List<Permission> needs = SIDECAR_RBAC.get(image(c)[0]);
            assertThat(needs).as(c.path("name").asText() + ": what its release needs of the API is not known to the test").isNotNull();
            for (Permission p : needs) {
                for (String verb : p.verbs()) {
                    if (roles.stream().noneMatch(r -> grants(r, p.group(), p.resource(), verb))) {
                        missing.add(c.path("name").asText() + ": " + verb + " " + (p.group().isEmpty() ? "" : p.group() + "/") + p.resource());
                    }
                }
            }
        }
        assertThat(missing).as("permissions the sidecars need and neither the ClusterRole nor the namespace's Role gives").isEmpty();
    }

    @Test
    void serviceAccountsOfTheCsiPodsAreBound() {
        for (JsonNode workload : List.of(named("Deployment", "ferry-csi-controller"), named("DaemonSet", "ferry-csi-node"))) {
            String account = podSpec(workload).path("serviceAccountName").asText();
            named("ServiceAccount", account);
            assertThat(kind("ClusterRoleBinding")).anySatisfy(b ->
                    assertThat(b.path("subjects").get(0).path("name").asText()).isEqualTo(account));
        }
    }

    // --- etcd ------------------------------------------------------------------------------------

    @Test
    void aPlainHttpEtcdWorksWithoutTheTlsOption() {
        JsonNode data = named("ConfigMap", "ferry-etcd").path("data");
        Map<String, String> plain = new HashMap<>();
        data.fields().forEachRemaining(e -> plain.put(e.getKey(), e.getValue().asText()));
        assertThat(plain).doesNotContainKeys("FERRY_ETCD_CA", "FERRY_ETCD_CERT", "FERRY_ETCD_KEY");
        EtcdOptions options = EtcdOptions.fromEnvironment(plain);
        assertThat(options.tls()).isFalse();
        // The default endpoint is the trial etcd's client Service.
        JsonNode service = named("Service", "ferry-etcd");
        assertThat(options.endpoints()).singleElement().satisfies(uri -> {
            assertThat(uri.getHost()).isEqualTo("ferry-etcd." + NAMESPACE + ".svc");
            assertThat(uri.getPort()).isEqualTo(service.path("spec").path("ports").get(0).path("port").asInt());
        });
    }

    @Test
    void theTlsOptionGivesEveryFerryContainerHttpsEndpointsAndItsMountedFiles(@TempDir Path root) throws Exception {
        JsonNode secret = named("Secret", "ferry-etcd-tls");
        for (JsonNode w : workloads()) {
            for (JsonNode c : containers(w)) {
                if (ferryBinary(c) == null) {
                    continue;
                }
                Map<String, String> env = environment(c, true);
                String dir = mountPath(c, "etcd-tls");
                assertThat(volume(w, "etcd-tls").path("secret").path("secretName").asText()).isEqualTo("ferry-etcd-tls");
                Map<String, String> relocated = new HashMap<>(env);
                for (String var : List.of("FERRY_ETCD_CA", "FERRY_ETCD_CERT", "FERRY_ETCD_KEY")) {
                    String file = env.get(var);
                    assertThat(file).as(describe(w) + " " + var).startsWith(dir + "/");
                    String key = file.substring(dir.length() + 1);
                    assertThat(secret.path("stringData").has(key)).as(var + " -> Secret key " + key).isTrue();
                    Path copy = root.resolve(key);
                    Files.writeString(copy, "pem", StandardCharsets.UTF_8);
                    relocated.put(var, copy.toString());
                }
                // The binaries' own check, with the Secret's files where the test can read them.
                assertThat(EtcdOptions.fromEnvironment(relocated).tls()).as(describe(w)).isTrue();
            }
        }
    }

    @Test
    void theTrialEtcdIsStartedWithFlagsThisEtcdKnows() throws Exception {
        JsonNode etcd = container(named("StatefulSet", "ferry-etcd"), "etcd");
        assertThat(image(etcd)[1]).isNotEmpty();
        List<String> flags = expandedArgs(etcd).stream().skip(1).map(a -> a.substring(0, a.indexOf('='))).toList();
        assertThat(flags).contains("--advertise-client-urls", "--initial-cluster", "--data-dir");
        Path binary = Path.of("/usr/bin/etcd");
        Assumptions.assumeTrue(Files.isExecutable(binary), "no /usr/bin/etcd (Debian's etcd-server) to ask for its flags");
        Process p = new ProcessBuilder(binary.toString(), "--help").redirectErrorStream(true).start();
        String help = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        for (String f : flags) {
            assertThat(help).as("etcd --help lists " + f).contains(f + " ");
        }
        // The one member is the StatefulSet's pod 0, under the name it is started with.
        assertThat(flag(etcd, "--initial-cluster")).startsWith("ferry-etcd-0=");
        assertThat(flag(etcd, "--name")).isEqualTo("$(POD_NAME)");
    }

    // --- Images ----------------------------------------------------------------------------------

    /** The sidecar versions known to work (docs/kubernetes.md), and the flags each accepts that we use. */
    static final Map<String, Sidecar> SIDECARS = Map.of(
            "registry.k8s.io/sig-storage/csi-provisioner", new Sidecar("v3.4.", Set.of("--csi-address", "--feature-gates",
                    "--enable-capacity", "--capacity-ownerref-level", "--extra-create-metadata", "--strict-topology",
                    "--leader-election", "--leader-election-namespace", "--timeout", "--http-endpoint", "--v")),
            "registry.k8s.io/sig-storage/csi-attacher", new Sidecar("v4.2.", Set.of("--csi-address", "--leader-election",
                    "--leader-election-namespace", "--timeout", "--http-endpoint", "--v")),
            "registry.k8s.io/sig-storage/csi-resizer", new Sidecar("v1.7.", Set.of("--csi-address", "--leader-election",
                    "--leader-election-namespace", "--timeout", "--http-endpoint", "--v")),
            "registry.k8s.io/sig-storage/csi-snapshotter", new Sidecar("v6.2.", Set.of("--csi-address", "--leader-election",
                    "--leader-election-namespace", "--timeout", "--http-endpoint", "--extra-create-metadata", "--v")),
            "registry.k8s.io/sig-storage/csi-node-driver-registrar", new Sidecar("v2.7.", Set.of("--csi-address",
                    "--kubelet-registration-path", "--mode", "--http-endpoint", "--v")),
            "registry.k8s.io/sig-storage/livenessprobe", new Sidecar("v2.9.", Set.of("--csi-address", "--health-port",
                    "--probe-timeout", "--v")),
            "registry.k8s.io/etcd", new Sidecar("3.5.", Set.of()));

    record Sidecar(String versionPrefix, Set<String> flags) {
    }

    @Test
    void everyImageIsPinnedAndFerrysAreTheOnesTheBuildMakes() throws Exception {
        Map<String, String> built = new HashMap<>();
        for (String module : List.of("csi", "controller", "agent")) {
            built.put("ferry-" + module, jibImage(module));
        }
        for (JsonNode w : workloads()) {
            for (JsonNode c : containers(w)) {
                String[] image = image(c);
                String what = describe(w) + " " + c.path("name").asText() + " " + c.path("image").asText();
                assertThat(image[1]).as(what + " has a tag").isNotEmpty().isNotEqualTo("latest");
                String binary = ferryBinary(c);
                if (binary != null) {
                    assertThat(c.path("image").asText()).as(what).isEqualTo(built.get(binary));
                    continue;
                }
                Sidecar sidecar = SIDECARS.get(image[0]);
                assertThat(sidecar).as(what + " is a known image").isNotNull();
                assertThat(image[1]).as(what + " version").startsWith(sidecar.versionPrefix()).matches(".*[0-9]+\\.[0-9]+\\.[0-9]+.*");
                if (!sidecar.flags().isEmpty()) {
                    for (String arg : args(c)) {
                        String name = arg.contains("=") ? arg.substring(0, arg.indexOf('=')) : arg;
                        assertThat(sidecar.flags()).as(what + " accepts " + name).contains(name);
                    }
                }
            }
        }
    }

    /** The image a module's Jib configuration builds: its ferry.image property at the project's version. */
    static String jibImage(String module) throws Exception {
        Path root = deployDir.resolve("../..");
        String pom = Files.readString(root.resolve(module).resolve("pom.xml"));
        Matcher image = Pattern.compile("<ferry.image>([^<]+)</ferry.image>").matcher(pom);
        assertThat(image.find()).as(module + "/pom.xml has a ferry.image for Jib").isTrue();
        assertThat(pom).as(module + "/pom.xml configures Jib").contains("jib-maven-plugin").contains("<image>${ferry.image}</image>");
        String parent = Files.readString(root.resolve("pom.xml"));
        Matcher version = Pattern.compile("<artifactId>ferry-parent</artifactId>\\s*<version>([^<]+)</version>").matcher(parent);
        assertThat(version.find()).isTrue();
        return image.group(1).replace("${project.version}", version.group(1));
    }

    @Test
    void everyContainerAsksForResourcesAndEveryFerryProcessIsProbed() {
        for (JsonNode w : workloads()) {
            for (JsonNode c : containers(w)) {
                String what = describe(w) + " " + c.path("name").asText();
                assertThat(c.path("resources").path("requests").has("cpu")).as(what + " cpu request").isTrue();
                assertThat(c.path("resources").path("requests").has("memory")).as(what + " memory request").isTrue();
                if (ferryBinary(c) != null) {
                    assertThat(c.has("livenessProbe")).as(what + " liveness probe").isTrue();
                    assertThat(c.has("readinessProbe")).as(what + " readiness probe").isTrue();
                }
            }
        }
    }
}
