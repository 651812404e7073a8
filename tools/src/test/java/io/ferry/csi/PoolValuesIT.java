package io.ferry.csi;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.ferry.etcd.testing.EtcdExtension;
import io.ferry.tools.cli.ExitCodes;
import io.ferry.tools.cli.FerryCtl;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The Helm chart's pool Job, run for real: the ferryctl arguments its init containers get from the
 * values (rendered by the csi module's ChartRenderer) against a real etcd, as every install and
 * upgrade runs them. In the csi package to reuse its chart test helpers.
 */
class PoolValuesIT {

    @RegisterExtension
    static final EtcdExtension etcd = new EtcdExtension();

    record Run(int code, String out, String err) {
    }

    static Run ferryctl(Map<String, String> env, List<String> args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = FerryCtl.run(args.toArray(String[]::new), env, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Run(code, out.toString(), err.toString());
    }

    static List<List<String>> jobArgs(ChartRenderer renderer, Map<String, Object> values) throws Exception {
        return ChartTest.poolJobArgs(ChartTest.render(renderer, ChartRenderer.merge(renderer.defaultValues(), values)));
    }

    @Test
    void theJobDeclaresEveryPoolOnceLeavesThemAsTheyAreWhenRunAgainAndOverwritesOnlyWhereTheValuesSayReplace() throws Exception {
        ChartRenderer renderer = new ChartRenderer(Path.of(System.getProperty("ferry.deploy.dir", "../deploy/kubernetes"))
                .resolve("../helm/ferry"));
        Map<String, String> env = Map.of("FERRY_ETCD_ENDPOINTS", etcd.endpoint(), "FERRY_PREFIX", EtcdExtension.uniquePrefix());

        List<List<String>> install = jobArgs(renderer, ChartTest.twoPools());
        assertThat(install).hasSize(2);
        for (List<String> args : install) {
            Run r = ferryctl(env, args);
            assertThat(r.code()).as("%s", r).isZero();
            assertThat(r.out()).contains("pool " + args.get(2) + " added on node");
        }
        // helm upgrade with the same values: nothing changes.
        for (List<String> args : install) {
            Run r = ferryctl(env, args);
            assertThat(r.code()).as("%s", r).isZero();
            assertThat(r.out()).contains("pool " + args.get(2) + " unchanged");
        }
        JsonNode pools = new ObjectMapper().readTree(ferryctl(env, List.of("pool", "ls", "-o", "json")).out());
        assertThat(pools.findValuesAsText("pool")).containsExactly("files-1", "thin-2");
        JsonNode files = pools.get(0).path("config");
        assertThat(files.path("source").path("directory").asText()).isEqualTo("/srv/ferry");
        assertThat(files.path("labels").path("rack").asText()).isEqualTo("r1");
        assertThat(files.path("labels").path("media").asText()).isEqualTo("ssd");
        assertThat(pools.get(1).path("config").path("engine").asText()).isEqualTo("lvm-thin");

        // An upgrade that changes both: thin-2 says replace and is overwritten; files-1 does not, and
        // the Job stops on it with ferryctl's conflict (exit 4) instead of overwriting an operator's change.
        Map<String, Object> changed = ChartTest.map("pools", List.of(
                ChartTest.map("name", "files-1", "node", "node-1", "engine", "file", "directory", "/srv/other"),
                ChartTest.map("name", "thin-2", "node", "node-2", "engine", "lvm-thin", "vg", "ferry", "thinPool", "thin",
                        "reserved", "20Gi", "replace", true)));
        List<List<String>> upgrade = jobArgs(renderer, changed);
        Run conflict = ferryctl(env, upgrade.get(0));
        assertThat(conflict.code()).as("%s", conflict).isEqualTo(ExitCodes.CONFLICT);
        assertThat(conflict.err()).contains("pool files-1 exists with other settings");
        Run replaced = ferryctl(env, upgrade.get(1));
        assertThat(replaced.code()).as("%s", replaced).isZero();
        assertThat(replaced.out()).contains("pool thin-2 replaced");

        // A bad name in the values fails its init container with ferryctl's usage error, naming it.
        List<List<String>> bad = jobArgs(renderer, ChartTest.map("pools", List.of(
                ChartTest.map("name", "Bad_Pool", "node", "node-1", "engine", "file", "directory", "/srv/x"))));
        Run refused = ferryctl(env, bad.get(0));
        assertThat(refused.code()).isEqualTo(ExitCodes.USAGE);
        assertThat(refused.err()).contains("Bad_Pool");
    }
}
