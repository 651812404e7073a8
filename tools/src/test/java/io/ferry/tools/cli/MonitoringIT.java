package io.ferry.tools.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.ferry.agent.Agent;
import io.ferry.agent.AgentOptions;
import io.ferry.cluster.LocalCluster;
import io.ferry.controller.Controller;
import io.ferry.controller.ControllerOptions;
import io.ferry.csi.ScratchDirectory;
import io.ferry.etcd.testing.Cleanup;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.runtime.admin.AdminOptions;
import io.ferry.runtime.exec.ProcessCommandRunner;
import io.ferry.runtime.informer.InformerOptions;
import io.ferry.runtime.reconcile.RuntimeOptions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The Grafana dashboard and the Prometheus alert rules of deploy/monitoring name only metrics,
 * labels and label values that a running controller and agent really export: the test starts
 * both on a real etcd, gives them a file pool, a volume and a refused volume, scrapes their
 * /metrics and checks every expression against what it got.
 */
class MonitoringIT {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    static final String NODE = "node-m";
    /** Labels Prometheus itself gives every scraped series. */
    static final Set<String> TARGET_LABELS = Set.of("instance", "job");
    static final Path MONITORING = Path.of(System.getProperty("ferry.monitoring.dir", "../deploy/monitoring"));

    String prefix;
    ScratchDirectory scratch;
    Path root;
    Map<String, String> env;
    LocalCluster cluster;

    @BeforeEach
    void setUp() throws Exception {
        prefix = EtcdExtension.uniquePrefix();
        scratch = ScratchDirectory.create("ferry-monitoring-it-", new ProcessCommandRunner());
        root = scratch.root();
        cluster = LocalCluster.on(etcd.options(prefix));
        env = new HashMap<>(Map.of("FERRY_ETCD_ENDPOINTS", etcd.endpoint(), "FERRY_PREFIX", prefix, "FERRY_NODE", NODE));
    }

    @AfterEach
    void tearDown() throws Exception {
        Cleanup cleanup = new Cleanup();
        cleanup.step(cluster::close);
        cleanup.step(scratch::close);
        cleanup.rethrow();
    }

    int ctl(String... args) {
        StringWriter out = new StringWriter();
        return FerryCtl.run(args, env, new PrintWriter(out, true), new PrintWriter(new StringWriter(), true));
    }

    // ---------------------------------------------------------------------------------------------

    /** Series scraped: metric name -> label name -> values seen. */
    record Scrape(Map<String, Map<String, Set<String>>> series) {
        boolean has(String metric) {
            return series.containsKey(metric);
        }

        Set<String> labels(String metric) {
            return series.getOrDefault(metric, Map.of()).keySet();
        }

        Set<String> values(String metric, String label) {
            return series.getOrDefault(metric, Map.of()).getOrDefault(label, Set.of());
        }
    }

