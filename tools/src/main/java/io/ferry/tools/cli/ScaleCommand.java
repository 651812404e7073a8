package io.ferry.tools.cli;

import io.ferry.model.Sizes;
import io.ferry.model.ValidationException;
import io.ferry.tools.bench.ScaleRun;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.time.Duration;
import java.util.Arrays;
import java.util.List;

/** {@code ferryctl bench scale}: see {@link ScaleRun}. It starts its own etcd; it needs no running cluster. */
@Command(name = "scale", description = "Run two real controllers and the CSI controller service against a local etcd of"
        + " their own with simulated agents; print etcd size, controller heap and CPU, failover, agent restart, node"
        + " plugin watch traffic and throughput, and check that every volume is placed and every ledger balances.")
final class ScaleCommand extends Base {

    @Option(names = "--nodes", defaultValue = "100", description = "simulated nodes, one pool each (default: ${DEFAULT-VALUE})")
    int nodes;
    @Option(names = "--volumes", defaultValue = "5000", description = "volumes provisioned and then deleted"
            + " (default: ${DEFAULT-VALUE})")
    int volumes;
    @Option(names = "--concurrency", defaultValue = "64", description = "CSI calls in flight (default: ${DEFAULT-VALUE})")
    int concurrency;
    @Option(names = "--restart-share", defaultValue = "10", description = "percent of the volumes placed on the node whose"
            + " agent is restarted (default: ${DEFAULT-VALUE})")
    int restartShare;
    @Option(names = "--lease-ttl", defaultValue = "10", description = "the controllers' leader lease in seconds, as"
            + " ferry-controller --lease-ttl (default: ${DEFAULT-VALUE}, the controller's own default)")
    int leaseTtl;
    @Option(names = "--size", defaultValue = "64Mi", description = "size of each volume (default: ${DEFAULT-VALUE})")
    String size;
    @Option(names = "--controller-jvm", defaultValue = "-Xmx4g -XX:+UseSerialGC", description = "JVM options of the two"
            + " controller processes (default: ${DEFAULT-VALUE})")
    String controllerJvm;
    @Option(names = "--steady", defaultValue = "10", description = "seconds over which the controllers' CPU is measured"
            + " once everything is provisioned (default: ${DEFAULT-VALUE})")
    int steady;
    @Option(names = "--step-timeout", defaultValue = "1800", description = "seconds any one step may take before the run"
            + " stops and reports it (default: ${DEFAULT-VALUE})")
    int stepTimeout;

    @Override
    public Integer call() throws Exception {
        ScaleRun.Options options;
        try {
            options = new ScaleRun.Options(nodes, volumes, concurrency, restartShare, leaseTtl, Sizes.parse(size),
                    controllerJvm.isBlank() ? List.of() : Arrays.asList(controllerJvm.trim().split("\\s+")),
                    steady, Duration.ofSeconds(stepTimeout));
        } catch (IllegalArgumentException | ValidationException e) {
            throw new CliException(ExitCodes.USAGE, e.getMessage());
        }
        ScaleRun.Result result = ScaleRun.run(options, root().out());
        return result.violations().isEmpty() ? ExitCodes.OK : ExitCodes.FAILED;
    }
}
