package io.ferry.csi;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.MissingNode;
import io.ferry.etcd.EtcdOptions;
import io.ferry.etcd.EtcdRoles;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

import static io.ferry.csi.ManifestsTest.FIELDS;
import static io.ferry.csi.ManifestsTest.containers;
import static io.ferry.csi.ManifestsTest.describe;
import static io.ferry.csi.ManifestsTest.environment;
import static io.ferry.csi.ManifestsTest.ferryBinary;
import static io.ferry.csi.ManifestsTest.image;
import static io.ferry.csi.ManifestsTest.mountPath;
import static io.ferry.csi.ManifestsTest.named;
import static io.ferry.csi.ManifestsTest.podSpec;
import static io.ferry.csi.ManifestsTest.volume;
import static io.ferry.csi.ManifestsTest.workloads;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The least privilege of deploy/kubernetes (and so of the Helm chart, which {@link ChartTest} holds
 * equal to it): every container with resources and a security context, root and privileges only
 * where named, each Ferry component with its own etcd user and only that user's credentials, node
 * components with only the host paths their work needs, and namespaced permissions in a Role.
 */
class ManifestsHardeningTest {

    /** The only privileged containers, by workload and container: the ones that act on the host's devices and mounts. */
    static final Set<String> PRIVILEGED = Set.of("ferry-agent/ferry-agent", "ferry-csi-node/ferry-csi");

    /** Workloads none of whose containers needs root. */
    static final Set<String> NON_ROOT = Set.of("ferry-controller", "ferry-csi-controller", "ferry-etcd");

    /** The etcd user of each Ferry container, by workload (the agent's is per node). */
    static final Map<String, String> ETCD_USERS = Map.of(
            "ferry-controller", EtcdRoles.CONTROLLER,
            "ferry-csi-controller", EtcdRoles.CSI_CONTROLLER,
            "ferry-csi-node", EtcdRoles.CSI_NODE,
            "ferry-agent", EtcdRoles.agentRoleName(FIELDS.get("spec.nodeName")));

    /** Where the agent's password files live on each node: that node's own file only (docs/kubernetes.md). */
    static final String AGENT_CREDENTIALS_ON_THE_HOST = "/etc/ferry/agent-credentials";

    /** The host paths each node container may mount, with whether read-only: anything else is a new privilege. */
    static final Map<String, Map<String, Boolean>> HOST_PATHS = Map.of(
            "ferry-agent/ferry-agent", Map.of("/dev", false, "/sys/kernel/config", false, "/lib/modules", true,
                    "/etc/lvm", false, "/run/lvm", false, "/run/udev", true, "/etc/nvme", true, "/var/lib/ferry", false,
                    "/var/tmp", true, AGENT_CREDENTIALS_ON_THE_HOST, true),
            "ferry-csi-node/ferry-csi", Map.of("/var/lib/kubelet/plugins/" + Driver.NAME, false, "/var/lib/kubelet", false,
                    "/dev", false, "/var/lib/ferry", true, "/run/lvm", false, "/etc/lvm", true),
            "ferry-csi-node/node-driver-registrar", Map.of("/var/lib/kubelet/plugins/" + Driver.NAME, false,
                    "/var/lib/kubelet/plugins_registry", false),
            "ferry-csi-node/liveness-probe", Map.of("/var/lib/kubelet/plugins/" + Driver.NAME, false));

    @BeforeAll
    static void load() throws Exception {
        ManifestsTest.load();
    }

    static String id(JsonNode workload, JsonNode container) {
        return workload.path("metadata").path("name").asText() + "/" + container.path("name").asText();
    }

    /** Containers and init containers of a workload's pod. */
    static List<JsonNode> allContainers(JsonNode workload) {
        List<JsonNode> out = new ArrayList<>(containers(workload));
        podSpec(workload).path("initContainers").forEach(out::add);
        return out;
    }