    static final Pattern SAMPLE = Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(.*)})?\\s+\\S+.*");
    static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\"");

    static void parse(String text, Map<String, Map<String, Set<String>>> into) {
        for (String line : text.split("\n")) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            Matcher m = SAMPLE.matcher(line);
            assertThat(m.matches()).as("Prometheus sample line: " + line).isTrue();
            Map<String, Set<String>> labels = into.computeIfAbsent(m.group(1), k -> new TreeMap<>());
            if (m.group(3) != null) {
                Matcher l = LABEL.matcher(m.group(3));
                while (l.find()) {
                    labels.computeIfAbsent(l.group(1), k -> new HashSet<>()).add(l.group(2));
                }
            }
        }
    }

    static String get(String url) throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(url).isEqualTo(200);
        return r.body();
    }

    /** An expression of the dashboard or the rules, and where it comes from. */
    record Expression(String where, String expr, List<String> labelsShown) {
    }

    static final Pattern TEMPLATE_LABEL = Pattern.compile("\\{\\{\\s*(?:\\$labels\\.)?([a-zA-Z_][a-zA-Z0-9_]*)\\s*}}");

    static List<Expression> expressions() throws Exception {
        List<Expression> out = new ArrayList<>();
        JsonNode dashboard = new ObjectMapper().readTree(MONITORING.resolve("ferry-dashboard.json").toFile());
        collectPanels(dashboard.path("panels"), out);
        JsonNode rules = new YAMLMapper().readTree(MONITORING.resolve("ferry-alerts.yaml").toFile());
        for (JsonNode group : rules.path("groups")) {
            for (JsonNode rule : group.path("rules")) {
                List<String> shown = new ArrayList<>();
                rule.path("annotations").forEach(a -> shown.addAll(templateLabels(a.asText())));
                out.add(new Expression("rule " + rule.path("alert").asText(), rule.path("expr").asText(), shown));
            }
        }
        return out;
    }

    static void collectPanels(JsonNode panels, List<Expression> out) {
        for (JsonNode panel : panels) {
            for (JsonNode target : panel.path("targets")) {
                out.add(new Expression("panel " + panel.path("title").asText(), target.path("expr").asText(),
                        templateLabels(target.path("legendFormat").asText())));
            }
            collectPanels(panel.path("panels"), out);
        }
    }

    static List<String> templateLabels(String text) {
        List<String> out = new ArrayList<>();
        Matcher m = TEMPLATE_LABEL.matcher(text);
        while (m.find()) {
            if (!m.group(1).equals("value")) {
                out.add(m.group(1));
            }
        }
        return out;
    }

    static final Pattern METRIC = Pattern.compile("\\bferry_[a-z0-9_]+");
    static final Pattern SELECTOR = Pattern.compile("(ferry_[a-z0-9_]+)\\{([^}]*)}");
    static final Pattern GROUPING = Pattern.compile("\\b(?:by|without)\\s*\\(([^)]*)\\)");

    /** What in the expression does not exist in the scrape; empty when everything does. */
    static List<String> problems(Expression e, Scrape scrape) {
        List<String> problems = new ArrayList<>();
        Set<String> metrics = new HashSet<>();
        Matcher m = METRIC.matcher(e.expr());
        while (m.find()) {
            metrics.add(m.group());
            if (!scrape.has(m.group())) {
                problems.add(e.where() + ": no metric " + m.group());
            }
        }
        if (metrics.isEmpty()) {
            problems.add(e.where() + ": names no Ferry metric: " + e.expr());
        }
        Matcher s = SELECTOR.matcher(e.expr());
        while (s.find()) {
            Matcher l = LABEL.matcher(s.group(2));
            while (l.find()) {
                if (!scrape.labels(s.group(1)).contains(l.group(1))) {
                    problems.add(e.where() + ": " + s.group(1) + " has no label " + l.group(1));
                } else if (!scrape.values(s.group(1), l.group(1)).contains(l.group(2))) {
                    problems.add(e.where() + ": " + s.group(1) + " has no " + l.group(1) + "=\"" + l.group(2) + "\"");
                }
            }
        }
        List<String> used = new ArrayList<>(e.labelsShown());
        Matcher g = GROUPING.matcher(e.expr());
        while (g.find()) {
            for (String label : g.group(1).split(",")) {
                if (!label.isBlank()) {
                    used.add(label.strip());
                }
            }
        }
        for (String label : used) {
            if (!TARGET_LABELS.contains(label) && metrics.stream().noneMatch(metric -> scrape.labels(metric).contains(label))) {
                problems.add(e.where() + ": label " + label + " is on none of " + metrics);
            }
        }
        return problems;
    }

    // ---------------------------------------------------------------------------------------------

    @Test
    void everyMetricLabelAndValueTheDashboardAndTheAlertsUseIsExportedByARunningControllerAndAgent() throws Exception {
        Controller controller = cluster.startController(new ControllerOptions("ctl-monitoring", Duration.ofSeconds(3),
                AdminOptions.loopback(0), InformerOptions.defaults(), RuntimeOptions.defaults().withDelays(Duration.ofMillis(100),
                Duration.ofSeconds(2)), Duration.ofMinutes(5)));
        env.put("FERRY_ADMIN", controller.adminUrl());
        AgentOptions agentOptions = AgentOptions.defaults(NODE, "127.0.0.1", root.resolve("state"))
                .withHostNqnFile(root.resolve("no-hostnqn"))
                .withNvmetRoot(root.resolve("no-nvmet"))
                .withAdmin("127.0.0.1", 0)
                .withIntervals(Duration.ofSeconds(1), Duration.ofSeconds(2));
        Agent agent = new Agent(agentOptions, etcd.options(prefix), new ProcessCommandRunner());
        cluster.startAgent(agentOptions, agent);
        await().atMost(Duration.ofSeconds(15)).until(controller::isLeader);

        assertThat(ctl("pool", "add", "files", "--node", NODE, "--engine", "file", "--directory", root.resolve("pool").toString(),
                "--prepare")).isZero();
        assertThat(ctl("volume", "create", "vol-m", "--size", "16Mi", "--timeout", "60")).isZero();
        // Refused everywhere: the refusal counter gets its reason label.
        ctl("volume", "create", "vol-huge", "--size", "100Ti", "--timeout", "3");

        String controllerUrl = controller.adminUrl();
        String agentUrl = "http://127.0.0.1:" + agent.adminPort();
        Map<String, Map<String, Set<String>>> series = new TreeMap<>();
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
            series.clear();
            parse(get(controllerUrl + "/metrics"), series);
            parse(get(agentUrl + "/metrics"), series);
            Scrape scrape = new Scrape(series);
            assertThat(scrape.values("ferry_node_alive", "node")).contains(NODE);
            assertThat(scrape.values("ferry_controller_refusals_total", "reason")).isNotEmpty();
            assertThat(scrape.has("ferry_agent_pool_thin_data_percent")).isTrue();
        });
        Scrape scrape = new Scrape(series);
        // The gauges say what they should about this cluster.
        assertThat(get(controllerUrl + "/metrics")).contains("ferry_node_alive{node=\"" + NODE + "\"} 1.0")
                .contains("ferry_volumes{phase=\"Ready\"} 1.0").contains("ferry_volumes{phase=\"Lost\"} 0.0");

        List<Expression> expressions = expressions();
        assertThat(expressions).hasSizeGreaterThan(20);
        List<String> problems = new ArrayList<>();
        for (Expression e : expressions) {
            problems.addAll(problems(e, scrape));
        }
        assertThat(problems).as("dashboard and alert rules against the scraped metrics").isEmpty();

        // Each alert the issue asks for is there.
        assertThat(expressions.stream().map(Expression::where)).contains("rule FerryNoControllerLeader", "rule FerryNodeDown",
                "rule FerryPoolAboveWatermark", "rule FerryVolumeLost", "rule FerryVolumeFailed", "rule FerryEtcdWatchesFailing");

        // What FerryNodeDown reads: the agent gone, its node's gauge drops to 0 once its registration is.
        cluster.stopAgent(NODE);
        await().atMost(Duration.ofSeconds(60)).untilAsserted(() ->
                assertThat(get(controllerUrl + "/metrics")).contains("ferry_node_alive{node=\"" + NODE + "\"} 0.0"));
    }

    @Test
    void theCheckFindsAnUnknownMetricLabelOrValue() {
        Map<String, Map<String, Set<String>>> series = new TreeMap<>();
        parse("# TYPE ferry_volumes gauge\nferry_volumes{phase=\"Lost\"} 0.0\nferry_controller_leader 1.0\n", series);
        Scrape scrape = new Scrape(series);
        assertThat(problems(new Expression("ok", "max by (phase) (ferry_volumes{phase=\"Lost\"})", List.of("phase", "instance")), scrape))
                .isEmpty();
        assertThat(problems(new Expression("e", "ferry_volume_count", List.of()), scrape)).singleElement().asString().contains("no metric");
        assertThat(problems(new Expression("e", "ferry_volumes{state=\"Lost\"}", List.of()), scrape)).singleElement().asString()
                .contains("no label state");
        assertThat(problems(new Expression("e", "ferry_volumes{phase=\"Gone\"}", List.of()), scrape)).singleElement().asString()
                .contains("phase=\"Gone\"");
        assertThat(problems(new Expression("e", "sum by (node) (ferry_controller_leader)", List.of()), scrape)).singleElement().asString()
                .contains("label node");
        assertThat(problems(new Expression("e", "up == 0", List.of()), scrape)).singleElement().asString().contains("names no Ferry metric");
    }
}
