package io.ferry.model;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The examples of docs/etcd-schema.md, read from the document itself so that tests and document
 * cannot drift apart. Each example is the code block after a {@code <!-- example: Type -->} marker;
 * for shell blocks the JSON is the single-quoted argument of etcdctl put.
 */
final class DocExamples {
    record Example(String type, String json, int line) {
        Class<?> typeClass() {
            try {
                return Class.forName("io.ferry.model." + type);
            } catch (ClassNotFoundException e) {
                throw new AssertionError("doc example at line " + line + " names unknown type " + type);
            }
        }

        @Override
        public String toString() {
            return type + " (etcd-schema.md line " + line + ")";
        }
    }

    private static final Pattern MARKER = Pattern.compile("<!-- example: (\\w+) -->");
    private static final Pattern PUT = Pattern.compile("etcdctl put \\S+ '([^']*)'");

    private DocExamples() {
    }

    static Path doc() {
        // Surefire runs in the module directory; the docs live beside it in the repository root.
        Path p = Path.of("..", "docs", "etcd-schema.md");
        if (!Files.exists(p)) {
            p = Path.of("docs", "etcd-schema.md");
        }
        return p;
    }

    static List<Example> all() {
        List<String> lines;
        try {
            lines = Files.readAllLines(doc(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<Example> out = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            Matcher m = MARKER.matcher(lines.get(i));
            if (!m.find()) {
                continue;
            }
            int start = i + 1;
            String fence = lines.get(start);
            if (!fence.startsWith("```")) {
                throw new AssertionError("example marker at line " + (i + 1) + " is not followed by a code block");
            }
            StringBuilder body = new StringBuilder();
            int j = start + 1;
            while (!lines.get(j).startsWith("```")) {
                body.append(lines.get(j)).append('\n');
                j++;
            }
            String json = body.toString();
            if (fence.equals("```sh")) {
                Matcher put = PUT.matcher(json);
                if (!put.find()) {
                    throw new AssertionError("shell example at line " + (i + 1) + " has no etcdctl put '...'");
                }
                json = put.group(1);
            }
            out.add(new Example(m.group(1), json, i + 1));
            i = j;
        }
        return out;
    }
}
