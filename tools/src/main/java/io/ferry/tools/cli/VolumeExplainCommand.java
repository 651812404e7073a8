package io.ferry.tools.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.ferry.model.Names;
import java.io.IOException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

@Command(name = "explain", description = "Ask the controller why a volume goes (or cannot go) where it does.")
final class VolumeExplainCommand extends Base {
    @Parameters(index = "0")
    String name;

    @Override
    public Integer call() throws Exception {
        Names.volumeName(name);
        String admin = root().adminUrl();
        URI uri;
        try {
            uri = URI.create(admin + "/api/v1/volumes/" + name + "/explain");
        } catch (IllegalArgumentException e) {
            throw new CliException(ExitCodes.USAGE, "--admin " + admin + " is not a URL such as http://127.0.0.1:7360");
        }
        HttpResponse<String> response;
        try {
            HttpRequest.Builder request = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10));
            String token = root().adminToken();
            if (token != null) {
                request.header("Authorization", "Bearer " + token);
            }
            response = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()
                    .send(request.build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new CliException(ExitCodes.FAILED, "cannot reach the controller's admin API at " + admin
                    + " (" + e.getMessage() + "); set --admin or FERRY_ADMIN");
        }
        if (response.statusCode() == 404) {
            throw new CliException(ExitCodes.NOT_FOUND, "no volume named " + name);
        }
        if (response.statusCode() == 400) {
            throw new CliException(ExitCodes.REFUSED, "the controller cannot explain volume " + name + ": " + response.body());
        }
        if (response.statusCode() == 401 || response.statusCode() == 403) {
            throw new CliException(ExitCodes.FAILED, "the controller's admin API at " + admin + " refused the request ("
                    + response.statusCode() + "); a controller started with an admin token needs it here too:"
                    + " --admin-token-file or FERRY_ADMIN_TOKEN_FILE");
        }
        if (response.statusCode() != 200) {
            throw new CliException(ExitCodes.FAILED, "the controller answered " + response.statusCode() + ": " + response.body());
        }
        var tree = new ObjectMapper().readTree(response.body());
        if (out().format() != Output.Format.table) {
            out().structured(tree);
            return ExitCodes.OK;
        }
        out().line(tree.path("summary").asText() + (tree.has("placedOn") ? "; placed on " + tree.path("placedOn").path("pool").asText() : ""));
        if (tree.has("recorded")) {
            // What the controller last wrote (typed), beside what it would decide now.
            var recorded = tree.path("recorded");
            out().line("recorded: " + recorded.path("reason").asText() + (recorded.hasNonNull("message")
                    ? " (" + recorded.path("message").asText() + ")" : ""));
        }
        List<List<String>> cells = new ArrayList<>();
        for (var pool : tree.path("pools")) {
            cells.add(List.of(pool.path("pool").asText(), pool.path("node").asText(),
                    pool.path("passed").asBoolean() ? "fits" : pool.path("failed").asText(),
                    pool.has("score") ? pool.path("score").asText() : "-", size(pool.path("freeBytes").asLong())));
        }
        out().rows(List.of("POOL", "NODE", "VERDICT", "SCORE", "FREE"), cells, tree);
        return ExitCodes.OK;
    }
}
