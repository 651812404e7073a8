package io.ferry.csi;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Renders the Ferry chart without the helm binary, which cannot be installed here. It implements
 * exactly the part of Helm's template language the chart uses, with Go's semantics for it, and
 * refuses everything else, so that a template using a function, a pipeline or {@code with} fails
 * the test instead of being rendered differently from Helm:
 * <ul>
 *   <li>{@code {{ .A.B }}}, {@code {{ $.A.B }}}, {@code {{ $var }}}, {@code {{ $var.A }}}: a string,
 *       boolean or an integer below a million; a missing key is an error here (Helm would print
 *       {@code <no value>});</li>
 *   <li>{@code {{ include "name" EXPR }}} of a {@code {{ define "name" }}} in a {@code _*.tpl} file;</li>
 *   <li>{@code {{ if EXPR }} ... {{ else }} ... {{ end }}} with Go's truth (a missing key is false);</li>
 *   <li>{@code {{ range EXPR }}} and {@code {{ range $k, $v := EXPR }}} over a list or a map (keys in
 *       sorted order, as Go does);</li>
 *   <li>{@code {{/* comments *}{@literal /}}}} and the trim markers {@code {{- } and { -}}}.</li>
 * </ul>
 */
final class ChartRenderer {

    /** A template the renderer cannot render as Helm would; names the file and line. */
    static final class UnsupportedTemplateException extends RuntimeException {
        UnsupportedTemplateException(String message) {
            super(message);
        }
    }

    private final Path chartDir;
    private final Map<String, Object> chart;
    private final Map<String, Object> defaultValues;
    private final Map<String, List<Node>> defines = new HashMap<>();
    /** Every path under .Values that a rendering read, as "a.b.c". */
    private final Set<String> valuesRead = new TreeSet<>();
    /** The root object of the rendering under way: paths from it are the ones valuesRead records. */
    private Object chartRoot;

    ChartRenderer(Path chartDir) throws IOException {
        this.chartDir = chartDir;
        YAMLMapper yaml = new YAMLMapper();
        this.chart = yaml.readValue(chartDir.resolve("Chart.yaml").toFile(), new TypeReference<LinkedHashMap<String, Object>>() { });
        this.defaultValues = yaml.readValue(chartDir.resolve("values.yaml").toFile(), new TypeReference<LinkedHashMap<String, Object>>() { });
        for (Path helper : templateFiles(true)) {
            for (Node node : parse(helper.getFileName().toString(), Files.readString(helper))) {
                if (!(node instanceof Define) && !(node instanceof Text t && t.text.isBlank())) {
                    throw new UnsupportedTemplateException(helper + ": only define blocks belong in a helper file");
                }
            }
        }
    }

    Map<String, Object> defaultValues() {
        return deepCopy(defaultValues);
    }

    Set<String> valuesRead() {
        return valuesRead;
    }

    /** The templates (not starting with "_") or the helpers, sorted by name. */
    List<Path> templateFiles(boolean helpers) throws IOException {
        try (Stream<Path> files = Files.list(chartDir.resolve("templates"))) {
            List<Path> out = new ArrayList<>();
            for (Path f : files.sorted().toList()) {
                String name = f.getFileName().toString();
                if (Files.isDirectory(f)) {
                    throw new UnsupportedTemplateException(f + ": subdirectories of templates/ are not rendered here");
                }
                if (name.startsWith("_") != helpers) {
                    continue;
                }
                if (!helpers && !name.endsWith(".yaml")) {
                    throw new UnsupportedTemplateException(f + ": only .yaml templates are rendered here");
                }
                out.add(f);
            }
            return out;
        }
    }

    /** Every template rendered with these values, by file name, in file order. */
    Map<String, String> renderAll(Map<String, Object> values, String namespace) throws IOException {
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("Values", values);
        root.put("Release", Map.of("Name", "ferry", "Namespace", namespace, "Service", "Helm"));
        Map<String, Object> chartFields = new LinkedHashMap<>();
        chart.forEach((k, v) -> chartFields.put(Character.toUpperCase(k.charAt(0)) + k.substring(1), v));
        root.put("Chart", chartFields);
        Map<String, String> out = new LinkedHashMap<>();
        for (Path template : templateFiles(false)) {
            String name = template.getFileName().toString();
            StringBuilder text = new StringBuilder();
            chartRoot = root;
            Scope scope = new Scope(root, root, new HashMap<>());
            for (Node node : parse(name, Files.readString(template))) {
                node.render(scope, text);
            }
            out.put(name, text.toString());
        }
        return out;
    }

    /** Values with the overrides merged in, maps key by key, a null removing the key (as helm's -f does). */
    static Map<String, Object> merge(Map<String, Object> values, Map<String, Object> overrides) {
        Map<String, Object> out = deepCopy(values);
        overrides.forEach((k, v) -> {
            if (v == null) {
                out.remove(k);
            } else if (v instanceof Map<?, ?> m && out.get(k) instanceof Map<?, ?> existing) {
                out.put(k, merge(cast(existing), cast(m)));
            } else {
                out.put(k, v);
            }
        });
        return out;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> cast(Map<?, ?> m) {
        return (Map<String, Object>) m;
    }

    @SuppressWarnings("unchecked")
    private static <T> T deepCopy(T value) {
        if (value instanceof Map<?, ?> m) {
            Map<String, Object> copy = new LinkedHashMap<>();
            m.forEach((k, v) -> copy.put((String) k, deepCopy(v)));
            return (T) copy;
        }
        if (value instanceof List<?> l) {
            List<Object> copy = new ArrayList<>();
            l.forEach(v -> copy.add(deepCopy(v)));
            return (T) copy;
        }
        return value;
    }

    // --- Parsing ---------------------------------------------------------------------------------

    private record Token(String text, String action, String file, int line) {
        boolean isAction() {
            return action != null;
        }
    }

    private static final Pattern ACTION = Pattern.compile("\\{\\{(.*?)}}", Pattern.DOTALL);

    /** Text and actions, with the trim markers applied to the text around them. */
    private static List<Token> tokenize(String file, String source) {
        List<Token> tokens = new ArrayList<>();
        Matcher m = ACTION.matcher(source);
        int at = 0;
        boolean trimNext = false;
        while (m.find()) {
            String text = source.substring(at, m.start());
            String body = m.group(1);
            int line = 1 + (int) source.substring(0, m.start()).chars().filter(c -> c == '\n').count();
            if (trimNext) {
                text = text.stripLeading();
            }
            boolean trimLeft = body.startsWith("- ") || body.startsWith("-\n") || body.startsWith("-\t");
            boolean trimRight = body.endsWith(" -") || body.endsWith("\n-") || body.endsWith("\t-");
            if (trimLeft) {
                text = text.stripTrailing();
                body = body.substring(1);
            }
            if (trimRight) {
                body = body.substring(0, body.length() - 1);
            }
            tokens.add(new Token(text, null, file, line));
            tokens.add(new Token(null, body.strip(), file, line));
            trimNext = trimRight;
            at = m.end();
        }
        String rest = source.substring(at);
        if (rest.contains("{{") || rest.contains("}}")) {
            throw new UnsupportedTemplateException(file + ": unbalanced {{ or }}");
        }
        tokens.add(new Token(trimNext ? rest.stripLeading() : rest, null, file, 0));
        return tokens;
    }

    private List<Node> parse(String file, String source) {
        List<Token> tokens = tokenize(file, source);
        int[] at = {0};
        List<Node> nodes = parseList(tokens, at, true);
        if (at[0] < tokens.size()) {
            Token t = tokens.get(at[0]);
            throw unsupported(t, "{{ " + t.action + " }} without its opening action");
        }
        return nodes;
    }

    private static final Pattern RANGE_VARS = Pattern.compile("range\\s+(\\$[A-Za-z_][A-Za-z0-9_]*)\\s*,\\s*(\\$[A-Za-z_][A-Za-z0-9_]*)\\s*:=\\s*(.+)");
    private static final Pattern INCLUDE = Pattern.compile("include\\s+\"([^\"]+)\"\\s+(\\S+)");
    private static final Pattern DEFINE = Pattern.compile("define\\s+\"([^\"]+)\"");

    /** Nodes up to an {{ end }} or {{ else }} (left for the caller at at[0]) or the end. */
    private List<Node> parseList(List<Token> tokens, int[] at, boolean topLevel) {
        List<Node> nodes = new ArrayList<>();
        while (at[0] < tokens.size()) {
            Token t = tokens.get(at[0]);
            if (!t.isAction()) {
                nodes.add(new Text(t.text));
                at[0]++;
                continue;
            }
            String a = t.action;
            if (a.equals("end") || a.equals("else")) {
                return nodes;
            }
            at[0]++;
            if (a.startsWith("/*")) {
                if (!a.endsWith("*/")) {
                    throw unsupported(t, "a comment must be {{/* ... */}}");
                }
                continue;
            }
            Matcher define = DEFINE.matcher(a);
            if (define.matches()) {
                if (!topLevel) {
                    throw unsupported(t, "define inside another block");
                }
                List<Node> body = parseList(tokens, at, false);
                expect(tokens, at, "end", t);
                defines.put(define.group(1), body);
                nodes.add(new Define());
                continue;
            }
            if (a.startsWith("if ")) {
                Expr cond = expr(a.substring(3).strip(), t);
                List<Node> then = parseList(tokens, at, false);
                List<Node> otherwise = List.of();
                if (at[0] < tokens.size() && "else".equals(tokens.get(at[0]).action)) {
                    at[0]++;
                    otherwise = parseList(tokens, at, false);
                }
                expect(tokens, at, "end", t);
                nodes.add(new If(cond, then, otherwise));
                continue;
            }
            if (a.startsWith("range ")) {
                Matcher vars = RANGE_VARS.matcher(a);
                Range range = vars.matches()
                        ? new Range(vars.group(1), vars.group(2), expr(vars.group(3).strip(), t), null, t)
                        : new Range(null, null, expr(a.substring(6).strip(), t), null, t);
                List<Node> body = parseList(tokens, at, false);
                if (at[0] < tokens.size() && "else".equals(tokens.get(at[0]).action)) {
                    throw unsupported(t, "range ... else");
                }
                expect(tokens, at, "end", t);
                nodes.add(new Range(range.key, range.value, range.over, body, t));
                continue;
            }
            Matcher include = INCLUDE.matcher(a);
            if (include.matches()) {
                nodes.add(new Include(include.group(1), expr(include.group(2), t), t));
                continue;
            }
            nodes.add(new Output(expr(a, t), t));
        }
        return nodes;
    }

    private static void expect(List<Token> tokens, int[] at, String action, Token opening) {
        if (at[0] >= tokens.size() || !action.equals(tokens.get(at[0]).action)) {
            throw unsupported(opening, "{{ " + opening.action + " }} has no {{ " + action + " }}");
        }
        at[0]++;
    }

    private static UnsupportedTemplateException unsupported(Token t, String what) {
        return new UnsupportedTemplateException(t.file + ":" + t.line + ": " + what + " (in {{ " + t.action + " }}); the chart's"
                + " templates keep to plain values, include, if/else and range (docs/kubernetes.md)");
    }

    private static final Pattern EXPR = Pattern.compile("(\\$[A-Za-z_][A-Za-z0-9_]*|\\$)?((?:\\.[A-Za-z_][A-Za-z0-9_]*)+|\\.)?");

    /** A variable and/or a field path: nothing else (no functions, pipelines, literals). */
    private static Expr expr(String text, Token t) {
        Matcher m = EXPR.matcher(text);
        if (text.isEmpty() || !m.matches()) {
            throw unsupported(t, "'" + text + "' is not a plain value reference");
        }
        String variable = m.group(1);
        String path = m.group(2);
        List<String> fields = path == null || path.equals(".") ? List.of() : List.of(path.substring(1).split("\\."));
        if (variable != null && ".".equals(path)) {
            throw unsupported(t, "'" + text + "' is not a plain value reference");
        }
        return new Expr(text, variable, fields, t);
    }

    // --- Evaluation ------------------------------------------------------------------------------

    private static final Object MISSING = new Object() {
        @Override
        public String toString() {
            return "<missing>";
        }
    };

    /** dot, $ and the variables of a range. */
    private record Scope(Object dot, Object root, Map<String, Object> vars) {
    }

    private record Expr(String text, String variable, List<String> fields, Token token) {
    }

    private Object eval(Expr e, Scope scope) {
        Object value;
        if (e.variable == null) {
            value = scope.dot;
        } else if (e.variable.equals("$")) {
            value = scope.root;
        } else {
            if (!scope.vars.containsKey(e.variable)) {
                throw unsupported(e.token, "undefined variable " + e.variable);
            }
            value = scope.vars.get(e.variable);
        }
        boolean fromRoot = value == chartRoot;
        StringBuilder path = new StringBuilder();
        for (String field : e.fields) {
            if (value == MISSING || value == null) {
                throw unsupported(e.token, "'" + e.text + "': nothing at " + path);
            }
            if (!(value instanceof Map<?, ?> map)) {
                throw unsupported(e.token, "'" + e.text + "': " + path + " is not a map");
            }
            value = map.containsKey(field) ? map.get(field) : MISSING;
            path.append(path.length() == 0 ? "" : ".").append(field);
        }
        if (fromRoot && path.toString().startsWith("Values.")) {
            valuesRead.add(path.substring("Values.".length()));
        }
        return value;
    }

    private static boolean truth(Object v) {
        if (v == null || v == MISSING) {
            return false;
        }
        if (v instanceof Boolean b) {
            return b;
        }
        if (v instanceof Number n) {
            return n.doubleValue() != 0;
        }
        if (v instanceof String s) {
            return !s.isEmpty();
        }
        if (v instanceof Map<?, ?> m) {
            return !m.isEmpty();
        }
        if (v instanceof List<?> l) {
            return !l.isEmpty();
        }
        throw new IllegalStateException("unexpected value " + v.getClass());
    }

    private interface Node {
        void render(Scope scope, StringBuilder out);
    }

    private record Text(String text) implements Node {
        @Override
        public void render(Scope scope, StringBuilder out) {
            out.append(text);
        }
    }

    private record Define() implements Node {
        @Override
        public void render(Scope scope, StringBuilder out) {
        }
    }

    private final class Output implements Node {
        final Expr expr;
        final Token token;

        Output(Expr expr, Token token) {
            this.expr = expr;
            this.token = token;
        }

        @Override
        public void render(Scope scope, StringBuilder out) {
            Object v = eval(expr, scope);
            if (v == MISSING || v == null) {
                throw unsupported(token, "'" + expr.text + "' has no value (Helm would print <no value>)");
            }
            if (v instanceof String || v instanceof Boolean) {
                out.append(v);
                return;
            }
            // Helm reads every number of values.yaml as a float64, which Go prints in exponent
            // form from a million on (1e+06): only smaller integers print as they are written.
            if ((v instanceof Integer || v instanceof Long) && Math.abs(((Number) v).longValue()) < 1_000_000) {
                out.append(v);
                return;
            }
            // Go prints floats, maps and lists in its own formats; nothing in the chart needs them.
            throw unsupported(token, "'" + expr.text + "' is a " + v.getClass().getSimpleName() + ", not a string, integer or boolean");
        }
    }

    private final class If implements Node {
        final Expr cond;
        final List<Node> then;
        final List<Node> otherwise;

        If(Expr cond, List<Node> then, List<Node> otherwise) {
            this.cond = cond;
            this.then = then;
            this.otherwise = otherwise;
        }

        @Override
        public void render(Scope scope, StringBuilder out) {
            for (Node n : truth(eval(cond, scope)) ? then : otherwise) {
                n.render(scope, out);
            }
        }
    }

    private final class Range implements Node {
        final String key;
        final String value;
        final Expr over;
        final List<Node> body;
        final Token token;

        Range(String key, String value, Expr over, List<Node> body, Token token) {
            this.key = key;
            this.value = value;
            this.over = over;
            this.body = body;
            this.token = token;
        }

        @Override
        public void render(Scope scope, StringBuilder out) {
            Object collection = eval(over, scope);
            Map<Object, Object> items = new LinkedHashMap<>();
            if (collection instanceof List<?> list) {
                for (int i = 0; i < list.size(); i++) {
                    items.put(i, list.get(i));
                }
            } else if (collection instanceof Map<?, ?> map) {
                new TreeMap<>(map).forEach(items::put);
            } else {
                throw unsupported(token, "'" + over.text + "' is not a list or a map");
            }
            items.forEach((k, v) -> {
                Map<String, Object> vars = new HashMap<>(scope.vars);
                if (key != null) {
                    vars.put(key, k);
                    vars.put(value, v);
                }
                Scope inner = new Scope(v, scope.root, vars);
                for (Node n : body) {
                    n.render(inner, out);
                }
            });
        }
    }

    private final class Include implements Node {
        final String name;
        final Expr arg;
        final Token token;

        Include(String name, Expr arg, Token token) {
            this.name = name;
            this.arg = arg;
            this.token = token;
        }

        @Override
        public void render(Scope scope, StringBuilder out) {
            List<Node> body = defines.get(name);
            if (body == null) {
                throw unsupported(token, "no define \"" + name + "\"");
            }
            Object data = eval(arg, scope);
            // In the named template both dot and $ are the argument, as in Go.
            Scope inner = new Scope(data, data, new HashMap<>());
            for (Node n : body) {
                n.render(inner, out);
            }
        }
    }
}
