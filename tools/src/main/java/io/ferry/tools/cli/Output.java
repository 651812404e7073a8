package io.ferry.tools.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import com.fasterxml.jackson.annotation.JsonInclude;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;

/** Prints results as an aligned table (for people) or as JSON / YAML (for scripts). */
final class Output {

    enum Format { table, json, yaml }

    private static final ObjectMapper JSON = JsonMapper.builder().addModule(new JavaTimeModule())
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS).enable(SerializationFeature.INDENT_OUTPUT)
            .serializationInclusion(JsonInclude.Include.NON_NULL).build();
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory().disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER))
            .registerModule(new JavaTimeModule()).disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
            .setSerializationInclusion(JsonInclude.Include.NON_NULL);

    private final PrintWriter out;
    private final Format format;

    Output(PrintWriter out, Format format) {
        this.out = out;
        this.format = format;
    }

    Format format() {
        return format;
    }

    /** Prints rows: a table of the given columns, or the full objects as JSON/YAML. */
    void rows(List<String> headers, List<List<String>> cells, Object structured) {
        switch (format) {
            case json -> structured(structured);
            case yaml -> structured(structured);
            case table -> table(headers, cells);
        }
    }

    void structured(Object value) {
        try {
            out.println(format == Format.yaml ? YAML.writeValueAsString(value).stripTrailing() : JSON.writeValueAsString(value));
        } catch (Exception e) {
            throw new CliException(ExitCodes.FAILED, "cannot print the result: " + e.getMessage());
        }
        out.flush();
    }

    void line(String text) {
        out.println(text);
        out.flush();
    }

    private void table(List<String> headers, List<List<String>> cells) {
        List<List<String>> all = new ArrayList<>();
        all.add(headers);
        all.addAll(cells);
        int[] widths = new int[headers.size()];
        for (List<String> row : all) {
            for (int i = 0; i < row.size(); i++) {
                widths[i] = Math.max(widths[i], String.valueOf(row.get(i)).length());
            }
        }
        for (List<String> row : all) {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < row.size(); i++) {
                String cell = String.valueOf(row.get(i));
                sb.append(cell);
                if (i < row.size() - 1) {
                    sb.append(" ".repeat(widths[i] - cell.length() + 2));
                }
            }
            out.println(sb.toString().stripTrailing());
        }
        out.flush();
    }
}