    /**
     * Every container of the workload asks for CPU and memory and caps its memory, has a security
     * context, runs a pinned image, and unless it is one of {@link #PRIVILEGED} cannot gain
     * privileges, has no capabilities and a read-only root file system.
     */
    static void assertHardened(JsonNode workload) {
        for (JsonNode c : allContainers(workload)) {
            String what = describe(workload) + " " + c.path("name").asText();
            JsonNode resources = c.path("resources");
            assertThat(resources.path("requests").has("cpu")).as(what + " cpu request").isTrue();
            assertThat(resources.path("requests").has("memory")).as(what + " memory request").isTrue();
            assertThat(resources.path("limits").has("memory")).as(what + " memory limit").isTrue();
            String[] image = image(c);
            assertThat(image[1]).as(what + " image tag").isNotEmpty().isNotEqualTo("latest");
            JsonNode security = c.path("securityContext");
            assertThat(security.isObject()).as(what + " has a securityContext").isTrue();
            boolean privileged = security.path("privileged").asBoolean(false);
            assertThat(privileged).as(what + " privileged").isEqualTo(PRIVILEGED.contains(id(workload, c)));
            if (!privileged) {
                assertThat(security.path("allowPrivilegeEscalation").asBoolean(true)).as(what + " allowPrivilegeEscalation").isFalse();
                assertThat(security.path("readOnlyRootFilesystem").asBoolean(false)).as(what + " readOnlyRootFilesystem").isTrue();
                List<String> dropped = new ArrayList<>();
                security.path("capabilities").path("drop").forEach(d -> dropped.add(d.asText()));
                assertThat(dropped).as(what + " drops every capability").contains("ALL");
                assertThat(security.path("capabilities").has("add")).as(what + " adds no capability").isFalse();
            }
        }
        JsonNode pod = podSpec(workload);
        assertThat(pod.path("hostPID").asBoolean(false)).as(describe(workload) + " hostPID").isFalse();
        assertThat(pod.path("hostIPC").asBoolean(false)).as(describe(workload) + " hostIPC").isFalse();
    }

    /** The pod runs as a user other than root, and no container of it says otherwise. */
    static void assertNonRoot(JsonNode workload) {
        JsonNode pod = podSpec(workload).path("securityContext");
        assertThat(pod.path("runAsNonRoot").asBoolean(false)).as(describe(workload) + " runAsNonRoot").isTrue();
        assertThat(pod.path("runAsUser").asInt(0)).as(describe(workload) + " runAsUser").isPositive();
        for (JsonNode c : allContainers(workload)) {
            JsonNode own = c.path("securityContext");
            assertThat(own.path("runAsNonRoot").asBoolean(true)).as(describe(workload) + " " + c.path("name").asText()).isTrue();
            assertThat(own.path("runAsUser").asInt(1)).as(describe(workload) + " " + c.path("name").asText()).isPositive();
        }
    }

    @Test
    void everyContainerHasResourcesASecurityContextAndAPinnedImageAndOnlyTheNodeOnesArePrivileged() {
        Set<String> privileged = new HashSet<>();
        for (JsonNode w : workloads()) {
            assertHardened(w);
            for (JsonNode c : allContainers(w)) {
                if (c.path("securityContext").path("privileged").asBoolean(false)) {
                    privileged.add(id(w, c));
                }
            }
        }
        assertThat(privileged).as("every privileged container the list names exists").isEqualTo(PRIVILEGED);
    }

    @Test
    void theComponentsThatNeedNoRootRunAsAnotherUser() {
        for (String name : NON_ROOT) {
            JsonNode workload = workloads().stream().filter(w -> w.path("metadata").path("name").asText().equals(name))
                    .findFirst().orElseThrow(() -> new AssertionError("no workload " + name));
            assertNonRoot(workload);
        }
    }

    @Test
    void eachFerryComponentHasItsOwnEtcdUserAndMountsOnlyThatUsersCredentials(@TempDir Path dir) throws Exception {
        Map<String, String> secretOwners = new TreeMap<>();
        for (JsonNode w : workloads()) {
            String workload = w.path("metadata").path("name").asText();
            List<String> secrets = new ArrayList<>();
            podSpec(w).path("volumes").forEach(v -> {
                if (v.has("secret")) {
                    secrets.add(v.path("secret").path("secretName").asText());
                }
            });
            assertThat(secrets).as(describe(w) + ": no Secret of ferry-admin or root is mounted anywhere")
                    .noneMatch(s -> s.contains("admin") || s.contains("root"));
            for (JsonNode c : allContainers(w)) {
                String what = describe(w) + " " + c.path("name").asText();
                if (ferryBinary(c) == null) {
                    assertThat(mountPath(c, "etcd-credentials")).as(what + ": a sidecar gets no etcd credentials").isNull();
                    assertThat(mountPath(c, "etcd-tls")).as(what + ": a sidecar gets no etcd client files").isNull();
                    continue;
                }
                String user = ETCD_USERS.get(workload);
                assertThat(user).as(what + ": the test knows its etcd user").isNotNull();
                Map<String, String> env = environment(c);
                assertThat(env).as(what).containsEntry("FERRY_ETCD_USER", user).containsEntry("FERRY_ETCD_CREDENTIALS_OPTIONAL", "true");
                String file = env.get("FERRY_ETCD_PASSWORD_FILE");
                String mounted = mountPath(c, "etcd-credentials");
                assertThat(mounted).as(what + " mounts its credentials").isNotNull();
                assertThat(file).as(what + ": the password file is in its credentials mount").startsWith(mounted + "/");
                JsonNode credentials = volume(w, "etcd-credentials");
                if (workload.equals("ferry-agent")) {
                    // One DaemonSet for every node: the node's own file on the host, named by its user.
                    assertThat(credentials.path("hostPath").path("path").asText()).isEqualTo(AGENT_CREDENTIALS_ON_THE_HOST);
                    assertThat(Path.of(file).getFileName().toString()).as(what).isEqualTo(user + ".password");
                } else {
                    JsonNode secret = credentials.path("secret");
                    String name = secret.path("secretName").asText();
                    assertThat(name).as(what + ": its Secret is named for its user").isEqualTo("ferry-etcd-" + user.substring("ferry-".length()));
                    assertThat(secret.path("optional").asBoolean()).as(what + ": optional, for an etcd without authentication").isTrue();
                    assertThat(secret.path("defaultMode").asInt(0644) & 0007).as(what + ": not readable by others").isZero();
                    assertThat(secretOwners.put(name, workload)).as(name + " mounted by two workloads").isNull();
                    assertThat(secrets).as(what + ": the only Secrets it mounts are its own and the TLS files")
                            .containsExactlyInAnyOrder(name, "ferry-etcd-tls");
                }

                // The binary's own reading: with the file it is its user, without it no user (no authentication).
                Map<String, String> relocated = new HashMap<>(env);
                Path copy = dir.resolve(workload + "-" + c.path("name").asText() + ".password");
                relocated.put("FERRY_ETCD_PASSWORD_FILE", copy.toString());
                assertThat(EtcdOptions.fromEnvironment(relocated).user()).as(what + " without its file").isNull();
                Files.writeString(copy, "not-a-real-password\n");
                assertThat(EtcdOptions.fromEnvironment(relocated).user()).as(what + " with its file").isEqualTo(user);
            }
        }
        assertThat(secretOwners.keySet()).containsExactlyInAnyOrder("ferry-etcd-controller", "ferry-etcd-csi-controller",
                "ferry-etcd-csi-node");
    }

