package io.ferry.tools.cli;

import io.ferry.tools.chaos.ChaosRun;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.Duration;

/**
 * {@code ferryctl bench chaos}: starts its own cluster (the global etcd options do not apply), runs the
 * workload under faults and checks the invariants; exit code 1 when any invariant was violated.
 */
@Command(name = "chaos", description = "Start a cluster of separate processes (3 etcd members, 2 controllers, 2 agents,"
        + " CSI) on this machine, run a workload while killing random components with SIGKILL, then check the"
        + " invariants. Needs root (loop devices). Exit code 1 when any invariant is violated.")
final class ChaosCommand extends Base {

    @Option(names = "--duration", defaultValue = "2m", description = "how long the workload runs under faults, e.g. 90s,"
            + " 10m, 1h (default: ${DEFAULT-VALUE})")
    String duration;
    @Option(names = "--workers", defaultValue = "3", description = "workload threads (default: ${DEFAULT-VALUE})")
    int workers;
    @Option(names = "--seed", description = "what the faults and patterns are drawn from (default: the clock);"
            + " printed, so a run can be repeated")
    Long seed;
    @Option(names = "--data-dir", description = "where the cluster lives (default: a new temporary directory)")
    Path dataDir;
    @Option(names = "--keep", description = "keep the data directory (etcd data, pools, logs) even without violations")
    boolean keep;
    @Option(names = "--deadline", defaultValue = "300", description = "seconds any one step, the convergence after the"
            + " faults and the final clean-up may take before it counts as stuck (default: ${DEFAULT-VALUE})")
    int deadlineSeconds;

    @Override
    public Integer call() throws Exception {
        if (workers < 1 || deadlineSeconds < 1) {
            throw new CliException(ExitCodes.USAGE, "--workers and --deadline must be at least 1");
        }
        ChaosRun.Options options = new ChaosRun.Options(parseDuration(duration), workers,
                seed != null ? seed : System.nanoTime(), dataDir, keep, Duration.ofSeconds(deadlineSeconds));
        ChaosRun.Result result = ChaosRun.run(options, root().out());
        return result.violations().isEmpty() ? ExitCodes.OK : ExitCodes.FAILED;
    }

    static Duration parseDuration(String text) {
        Matcher m = Pattern.compile("(\\d+)([smh]?)").matcher(text.trim());
        if (!m.matches()) {
            throw new CliException(ExitCodes.USAGE, "--duration must look like 90s, 10m or 1h, was " + text);
        }
        long n = Long.parseLong(m.group(1));
        Duration d = switch (m.group(2)) {
            case "m" -> Duration.ofMinutes(n);
            case "h" -> Duration.ofHours(n);
            default -> Duration.ofSeconds(n);
        };
        if (d.isZero()) {
            throw new CliException(ExitCodes.USAGE, "--duration must be more than 0");
        }
        return d;
    }
}
