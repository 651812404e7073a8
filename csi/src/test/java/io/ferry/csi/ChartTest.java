package io.ferry.csi;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.util.function.Predicate;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The Helm chart (deploy/helm/ferry) renders, with its defaults, exactly the objects of
 * deploy/kubernetes, which {@link ManifestsTest} holds to the binaries. helm itself is not
 * available here, so {@link ChartRenderer} renders the small part of the template language the
 * chart is allowed to use and refuses the rest.
 */
class ChartTest {

    static final String NAMESPACE = ManifestsTest.NAMESPACE;
    static Path manifests;
    static Path chartDir;

    @BeforeAll
    static void paths() {
        manifests = Path.of(System.getProperty("ferry.deploy.dir", "../deploy/kubernetes"));
        chartDir = manifests.resolve("../helm/ferry");
    }

    /** Objects by "Kind namespace/name", from the manifest files the filter accepts. */
    static Map<String, JsonNode> manifestObjects(Predicate<Path> files) throws Exception {
        Map<String, JsonNode> out = new TreeMap<>();
        for (Map.Entry<JsonNode, Path> doc : ManifestsTest.readAll(manifests)) {
            if (files.test(manifests.relativize(doc.getValue()))) {
                put(out, doc.getKey(), doc.getValue().toString());
            }
        }
        return out;
    }

    static void put(Map<String, JsonNode> out, JsonNode doc, String source) {
        String key = doc.path("kind").asText() + " " + doc.path("metadata").path("namespace").asText("") + "/"
                + doc.path("metadata").path("name").asText();
        assertThat(out.put(key, doc)).as(key + " twice (" + source + ")").isNull();
    }

    static Map<String, JsonNode> render(ChartRenderer renderer, Map<String, Object> values) throws Exception {
        Map<String, JsonNode> out = new TreeMap<>();
        ObjectMapper yaml = new YAMLMapper();
        for (Map.Entry<String, String> file : renderer.renderAll(values, NAMESPACE).entrySet()) {
            try (var parser = new YAMLFactory().createParser(file.getValue())) {
                for (Iterator<JsonNode> it = yaml.readValues(parser, JsonNode.class); it.hasNext(); ) {
                    JsonNode doc = it.next();
                    if (doc != null && !doc.isNull() && !doc.isEmpty()) {
                        put(out, doc, "templates/" + file.getKey());
                    }
                }
            }
        }
        return out;
    }

    /** Same objects, and each the same, naming the first field that differs. */
    static void assertSameObjects(Map<String, JsonNode> rendered, Map<String, JsonNode> expected) {
        assertThat(rendered.keySet()).as("objects the chart renders").containsExactlyElementsOf(expected.keySet());
        expected.forEach((key, want) -> {
            String difference = firstDifference("", rendered.get(key), want);
            assertThat(difference).as(key + ": chart vs deploy/kubernetes").isNull();
        });
    }

    static String firstDifference(String at, JsonNode got, JsonNode want) {
        if (got.equals(want)) {
            return null;
        }
        if (got.isObject() && want.isObject()) {
            Set<String> names = new TreeSet<>();
            got.fieldNames().forEachRemaining(names::add);
            want.fieldNames().forEachRemaining(names::add);
            for (String name : names) {
                String d = firstDifference(at + "/" + name, got.path(name), want.path(name));
                if (d != null) {
                    return d;
                }
            }
        }
        if (got.isArray() && want.isArray() && got.size() == want.size()) {
            for (int i = 0; i < got.size(); i++) {
                String d = firstDifference(at + "/" + i, got.get(i), want.get(i));
                if (d != null) {
                    return d;
                }
            }
        }
        return at + ": chart " + got + ", manifests " + want;
    }

    static boolean base(Path relative) {
        return relative.getNameCount() == 1;
    }

    static boolean trialEtcd(Path relative) {
        return relative.startsWith("etcd");
    }