    @Test
    void nodeComponentsMountOnlyTheHostPathsTheirWorkNeeds() {
        Set<String> seen = new HashSet<>();
        for (JsonNode w : workloads()) {
            for (JsonNode c : allContainers(w)) {
                String what = describe(w) + " " + c.path("name").asText();
                Map<String, Boolean> mounted = new TreeMap<>();
                for (JsonNode m : c.path("volumeMounts")) {
                    JsonNode hostPath = podVolume(w, m.path("name").asText()).path("hostPath");
                    if (!hostPath.isMissingNode()) {
                        mounted.put(hostPath.path("path").asText(), m.path("readOnly").asBoolean(false));
                    }
                }
                Map<String, Boolean> allowed = HOST_PATHS.getOrDefault(id(w, c), Map.of());
                assertThat(mounted).as(what + " host paths (and read-only)").isEqualTo(new TreeMap<>(allowed));
                if (!allowed.isEmpty()) {
                    seen.add(id(w, c));
                }
            }
            // No host path volume is left unmounted in the pod either.
            podSpec(w).path("volumes").forEach(v -> {
                if (v.has("hostPath")) {
                    assertThat(allContainers(w)).as(describe(w) + " mounts host volume " + v.path("name").asText())
                            .anySatisfy(c -> assertThat(mountPath(c, v.path("name").asText())).isNotNull());
                }
            });
        }
        assertThat(seen).isEqualTo(HOST_PATHS.keySet());
    }

    /** A volume of the pod, or a missing node for a StatefulSet's claim template. */
    static JsonNode podVolume(JsonNode workload, String name) {
        for (JsonNode v : podSpec(workload).path("volumes")) {
            if (v.path("name").asText().equals(name)) {
                return v;
            }
        }
        return MissingNode.getInstance();
    }

    @Test
    void theCsiControllersNamespaceLocalPermissionsAreInARoleNotInTheClusterRole() {
        JsonNode clusterRole = named("ClusterRole", "ferry-csi-controller");
        JsonNode role = named("Role", "ferry-csi-controller");
        Map<String, String> local = Map.of("leases", "coordination.k8s.io", "csistoragecapacities", "storage.k8s.io",
                "replicasets", "apps");
        local.forEach((resource, group) -> {
            assertThat(ManifestsTest.grants(role, group, resource, "get")).as("Role grants " + resource).isTrue();
            for (String verb : List.of("get", "list", "watch", "create", "update", "patch", "delete")) {
                assertThat(ManifestsTest.grants(clusterRole, group, resource, verb))
                        .as("the ClusterRole grants " + verb + " " + resource + " in every namespace").isFalse();
            }
        });
        Set<String> inRole = new HashSet<>();
        role.path("rules").forEach(r -> r.path("resources").forEach(x -> inRole.add(x.asText())));
        assertThat(inRole).as("the Role holds only what the sidecars do in their own namespace").isEqualTo(local.keySet());
        assertThat(ManifestsTest.namespacedRolesOf("ferry-csi-controller")).containsExactly(role);
    }
}