    static Map<String, Object> map(Object... keyValues) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < keyValues.length; i += 2) {
            m.put((String) keyValues[i], keyValues[i + 1]);
        }
        return m;
    }

    // ---------------------------------------------------------------------------------------------

    @Test
    void withItsDefaultsTheChartRendersExactlyTheManifestsAndTheTrialEtcd() throws Exception {
        ChartRenderer renderer = new ChartRenderer(chartDir);
        Map<String, JsonNode> expected = manifestObjects(p -> base(p) || p.startsWith("etcd/"));
        assertSameObjects(render(renderer, ChartRenderer.merge(renderer.defaultValues(), map("createNamespace", true))), expected);
        // helm install --create-namespace makes the namespace itself: by default the chart does not.
        expected.remove("Namespace /" + NAMESPACE);
        assertSameObjects(render(renderer, renderer.defaultValues()), expected);
    }

    /** Two pools as an operator would declare them; PoolValuesIT (tools) runs the rendered Job's ferryctl calls for real. */
    static Map<String, Object> twoPools() {
        return map("pools", List.of(
                map("name", "files-1", "node", "node-1", "engine", "file", "directory", "/srv/ferry", "prepare", true,
                        "labels", map("rack", "r1", "media", "ssd")),
                map("name", "thin-2", "node", "node-2", "engine", "lvm-thin", "vg", "ferry", "thinPool", "thin",
                        "reserved", "10Gi", "replace", true)));
    }

    /** The ferryctl arguments of the pool Job's init containers, in order. */
    static List<List<String>> poolJobArgs(Map<String, JsonNode> rendered) {
        JsonNode job = rendered.get("Job " + NAMESPACE + "/ferry-pools");
        assertThat(job).as("the pool Job").isNotNull();
        List<List<String>> out = new ArrayList<>();
        for (JsonNode c : job.path("spec").path("template").path("spec").path("initContainers")) {
            List<String> args = new ArrayList<>();
            c.path("args").forEach(a -> args.add(a.asText()));
            out.add(args);
        }
        return out;
    }

    @Test
    void poolsInTheValuesBecomeAHookJobThatAddsEachPoolWithFerryctlInOrder() throws Exception {
        ChartRenderer renderer = new ChartRenderer(chartDir);
        assertThat(render(renderer, renderer.defaultValues()).keySet()).as("no pools, no Job").noneMatch(k -> k.startsWith("Job "));
        Map<String, JsonNode> rendered = render(renderer, ChartRenderer.merge(renderer.defaultValues(), twoPools()));
        JsonNode job = rendered.get("Job " + NAMESPACE + "/ferry-pools");
        assertThat(job.path("metadata").path("annotations").path("helm.sh/hook").asText()).isEqualTo("post-install,post-upgrade");
        assertThat(poolJobArgs(rendered)).containsExactly(
                List.of("pool", "add", "files-1", "--directory", "/srv/ferry", "--prepare", "--label", "media=ssd",
                        "--label", "rack=r1", "--node", "node-1", "--engine", "file"),
                List.of("pool", "add", "thin-2", "--vg", "ferry", "--thin-pool", "thin", "--reserved", "10Gi", "--replace",
                        "--node", "node-2", "--engine", "lvm-thin"));
        JsonNode spec = job.path("spec").path("template").path("spec");
        assertThat(spec.path("initContainers").get(0).path("name").asText()).isEqualTo("pool-files-1");
        assertThat(spec.path("initContainers").get(0).path("image").asText()).isEqualTo("ghcr.io/ferry-storage/ferry-tools:0.1.0-SNAPSHOT");
        assertThat(spec.path("containers").get(0).path("args").toString()).isEqualTo("[\"pool\",\"ls\"]");
        assertThat(spec.path("automountServiceAccountToken").asBoolean(true)).isFalse();
        assertThat(spec.path("initContainers").get(1).path("envFrom").get(0).path("configMapRef").path("name").asText())
                .isEqualTo("ferry-etcd");
    }

    @Test
    void theTlsOptionRendersTheManifestsTlsConfigMapInsteadOfTheTrialEtcd() throws Exception {
        ChartRenderer renderer = new ChartRenderer(chartDir);
        Map<String, JsonNode> expected = manifestObjects(p -> base(p) || p.equals(Path.of("etcd-tls/config.yaml")));
        expected.remove("Namespace /" + NAMESPACE);
        String endpoints = expected.get("ConfigMap " + NAMESPACE + "/ferry-etcd-tls").path("data").path("FERRY_ETCD_ENDPOINTS").asText();
        Map<String, Object> values = ChartRenderer.merge(renderer.defaultValues(), map("etcd",
                map("trial", map("enabled", false), "tls", map("enabled", true, "endpoints", endpoints))));
        assertSameObjects(render(renderer, values), expected);
        // The chart never carries key material: the Secret is made with kubectl (docs/kubernetes.md).
        assertThat(render(renderer, values).keySet()).noneMatch(k -> k.startsWith("Secret "));
    }

    @Test
    void everyValueReachesTheObjects() throws Exception {
        ChartRenderer renderer = new ChartRenderer(chartDir);
        render(renderer, ChartRenderer.merge(renderer.defaultValues(), map("createNamespace", true)));
        render(renderer, ChartRenderer.merge(renderer.defaultValues(), map("etcd", map("trial", map("enabled", false),
                "endpoints", "http://etcd.example:2379", "tls", map("enabled", true, "endpoints", "https://etcd.example:2379")))));
        Set<String> unread = new TreeSet<>();
        leaves("", renderer.defaultValues(), unread);
        unread.removeIf(leaf -> renderer.valuesRead().stream().anyMatch(read -> leaf.equals(read) || leaf.startsWith(read + ".")));
        assertThat(unread).as("values no template reads").isEmpty();

        // And they land where they should.
        Map<String, Object> values = ChartRenderer.merge(renderer.defaultValues(), map(
                "images", map("ferryRepository", "registry.example/storage", "ferryTag", "1.2.3"),
                "etcd", map("endpoints", "http://etcd-a:2379,http://etcd-b:2379", "prefix", "/ferry-b", "trial", map("enabled", false)),
                "agent", map("nodeSelector", map("ferry.csi.io/storage-node", null, "node-role.example/storage", "yes")),
                "storageClasses", List.of(map("name", "fast", "fsType", "xfs", "parameters", map("engine", "lvm", "thin", "true")))));
        Map<String, JsonNode> objects = render(renderer, values);
        List<String> images = new ArrayList<>();
        objects.values().forEach(o -> o.path("spec").path("template").path("spec").path("containers")
                .forEach(c -> images.add(c.path("image").asText())));
        assertThat(images).contains("registry.example/storage/ferry-controller:1.2.3", "registry.example/storage/ferry-agent:1.2.3",
                "registry.example/storage/ferry-csi:1.2.3").noneMatch(i -> i.contains("ghcr.io"));
        assertThat(objects.get("ConfigMap " + NAMESPACE + "/ferry-etcd").path("data").path("FERRY_ETCD_ENDPOINTS").asText())
                .isEqualTo("http://etcd-a:2379,http://etcd-b:2379");
        assertThat(objects.get("ConfigMap " + NAMESPACE + "/ferry-etcd").path("data").path("FERRY_PREFIX").asText()).isEqualTo("/ferry-b");
        assertThat(objects.keySet()).noneMatch(k -> k.contains("/ferry-etcd-peers") || k.startsWith("StatefulSet"));
        assertThat(objects.get("DaemonSet " + NAMESPACE + "/ferry-agent").path("spec").path("template").path("spec").path("nodeSelector"))
                .isEqualTo(new ObjectMapper().valueToTree(map("node-role.example/storage", "yes")));
        JsonNode fast = objects.get("StorageClass /fast");
        assertThat(fast.path("parameters")).isEqualTo(new ObjectMapper().valueToTree(
                map("engine", "lvm", "thin", "true", "csi.storage.k8s.io/fstype", "xfs")));
        assertThat(objects.keySet()).filteredOn(k -> k.startsWith("StorageClass ")).containsExactly("StorageClass /fast");
        StorageClassParameters.parse(Map.of("engine", "lvm", "thin", "true", "csi.storage.k8s.io/fstype", "xfs"));
    }

    static void leaves(String prefix, Object value, Set<String> out) {
        if (value instanceof Map<?, ?> m && !m.isEmpty()) {
            m.forEach((k, v) -> leaves(prefix.isEmpty() ? (String) k : prefix + "." + k, v, out));
        } else {
            out.add(prefix);
        }
    }

    // --- The renderer itself ---------------------------------------------------------------------

    static ChartRenderer chart(Path dir, String template, String helpers) throws Exception {
        Files.createDirectories(dir.resolve("templates"));
        Files.writeString(dir.resolve("Chart.yaml"), "apiVersion: v2\nname: t\nversion: 0.0.1\nappVersion: \"9\"\n");
        Files.writeString(dir.resolve("values.yaml"), "a: x\nflag: false\nn: 3\nm: {b: 2, a: 1}\nl: [{k: p}, {k: q}]\nf: 1.5\nbig: 1000000\n");
        Files.writeString(dir.resolve("templates/t.yaml"), template);
        if (helpers != null) {
            Files.writeString(dir.resolve("templates/_h.tpl"), helpers);
        }
        return new ChartRenderer(dir);
    }

    static String renderOne(Path dir, String template, String helpers) throws Exception {
        ChartRenderer r = chart(dir, template, helpers);
        return r.renderAll(r.defaultValues(), "ns").get("t.yaml");
    }

    @Test
    void theRendererFollowsGoTemplatesForTheSubsetTheChartUses(@TempDir Path dir) throws Exception {
        assertThat(renderOne(dir, "v: {{ .Values.a }} {{ .Values.n }} {{ .Values.flag }} {{ .Release.Namespace }} {{ .Chart.AppVersion }}", null))
                .isEqualTo("v: x 3 false ns 9");
        // Trim markers eat the whitespace, newlines included, on their side only.
        assertThat(renderOne(dir, "a:\n  {{- if .Values.flag }}\n  yes\n  {{- else }}\n  no\n  {{- end }}\nb", null))
                .isEqualTo("a:\n  no\nb");
        assertThat(renderOne(dir, "{{ if .Values.missing }}1{{ else }}0{{ end }}", null)).isEqualTo("0");
        // Maps range in key order, lists in theirs; $ is the root inside a range.
        assertThat(renderOne(dir, "{{ range $k, $v := .Values.m }}{{ $k }}={{ $v }};{{ end }}", null)).isEqualTo("a=1;b=2;");
        assertThat(renderOne(dir, "{{ range .Values.l }}{{ .k }}{{ $.Values.a }},{{ end }}", null)).isEqualTo("px,qx,");
        assertThat(renderOne(dir, "<{{ include \"h\" . }}>", "{{/* doc */}}\n{{- define \"h\" -}}\n{{ .Values.a }}-{{ $.Values.n }}\n{{- end }}\n"))
                .isEqualTo("<x-3>");
    }

    @Test
    void theRendererRefusesWhatItDoesNotImplement(@TempDir Path dir) {
        for (String template : List.of("{{ .Values.a | quote }}", "{{ toYaml .Values.m }}", "{{ with .Values.m }}{{ .a }}{{ end }}",
                "{{ .Values.missing }}", "{{ .Values.m }}", "{{ .Values.f }}", "{{ .Values.big }}", "{{ if .Values.a }}x", "{{ end }}",
                "{{ range $v := .Values.l }}{{ end }}", "{{ include \"nope\" . }}", "{{ template \"h\" . }}", "{{ \"literal\" }}",
                "{{ if .Values.a }}{{ else if .Values.n }}{{ end }}", "{{ .Values.a.b }}", "{{ $x }}")) {
            assertThatThrownBy(() -> renderOne(dir, template, null)).as(template)
                    .isInstanceOf(ChartRenderer.UnsupportedTemplateException.class).hasMessageContaining("t.yaml");
        }
    }
}
